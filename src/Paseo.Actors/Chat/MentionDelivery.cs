using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Chat;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Chat;

/// <summary>
/// The mentions of one post (app-orchestration.md §1.5): works out the targets (`@everyone` expanded to the agents
/// that are not archived, the author left out), then one <see cref="MentionToAgent"/> child per target; it stops when
/// they have. Unlike Paseo, a mention never un-archives an agent and never interrupts a running turn: it is delivered
/// when the agent is idle (docs/orchestration.md).
/// </summary>
public sealed class MentionDelivery : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly string _author;
    private readonly string _roomSelector;
    private readonly string _body;
    private readonly IReadOnlyList<string> _tokens;
    private readonly TimeSpan _wait;

    public MentionDelivery(IActorRef agents, string author, string roomSelector, string body, IReadOnlyList<string> tokens, TimeSpan wait)
    {
        _agents = agents;
        _author = author;
        _roomSelector = roomSelector;
        _body = body;
        _tokens = tokens;
        _wait = wait;
        Receive<AgentList>(list => Deliver(list.Agents.Where(a => a.ArchivedAt is null).Select(a => a.Id)));
        Receive<Terminated>(_ =>
        {
            if (!Context.GetChildren().Any()) Context.Stop(Self);
        });
    }

    public static Props Props(IActorRef agents, string author, string roomSelector, string body, IReadOnlyList<string> tokens, TimeSpan wait) =>
        Akka.Actor.Props.Create(() => new MentionDelivery(agents, author, roomSelector, body, tokens, wait));

    protected override void PreStart()
    {
        if (_tokens.Contains(ChatMentions.Everyone)) _agents.Tell(ListAgents.Instance);
        else Deliver([]);
    }

    private void Deliver(IEnumerable<string> everyone)
    {
        var targets = _tokens.Where(t => t != ChatMentions.Everyone && t != _author)
            .Concat(everyone.Where(id => id != _author))
            .Distinct().ToList();
        if (targets.Count == 0)
        {
            Context.Stop(Self);
            return;
        }
        var text = ChatMentions.Notification(_author, _roomSelector, targets, _body);
        foreach (var target in targets) Context.Watch(Context.ActorOf(MentionToAgent.Props(_agents, target, text, _wait)));
        _log.Debug("Chat mention from {0} in {1}: {2} targets", _author, _roomSelector, targets.Count);
    }
}

/// <summary>
/// One mention to one agent, as phases: <b>checking</b> the agent (resolved like fetch_agent: id, unique prefix, exact
/// title); if it runs a turn, <b>waiting</b> for that turn's end (then checking again); then <b>sending</b> the text as a
/// prompt. An unknown or archived agent is skipped, and a turn that outlasts paseo.chat.mention-wait drops the mention;
/// each is logged.
/// </summary>
public sealed class MentionToAgent : ReceiveActor, IWithTimers
{
    // An agent waiting on a permission answers a finish wait at once: look again after this long rather than spin.
    private static readonly TimeSpan PermissionRecheck = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly string _target;
    private readonly string _text;
    private readonly DateTimeOffset _deadline;

    public ITimerScheduler Timers { get; set; } = null!;

    public MentionToAgent(IActorRef agents, string target, string text, TimeSpan wait)
    {
        _agents = agents;
        _target = target;
        _text = text;
        _deadline = DateTimeOffset.UtcNow + wait;
        Checking();
    }

    public static Props Props(IActorRef agents, string target, string text, TimeSpan wait) =>
        Akka.Actor.Props.Create(() => new MentionToAgent(agents, target, text, wait));

    protected override void PreStart()
    {
        Timers.StartSingleTimer("deadline", Deadline.Instance, _deadline - DateTimeOffset.UtcNow);
        Check();
    }

    private sealed record Deadline
    {
        public static readonly Deadline Instance = new();
    }

    private sealed record Recheck
    {
        public static readonly Recheck Instance = new();
    }

    private void Check() => _agents.Tell(new ToAgent(_target, GetSnapshot.Instance));

    private void Common()
    {
        Receive<AgentNotFound>(notFound =>
        {
            _log.Info("Chat mention @{0}: {1}; not delivered", _target, notFound.Error);
            Context.Stop(Self);
        });
        Receive<Recheck>(_ => Check());
        Receive<Deadline>(_ =>
        {
            _log.Warning("Chat mention @{0}: the agent was still busy after paseo.chat.mention-wait; not delivered", _target);
            Context.Stop(Self);
        });
    }

    private void Checking()
    {
        Common();
        Receive<AgentSnapshot>(agent =>
        {
            if (agent.ArchivedAt is not null)
            {
                _log.Info("Chat mention @{0}: agent {1} is archived; not delivered (mentions do not un-archive)", _target, agent.Id);
                Context.Stop(Self);
                return;
            }
            if (agent.Status is AgentStatus.Running or AgentStatus.Initializing)
            {
                Become(Waiting);
                var left = _deadline - DateTimeOffset.UtcNow;
                _agents.Tell(new ToAgent(agent.Id, new WaitForFinish(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1))));
                return;
            }
            Become(Sending);
            _agents.Tell(new ToAgent(agent.Id, new SendMessage(_text, null)));
        });
    }

    private void Waiting()
    {
        Common();
        Receive<WaitForwarded>(_ => { });
        Receive<FinishResult>(finished =>
        {
            Become(Checking);
            if (finished.Status == "permission") Timers.StartSingleTimer("recheck", Recheck.Instance, PermissionRecheck);
            else Check();
        });
    }

    private void Sending()
    {
        Common();
        Receive<MessageAccepted>(_ => Context.Stop(Self));
        Receive<CommandResult>(result =>
        {
            if (!result.Accepted) _log.Warning("Chat mention @{0}: the agent refused it: {1}", _target, result.Error);
            Context.Stop(Self);
        });
    }
}
