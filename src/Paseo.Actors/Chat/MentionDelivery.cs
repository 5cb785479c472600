using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Chat;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Chat;

/// <summary>
/// The mentions of one post (app-orchestration.md §1.5), as phases: <b>listing</b> the agents when `@everyone` was
/// mentioned; <b>resolving</b> each token (like fetch_agent: id, unique prefix, exact title); then one
/// <see cref="MentionToAgent"/> child per distinct agent — never the author, whatever token named them — and it stops when
/// they have. Unlike Paseo, a mention never un-archives an agent and never interrupts a running turn: it is delivered
/// when the agent is idle (docs/orchestration.md). Resolving is bounded by a receive timeout.
/// </summary>
public sealed class MentionDelivery : ReceiveActor
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly string _author;
    private readonly string _roomSelector;
    private readonly string _body;
    private readonly IReadOnlyList<string> _tokens;
    private readonly TimeSpan _wait;
    private readonly Dictionary<string, AgentSnapshot> _resolved = [];
    private List<string> _targets = [];
    private int _unanswered;

    public MentionDelivery(IActorRef agents, string author, string roomSelector, string body, IReadOnlyList<string> tokens, TimeSpan wait)
    {
        _agents = agents;
        _author = author;
        _roomSelector = roomSelector;
        _body = body;
        _tokens = tokens;
        _wait = wait;
        Receive<AgentList>(list => Resolve(list.Agents.Where(a => a.ArchivedAt is null).Select(a => a.Id)));
        GiveUpOnTimeout("listing the agents for @everyone");
    }

    public static Props Props(IActorRef agents, string author, string roomSelector, string body, IReadOnlyList<string> tokens, TimeSpan wait) =>
        Akka.Actor.Props.Create(() => new MentionDelivery(agents, author, roomSelector, body, tokens, wait));

    protected override void PreStart()
    {
        Context.SetReceiveTimeout(ResolveTimeout);
        if (_tokens.Contains(ChatMentions.Everyone)) _agents.Tell(ListAgents.Instance);
        else Resolve([]);
    }

    private void GiveUpOnTimeout(string what)
    {
        Receive<ReceiveTimeout>(_ =>
        {
            _log.Warning("Chat mentions from {0} in {1}: no answer while {2}; not delivered", _author, _roomSelector, what);
            Context.Stop(Self);
        });
        Receive<Status.Failure>(failure =>
        {
            _log.Warning("Chat mentions from {0} in {1}: {2} failed ({3}); not delivered", _author, _roomSelector, what, failure.Cause.Message);
            Context.Stop(Self);
        });
    }

    private void Resolve(IEnumerable<string> everyone)
    {
        _targets = _tokens.Where(t => t != ChatMentions.Everyone && t != _author).Concat(everyone.Where(id => id != _author)).Distinct().ToList();
        if (_targets.Count == 0)
        {
            Context.Stop(Self);
            return;
        }
        _unanswered = _targets.Count;
        Become(Resolving);
        foreach (var target in _targets) _agents.Tell(new ToAgent(target, GetSnapshot.Instance));
    }

    private void Resolving()
    {
        Receive<AgentSnapshot>(agent =>
        {
            _resolved[agent.Id] = agent;
            Answered();
        });
        Receive<AgentNotFound>(notFound =>
        {
            _log.Info("Chat mention @{0}: {1}; not delivered", notFound.Identifier, notFound.Error);
            Answered();
        });
        GiveUpOnTimeout("resolving the mentioned agents");
    }

    private void Answered()
    {
        if (--_unanswered > 0) return;
        Context.SetReceiveTimeout(null);
        var text = ChatMentions.Notification(_author, _roomSelector, _targets, _body);
        // One delivery per agent, however many tokens named it; the author's own id (a prefix or title of it too) is skipped.
        foreach (var agent in _resolved.Values.Where(a => a.Id != _author))
        {
            if (agent.ArchivedAt is not null)
            {
                _log.Info("Chat mention of agent {0}: archived; not delivered (mentions do not un-archive)", agent.Id);
                continue;
            }
            Context.Watch(Context.ActorOf(MentionToAgent.Props(_agents, agent.Id, text, _wait)));
        }
        Become(Delivering);
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }

    private void Delivering()
    {
        Receive<Terminated>(_ =>
        {
            if (!Context.GetChildren().Any()) Context.Stop(Self);
        });
    }
}

/// <summary>
/// One mention to one agent, by its resolved id, as phases: <b>offering</b> the prompt (<see cref="SendMessageIfIdle"/>:
/// the agent starts it only if idle and not archived, in one step), and while the agent is busy <b>waiting</b> for its
/// turn's end, then offering again. A turn that outlasts paseo.chat.mention-wait drops the mention (logged).
/// </summary>
public sealed class MentionToAgent : ReceiveActor, IWithTimers
{
    // An agent waiting on a permission answers a finish wait at once: look again after this long rather than spin.
    private static readonly TimeSpan PermissionRecheck = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly string _agentId;
    private readonly string _text;
    private readonly TimeSpan _wait;
    private DateTimeOffset _deadline;

    public ITimerScheduler Timers { get; set; } = null!;

    public MentionToAgent(IActorRef agents, string agentId, string text, TimeSpan wait)
    {
        _agents = agents;
        _agentId = agentId;
        _text = text;
        _wait = wait;
        Offering();
    }

    public static Props Props(IActorRef agents, string agentId, string text, TimeSpan wait) =>
        Akka.Actor.Props.Create(() => new MentionToAgent(agents, agentId, text, wait));

    protected override void PreStart()
    {
        _deadline = DateTimeOffset.UtcNow + _wait;
        Timers.StartSingleTimer("deadline", Deadline.Instance, _wait);
        Offer();
    }

    private sealed record Deadline
    {
        public static readonly Deadline Instance = new();
    }

    private sealed record Recheck
    {
        public static readonly Recheck Instance = new();
    }

    private void Offer() => _agents.Tell(new ToAgent(_agentId, new SendMessageIfIdle(_text)));

    private void Common()
    {
        Receive<AgentNotFound>(notFound =>
        {
            _log.Info("Chat mention of agent {0}: {1}; not delivered", _agentId, notFound.Error);
            Context.Stop(Self);
        });
        Receive<Deadline>(_ =>
        {
            _log.Warning("Chat mention of agent {0}: still busy after paseo.chat.mention-wait; not delivered", _agentId);
            Context.Stop(Self);
        });
        Receive<Recheck>(_ =>
        {
            Become(Offering);
            Offer();
        });
    }

    private void Offering()
    {
        Common();
        Receive<MessageAccepted>(_ => Context.Stop(Self));
        Receive<CommandResult>(result =>
        {
            _log.Info("Chat mention of agent {0}: {1}; not delivered", _agentId, result.Error);
            Context.Stop(Self);
        });
        Receive<AgentBusy>(_ =>
        {
            Become(Waiting);
            var left = _deadline - DateTimeOffset.UtcNow;
            _agents.Tell(new ToAgent(_agentId, new WaitForFinish(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1))));
        });
    }

    private void Waiting()
    {
        Common();
        Receive<WaitForwarded>(_ => { });
        Receive<FinishResult>(finished =>
        {
            if (finished.Status == "permission") Timers.StartSingleTimer("recheck", Recheck.Instance, PermissionRecheck);
            else
            {
                Become(Offering);
                Offer();
            }
        });
    }
}
