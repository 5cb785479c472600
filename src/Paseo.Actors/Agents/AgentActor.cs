using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Agents;

/// <summary>
/// One agent (`agents/agent-&lt;id&gt;`): its lifecycle as <see cref="AgentPhase"/>s, its timeline, pending permissions
/// and attention, and its `provider-N` child (the provider session). It commits every timeline row, publishes
/// agent_stream events and state changes on the event stream, and hands every change to the store. A stored agent is
/// not started until something needs it (a prompt): until then it answers from its record.
/// <para>
/// Each phase is a behaviour (<see cref="Behaviour"/>): the commands whose handling depends on the phase — send,
/// cancel, archive, delete, refresh, model and thinking changes, wait_for_finish — are registered per phase, the rest
/// in <see cref="Common"/>. Every phase change goes through <see cref="TransitionTo"/>, which refuses one the table
/// does not list. The status clients see is derived: running while a turn runs, otherwise how the last turn settled.
/// </para>
/// </summary>
public sealed partial class AgentActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly AgentId _id;
    private readonly IAgentProvider? _provider;
    private readonly IActorRef _store;
    private readonly TimeProvider _time;
    private readonly AgentTimeline _timeline;
    // Immutable JSON (JsonElement) for what snapshots carry to other actors.
    private readonly Dictionary<string, JsonElement> _pendingPermissions = [];
    // Who waits for the next run to start, and what to answer them (MessageAccepted, or AgentCreated for a new agent).
    private readonly List<(IActorRef Who, Func<object> Answer)> _sendWaiters = [];
    private readonly List<IActorRef> _cancelWaiters = [];
    // wait_for_finish: who waits (watched: a session that stops is forgotten) and the wait id it is answered with.
    private readonly Dictionary<int, (IActorRef Who, long WaitId)> _finishWaiters = [];
    private readonly int _maxWaiters;
    private readonly StringBuilder _turnText = new();
    private readonly StringBuilder _pendingDelta = new();
    private readonly bool _coalesce;
    private readonly TimeSpan _writeDelay;
    private readonly TimeSpan _mergeWindow;
    // Streamed rows not handed to the store yet: for at most timeline-write-delay, and fewer than half the rows kept in
    // memory (a fetch reaching past memory reads the file, which must already hold every row memory has let go).
    private List<TimelineRow>? _unwritten;
    private readonly int _maxUnwritten;
    private bool _flushQueued;
    private string? _pendingDeltaType;
    private AgentRecord _record;
    private AgentPhase _phase;
    // How the last turn settled (idle, error; closed for a stored agent not started since the daemon restarted): the
    // status clients see whenever no turn is running.
    private AgentStatus _settled;
    private JsonElement? _lastUsage;
    private JsonElement? _runtimeInfo;
    private IActorRef? _session;
    private string? _lastTurnMessage;
    private int _nextWaiter;
    private readonly bool _isNew;
    // An internal agent's observer (a loop): it alone sees the agent's events; nothing is stored or published. Cleared
    // when the agent is archived, which makes it an ordinary stored agent.
    private IActorRef? _observer;
    // A model or thinking change waits for the running turn to end, then the provider process is rebuilt (resumed).
    private bool _rebuildSession;
    private int _sessionGeneration;

    public ITimerScheduler Timers { get; set; } = null!;

    public AgentActor(AgentRecord record, IReadOnlyList<TimelineRow> storedRows, IAgentProvider? provider, IActorRef store, TimeProvider time, AgentLimits limits,
        bool isNew = false, long? firstSeqOnDisk = null, IActorRef? observer = null)
    {
        _observer = observer;
        if (observer is not null) Context.Watch(observer);
        _coalesce = limits.CoalesceStreamDeltas;
        _writeDelay = limits.TimelineWriteDelay;
        _mergeWindow = limits.StreamMergeWindow;
        _maxUnwritten = Math.Clamp(limits.TimelineMemoryRows / 2, 1, 256);
        _maxWaiters = limits.MaxWaitersPerAgent;
        _id = AgentId.From(record.Id);
        _isNew = isNew;
        _record = record;
        _provider = provider;
        _store = store;
        _time = time;
        // A new epoch per daemon process: clients holding a cursor from the last run get reset + staleCursor.
        // Memory keeps the newest rows; the timeline file keeps up to the retention, read when a fetch reaches further.
        _timeline = new AgentTimeline(Guid.NewGuid().ToString("D"), limits.TimelineMemoryRows);
        _timeline.Restore(storedRows, firstSeqOnDisk);
        _settled = record.LastStatus is AgentStatus.Running or AgentStatus.Initializing ? AgentStatus.Closed : record.LastStatus;
        _phase = provider is null ? AgentPhase.Unavailable : AgentPhase.Dormant;
        Become(Behaviour(_phase));
    }

    /// <summary>
    /// The phases of an agent. Unavailable: its provider is not registered (it answers from its record, refuses to run).
    /// Dormant: no provider session (a stored agent, or one whose session ended). Idle: a session and no turn. Starting: a
    /// prompt was sent, the turn has not started. Running: a turn runs. Replacing: a prompt was sent while a turn ran;
    /// that turn ends (canceled) and the new one starts.
    /// </summary>
    public enum AgentPhase { Unavailable, Dormant, Idle, Starting, Running, Replacing }

    // The phase changes that can happen; anything else is a bug, refused by TransitionTo.
    private static readonly IReadOnlyDictionary<AgentPhase, AgentPhase[]> Transitions = new Dictionary<AgentPhase, AgentPhase[]>
    {
        [AgentPhase.Unavailable] = [],
        [AgentPhase.Dormant] = [AgentPhase.Idle],
        // Running without a prompt: Claude starts a turn by itself when a background task it ran finishes.
        [AgentPhase.Idle] = [AgentPhase.Starting, AgentPhase.Running, AgentPhase.Dormant],
        [AgentPhase.Starting] = [AgentPhase.Running, AgentPhase.Idle, AgentPhase.Dormant],
        [AgentPhase.Running] = [AgentPhase.Idle, AgentPhase.Replacing, AgentPhase.Dormant],
        [AgentPhase.Replacing] = [AgentPhase.Starting, AgentPhase.Running, AgentPhase.Idle, AgentPhase.Dormant],
    };

    /// <summary>The one place the phase changes; staying in the same phase is no change.</summary>
    private void TransitionTo(AgentPhase next)
    {
        if (next == _phase) return;
        if (!Transitions[_phase].Contains(next)) throw new InvalidOperationException($"Agent {_id.Value}: no transition from {_phase} to {next}");
        _phase = next;
        Become(Behaviour(next));
    }

    /// <summary>For the specs: the phase the agent is in.</summary>
    internal sealed record GetPhase
    {
        public static readonly GetPhase Instance = new();
    }

    private Action Behaviour(AgentPhase phase) => phase switch
    {
        AgentPhase.Unavailable => Unavailable,
        AgentPhase.Dormant => Dormant,
        AgentPhase.Idle => Idle,
        AgentPhase.Starting => Starting,
        _ => Running, // Running and Replacing take commands alike; they differ in how the turn's end is handled (EndTurn)
    };

    /// <summary>No provider: nothing can run; the agent answers from its record.</summary>
    private void Unavailable()
    {
        Receive<StartNew>(_ => Sender.Tell(new AgentCreateFailed($"Provider {_record.Provider} is not available")));
        Receive<SendMessage>(_ => Sender.Tell(new CommandResult(_id, false, $"Provider {_record.Provider} is not available")));
        Receive<SendMessageIfIdle>(_ => Sender.Tell(new CommandResult(_id, false, $"Provider {_record.Provider} is not available")));
        Receive<RefreshAgent>(_ => Sender.Tell(new CommandResult(_id, false, $"Agent {_id.Value} references unavailable provider '{_record.Provider}'")));
        Receive<SetAgentModel>(_ => Sender.Tell(new CommandResult(_id, false, $"Provider {_record.Provider} is not available")));
        Receive<SetAgentThinking>(_ => Sender.Tell(new CommandResult(_id, false, $"Provider {_record.Provider} is not available")));
        NoTurnToEnd();
        Common();
    }

    /// <summary>No provider session: the next prompt (or a refresh) starts one.</summary>
    private void Dormant()
    {
        ReceiveRunCommands();
        Receive<RefreshAgent>(_ =>
        {
            Unarchive();
            EnsureSession();
            Changed();
            Sender.Tell(new AgentRefreshed(Snapshot(), _timeline.NextSeq));
        });
        // No session to rebuild: the next one starts with the new settings.
        Receive<SetAgentModel>(set => OnSetModel(set, rebuild: false));
        Receive<SetAgentThinking>(set => OnSetThinking(set, rebuild: false));
        NoTurnToEnd();
        Common();
    }

    /// <summary>A provider session and no turn.</summary>
    private void Idle()
    {
        ReceiveRunCommands();
        Receive<RefreshAgent>(_ =>
        {
            // The session is started again from its handle (it reads the conversation anew).
            Unarchive();
            StopSession();
            EnsureSession();
            Changed();
            Sender.Tell(new AgentRefreshed(Snapshot(), _timeline.NextSeq));
        });
        // A CLI takes its model and thinking at start: the session is stopped now, and the next prompt starts one with them.
        Receive<SetAgentModel>(set => OnSetModel(set, rebuild: true));
        Receive<SetAgentThinking>(set => OnSetThinking(set, rebuild: true));
        NoTurnToEnd();
        Common();
    }

    /// <summary>A prompt was sent; its turn has not started. Changes that rebuild the session wait for the turn to end.</summary>
    private void Starting()
    {
        ReceiveRunCommands();
        Receive<RefreshAgent>(_ =>
        {
            Unarchive();
            _rebuildSession = true;
            Changed();
            Sender.Tell(new AgentRefreshed(Snapshot(), _timeline.NextSeq));
        });
        Receive<SetAgentModel>(set => OnSetModel(set, rebuild: true));
        Receive<SetAgentThinking>(set => OnSetThinking(set, rebuild: true));
        Receive<Cancel>(_ => Sender.Tell(Snapshot()));
        Receive<Archive>(_ => OnArchive());
        Receive<Delete>(_ => OnDelete());
        Receive<WaitForFinish>(OnWaitForFinish);
        Common();
    }

    /// <summary>A turn runs (Running), or is being replaced by a new prompt (Replacing).</summary>
    private void Running()
    {
        ReceiveRunCommands();
        Receive<RefreshAgent>(_ =>
        {
            // The turn ends first; the session is started again from its handle after it.
            Unarchive();
            _session?.Tell(Interrupt.Instance);
            _rebuildSession = true;
            Sender.Tell(new AgentRefreshed(Snapshot(), _timeline.NextSeq));
        });
        Receive<SetAgentModel>(set => OnSetModel(set, rebuild: true));
        Receive<SetAgentThinking>(set => OnSetThinking(set, rebuild: true));
        Receive<Cancel>(_ =>
        {
            // Beyond max-waiters the interrupt is still asked (it already is), and the answer is the agent as it is now.
            if (_cancelWaiters.Count >= _maxWaiters)
            {
                Sender.Tell(Snapshot());
                return;
            }
            _cancelWaiters.Add(Sender);
            _session!.Tell(Interrupt.Instance);
        });
        Receive<Archive>(_ =>
        {
            _session?.Tell(Interrupt.Instance);
            OnArchive();
        });
        Receive<Delete>(_ =>
        {
            _session?.Tell(Interrupt.Instance);
            OnDelete();
        });
        Receive<WaitForFinish>(OnWaitForFinish);
        Common();
    }

    /// <summary>The commands that start a turn: a new agent's first prompt, a message.</summary>
    private void ReceiveRunCommands()
    {
        Receive<StartNew>(start =>
        {
            Save();
            Changed();
            if (start.InitialPrompt is null)
            {
                Sender.Tell(new AgentCreated(Snapshot()));
                return;
            }
            var creator = Sender;
            Run(start.InitialPrompt, start.MessageId, start.Images, (creator, () => new AgentCreated(Snapshot())));
        });
        Receive<SendMessage>(send =>
        {
            if (_sendWaiters.Count >= _maxWaiters)
            {
                Sender.Tell(new CommandResult(_id, false, $"Too many messages wait for this agent's run to start ({_maxWaiters}, paseo.agents.max-waiters-per-agent); try again"));
                return;
            }
            Run(send.Text, send.MessageId, send.Images, (Sender, () => new MessageAccepted(_id)), send.Recorded);
        });
        Receive<SendMessageIfIdle>(send =>
        {
            if (_record.ArchivedAt is not null) Sender.Tell(new CommandResult(_id, false, $"Agent {_id.Value} is archived"));
            else if (_phase is AgentPhase.Starting or AgentPhase.Running or AgentPhase.Replacing) Sender.Tell(new AgentBusy(_id));
            else if (_sendWaiters.Count >= _maxWaiters)
                Sender.Tell(new CommandResult(_id, false, $"Too many messages wait for this agent's run to start ({_maxWaiters}, paseo.agents.max-waiters-per-agent); try again"));
            else Run(send.Text, null, null, (Sender, () => new MessageAccepted(_id)));
        });
    }

    /// <summary>The commands of a phase without a turn: cancel has nothing to stop, a wait is answered at once.</summary>
    private void NoTurnToEnd()
    {
        Receive<Cancel>(_ => Sender.Tell(Snapshot()));
        Receive<Archive>(_ => OnArchive());
        Receive<Delete>(_ => OnDelete());
        Receive<WaitForFinish>(wait => Sender.Tell(_pendingPermissions.Count > 0
            ? new FinishResult("permission", Snapshot(), null, _lastTurnMessage, wait.WaitId)
            : Finished() with { WaitId = wait.WaitId }));
    }

    /// <summary>What every phase handles alike.</summary>
    private void Common()
    {
        Receive<GetPhase>(_ => Sender.Tell(_phase));
        Receive<GetSnapshot>(_ => Sender.Tell(Snapshot()));
        Receive<ReportToolCall>(report =>
        {
            if (report.Commit) Commit(JsonObject.Create(report.Item)!);
            else Publish(new JsonObject { ["type"] = "timeline", ["provider"] = _record.Provider, ["item"] = JsonObject.Create(report.Item) });
        });
        Receive<FetchTimeline>(OnFetchTimeline);
        Receive<AgentStoreProtocol.TimelineCompacted>(compacted => _timeline.DropBefore(compacted.FirstSeq));
        Receive<FinishTimedOut>(timedOut =>
        {
            if (_finishWaiters.Remove(timedOut.Waiter, out var waiter))
            {
                waiter.Who.Tell(new FinishResult("timeout", Snapshot(), null, null, waiter.WaitId));
                UnwatchIfDone(waiter.Who);
            }
        });
        Receive<RespondToPermission>(OnPermissionResponse);
        Receive<CloseSession>(_ =>
        {
            // A turn still going is ended first (its waiters answered), as a cancel would.
            if (_phase is AgentPhase.Starting or AgentPhase.Running or AgentPhase.Replacing)
            {
                _session?.Tell(Interrupt.Instance);
                OnProviderEvent(new TurnCanceled("Agent terminated"));
            }
            if (_session is not null) StopSession();
            foreach (var (who, _) in _sendWaiters) who.Tell(new CommandResult(_id, false, "The agent was terminated"));
            _sendWaiters.Clear();
            if (_provider is not null && _settled != AgentStatus.Closed)
            {
                _settled = AgentStatus.Closed;
                Change(_record with { LastStatus = AgentStatus.Closed, UpdatedAt = Now });
            }
            Sender.Tell(Snapshot());
        });
        Receive<SetAgentMode>(OnSetMode);
        Receive<UpdateAgent>(OnUpdate);
        Receive<ClearAttention>(_ =>
        {
            if (_record.RequiresAttention) Change(_record with { RequiresAttention = false, AttentionReason = null, AttentionTimestamp = null });
            Sender.Tell(Snapshot());
        });
        Receive<ProviderEvent>(providerEvent =>
        {
            // A session that was replaced (model/thinking change) may still say something on its way out: its last
            // timeline rows are kept, but it no longer moves the agent's turn (that is the current session's).
            if (!Sender.Equals(_session) && providerEvent is not Timeline) return;
            OnProviderEvent(providerEvent);
        });
        Receive<CoalesceDue>(_ =>
        {
            _flushQueued = false;
            FlushDeltas();
        });
        Receive<WriteRowsDue>(_ => WriteRows());
        Receive<Terminated>(terminated =>
        {
            if (_observer is not null && terminated.ActorRef.Equals(_observer))
            {
                // An internal agent lives only as long as the loop that made it.
                Context.Stop(Self);
                return;
            }
            if (!terminated.ActorRef.Equals(_session))
            {
                // A client that waited for the finish is gone: nobody is left to answer.
                foreach (var key in _finishWaiters.Where(w => w.Value.Who.Equals(terminated.ActorRef)).Select(w => w.Key).ToList())
                {
                    _finishWaiters.Remove(key);
                    Timers.Cancel(("finish", key));
                }
                return;
            }
            // The provider session stopped (its CLI died, or it failed): a turn it had is failed; the next prompt starts a new one.
            _session = null;
            _rebuildSession = false; // the next session starts with the current settings anyway
            if (_phase is AgentPhase.Starting or AgentPhase.Running or AgentPhase.Replacing) OnProviderEvent(new TurnFailed("The provider session stopped unexpectedly"));
            TransitionTo(AgentPhase.Dormant);
        });
    }

    public static Props Props(AgentRecord record, IReadOnlyList<TimelineRow> storedRows, IAgentProvider? provider, IActorRef store, TimeProvider time, AgentLimits limits,
        bool isNew = false, long? firstSeqOnDisk = null, IActorRef? observer = null) =>
        Akka.Actor.Props.Create(() => new AgentActor(record, storedRows, provider, store, time, limits, isNew, firstSeqOnDisk, observer));

    // A provider session that throws is stopped (DeathWatch turns that into a failed turn); the agent lives on.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    private DateTimeOffset Now => _time.GetUtcNow();

    private bool Live => _session is not null;

    private IReadOnlyList<AgentMode> _discoveredModes = [];

    private IReadOnlyList<AgentMode> Modes => _discoveredModes.Count > 0 ? _discoveredModes : _provider?.Description.Modes ?? [];

    /// <summary>Un-archives, records the user message, and starts the run; the waiter is answered when it has started.</summary>
    private void Run(string prompt, string? messageId, IReadOnlyList<PromptImage>? images, (IActorRef Who, Func<object> Answer) waiter, bool recorded = true)
    {
        var now = Now;
        _record = recorded ? _record with { LastUserMessageAt = now, UpdatedAt = now, ArchivedAt = null } : _record with { UpdatedAt = now, ArchivedAt = null };
        if (recorded) Commit(TimelineItems.UserMessage(prompt, messageId));
        EnsureSession();
        // A running turn ends (canceled) before the new one starts: the waiter is answered by the new turn's start.
        TransitionTo(_phase is AgentPhase.Running or AgentPhase.Replacing ? AgentPhase.Replacing : AgentPhase.Starting);
        _sendWaiters.Add(waiter);
        _session!.Tell(new RunTurn(prompt, images));
        Save();
    }

    /// <summary>Nobody is left waiting on a stopped agent (deleted, or the daemon stopping).</summary>
    protected override void PostStop()
    {
        WriteRows();
        foreach (var (who, _) in _sendWaiters) who.Tell(new CommandResult(_id, false, "The agent was stopped"));
        foreach (var waiter in _cancelWaiters) waiter.Tell(Snapshot());
        foreach (var waiter in _finishWaiters.Values) waiter.Who.Tell(new FinishResult("error", Snapshot(), "The agent was stopped", _lastTurnMessage, waiter.WaitId));
        _sendWaiters.Clear();
        _cancelWaiters.Clear();
        _finishWaiters.Clear();
    }

    protected override void PreStart()
    {
        // A new agent is live at once (Paseo creates its provider session on create); a stored one waits for a prompt.
        if (_isNew && _phase == AgentPhase.Dormant) EnsureSession();
    }

    private void EnsureSession()
    {
        if (_session is not null) return;
        _session = Context.ActorOf(_provider!.SessionProps(new ProviderSessionConfig(_id.Value, _record.Cwd, _record.Model, _record.LastModeId, _record.ThinkingOptionId, null,
            _record.SessionId, Mcp.DaemonMcp.Get(Context.System).EntryFor(_id.Value))), $"provider-{++_sessionGeneration}");
        Context.Watch(_session);
        if (_settled is AgentStatus.Closed) _settled = AgentStatus.Idle;
        TransitionTo(AgentPhase.Idle);
    }

    /// <summary>Stops the provider session of an idle agent (its process ends); the next prompt starts a new one.</summary>
    private void StopSession()
    {
        _rebuildSession = false;
        if (_session is null) return;
        Context.Unwatch(_session);
        Context.Stop(_session);
        _session = null;
        _discoveredModes = [];
        TransitionTo(AgentPhase.Dormant);
    }

    private sealed record FinishTimedOut(int Waiter) : INoSerializationVerificationNeeded;

    private sealed record WriteRowsDue : INoSerializationVerificationNeeded
    {
        public static readonly WriteRowsDue Instance = new();
    }

    private sealed record CoalesceDue : INoSerializationVerificationNeeded
    {
        public static readonly CoalesceDue Instance = new();
    }

    /// <summary>From the supervisor, once, for a new agent: save it and run the initial prompt; answered with AgentCreated.</summary>
    internal sealed record StartNew(string? InitialPrompt, string? MessageId, IReadOnlyList<PromptImage>? Images = null);
}
