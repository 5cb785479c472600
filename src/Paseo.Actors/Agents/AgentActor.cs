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
public sealed class AgentActor : ReceiveActor, IWithTimers
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
    // A model or thinking change waits for the running turn to end, then the provider process is rebuilt (resumed).
    private bool _rebuildSession;
    private int _sessionGeneration;

    public ITimerScheduler Timers { get; set; } = null!;

    public AgentActor(AgentRecord record, IReadOnlyList<TimelineRow> storedRows, IAgentProvider? provider, IActorRef store, TimeProvider time, AgentLimits limits,
        bool isNew = false, long? firstSeqOnDisk = null)
    {
        _coalesce = limits.CoalesceStreamDeltas;
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
            Run(send.Text, send.MessageId, send.Images, (Sender, () => new MessageAccepted(_id)));
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
        Receive<Terminated>(terminated =>
        {
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
        bool isNew = false, long? firstSeqOnDisk = null) =>
        Akka.Actor.Props.Create(() => new AgentActor(record, storedRows, provider, store, time, limits, isNew, firstSeqOnDisk));

    // A provider session that throws is stopped (DeathWatch turns that into a failed turn); the agent lives on.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    private DateTimeOffset Now => _time.GetUtcNow();

    private bool Live => _session is not null;

    private IReadOnlyList<AgentMode> _discoveredModes = [];

    private IReadOnlyList<AgentMode> Modes => _discoveredModes.Count > 0 ? _discoveredModes : _provider?.Description.Modes ?? [];

    /// <summary>Un-archives, records the user message, and starts the run; the waiter is answered when it has started.</summary>
    private void Run(string prompt, string? messageId, IReadOnlyList<PromptImage>? images, (IActorRef Who, Func<object> Answer) waiter)
    {
        var now = Now;
        _record = _record with { LastUserMessageAt = now, UpdatedAt = now, ArchivedAt = null };
        Commit(TimelineItems.UserMessage(prompt, messageId));
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
            _record.SessionId)), $"provider-{++_sessionGeneration}");
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

    private void Unarchive()
    {
        if (_record.ArchivedAt is not null) Change(_record with { ArchivedAt = null, UpdatedAt = Now });
    }

    private void OnArchive()
    {
        var archivedAt = _record.ArchivedAt ?? Now;
        Change(_record with { ArchivedAt = archivedAt, RequiresAttention = false, AttentionReason = null, AttentionTimestamp = null, UpdatedAt = Now });
        Sender.Tell(new Archived(_id, archivedAt));
    }

    private void OnDelete()
    {
        _store.Tell(new AgentStoreProtocol.DeleteAgent(_id.Value, _record.Cwd, Sender, new Deleted(_id), new AgentRemoved(_id)));
        Context.Stop(Self);
    }

    private void OnFetchTimeline(FetchTimeline fetch)
    {
        var snapshot = Snapshot();
        if (_timeline.CanAnswer(fetch.Query))
        {
            Sender.Tell(new TimelinePage(snapshot, _timeline.Fetch(fetch.Query, _record.Provider, fetch.ReasoningMergeEnum)));
            return;
        }
        // Older rows than memory keeps: read the file (on the store's thread) and answer from it plus the rows not yet written.
        var epoch = _timeline.Epoch;
        var provider = _record.Provider;
        var inMemory = _timeline.Rows.ToList();
        _store.Ask<AgentStoreProtocol.TimelineRead>(new AgentStoreProtocol.ReadTimeline(_id.Value, _record.Cwd), TimeSpan.FromSeconds(8))
            .PipeTo(Sender, success: read =>
            {
                var full = new AgentTimeline(epoch);
                var lastOnDisk = read.Rows.Count > 0 ? read.Rows[^1].Seq : 0;
                full.Restore(read.Rows.Concat(inMemory.Where(r => r.Seq > lastOnDisk)));
                return new TimelinePage(snapshot, full.Fetch(fetch.Query, provider, fetch.ReasoningMergeEnum));
            });
    }

    private void OnWaitForFinish(WaitForFinish wait)
    {
        if (_pendingPermissions.Count > 0)
        {
            Sender.Tell(new FinishResult("permission", Snapshot(), null, _lastTurnMessage, wait.WaitId));
            return;
        }
        if (_finishWaiters.Count >= _maxWaiters)
        {
            Sender.Tell(new FinishResult("error", Snapshot(), $"Too many clients wait for this agent ({_maxWaiters}, paseo.agents.max-waiters-per-agent)", _lastTurnMessage, wait.WaitId));
            return;
        }
        var waiter = ++_nextWaiter;
        if (_finishWaiters.Values.All(w => !w.Who.Equals(Sender))) Context.Watch(Sender);
        _finishWaiters[waiter] = (Sender, wait.WaitId);
        if (wait.Timeout is { } timeout) Timers.StartSingleTimer(("finish", waiter), new FinishTimedOut(waiter), timeout);
    }

    private FinishResult Finished() => _settled == AgentStatus.Error
        ? new FinishResult("error", Snapshot(), _record.LastError ?? "Agent failed", _lastTurnMessage)
        : new FinishResult("idle", Snapshot(), null, _lastTurnMessage);

    /// <summary>Every finish waiter gets <paramref name="result"/> (with its own wait id), and none is watched any more.</summary>
    private void ReleaseFinishWaiters(FinishResult result)
    {
        foreach (var (key, waiter) in _finishWaiters)
        {
            Timers.Cancel(("finish", key));
            waiter.Who.Tell(result with { WaitId = waiter.WaitId });
        }
        foreach (var who in _finishWaiters.Values.Select(w => w.Who).Distinct()) Context.Unwatch(who);
        _finishWaiters.Clear();
    }

    private void UnwatchIfDone(IActorRef who)
    {
        if (_finishWaiters.Values.All(w => !w.Who.Equals(who))) Context.Unwatch(who);
    }

    private void OnPermissionResponse(RespondToPermission response)
    {
        if (!_pendingPermissions.Remove(response.RequestId))
        {
            Sender.Tell(new CommandResult(_id, false, $"No pending permission request {response.RequestId}"));
            return;
        }
        Publish(new JsonObject
        {
            ["type"] = "permission_resolved",
            ["provider"] = _record.Provider,
            ["requestId"] = response.RequestId,
            ["resolution"] = JsonObject.Create(response.Resolution),
        });
        _session?.Tell(new ResolvePermission(response.RequestId, JsonObject.Create(response.Resolution)!));
        if (_pendingPermissions.Count == 0 && _record.AttentionReason == "permission")
            Change(_record with { RequiresAttention = false, AttentionReason = null, AttentionTimestamp = null });
        else Changed();
        Sender.Tell(new CommandResult(_id, true, null));
    }

    private void OnSetMode(SetAgentMode set)
    {
        if (_provider is null || Modes.All(m => m.Id != set.ModeId))
        {
            Sender.Tell(new CommandResult(_id, false, $"Unknown mode {set.ModeId} for provider {_record.Provider}"));
            return;
        }
        Change(_record with { LastModeId = set.ModeId, UpdatedAt = Now });
        _session?.Tell(new SetMode(set.ModeId));
        Sender.Tell(new CommandResult(_id, true, null));
    }

    /// <param name="rebuild">The agent has a provider session, which must be rebuilt for the change (see <see cref="RebuildSession"/>).</param>
    private void OnSetModel(SetAgentModel set, bool rebuild)
    {
        var model = string.IsNullOrWhiteSpace(set.ModelId) ? null : set.ModelId.Trim();
        var known = _provider!.Description.Models.Select(m => WsInbound.Str(m, "id")).OfType<string>().ToList();
        if (model is not null && !_provider.DiscoversModels && known.Count > 0 && !known.Contains(model))
        {
            Sender.Tell(new CommandResult(_id, false,
                $"Unknown model {model} for provider {_record.Provider} (known: {string.Join(", ", known)}; add it with agents.providers.{_record.Provider}.additionalModels)"));
            return;
        }
        if (model != _record.Model)
        {
            Change(_record with { Model = model, UpdatedAt = Now });
            if (rebuild) RebuildSession();
        }
        Sender.Tell(new CommandResult(_id, true, null));
    }

    private void OnSetThinking(SetAgentThinking set, bool rebuild)
    {
        var thinking = string.IsNullOrWhiteSpace(set.ThinkingOptionId) ? null : set.ThinkingOptionId.Trim();
        if (thinking != _record.ThinkingOptionId)
        {
            Change(_record with { ThinkingOptionId = thinking, UpdatedAt = Now });
            if (rebuild) RebuildSession();
        }
        Sender.Tell(new CommandResult(_id, true, null));
    }

    /// <summary>
    /// A CLI takes its model and thinking at start: the provider session is stopped — now when idle, after the turn
    /// otherwise — and the next prompt starts a new one with the new settings, resuming the conversation from the
    /// persistence handle. (Lazily: several changes in a row start one process, not one each.)
    /// </summary>
    private void RebuildSession()
    {
        if (_phase == AgentPhase.Idle) StopSession();
        else _rebuildSession = true;
    }

    private void OnUpdate(UpdateAgent update)
    {
        var name = string.IsNullOrWhiteSpace(update.Name) ? null : update.Name.Trim();
        if (name is null && (update.Labels is null || update.Labels.Count == 0))
        {
            Sender.Tell(new CommandResult(_id, false, "Nothing to update (provide name and/or labels)"));
            return;
        }
        var labels = new Dictionary<string, string>(_record.Labels);
        if (update.Labels is not null) foreach (var (k, v) in update.Labels) labels[k] = v;
        Change(_record with { Title = name ?? _record.Title, Labels = labels, UpdatedAt = Now });
        Sender.Tell(new CommandResult(_id, true, null));
    }

    private void OnProviderEvent(ProviderEvent providerEvent)
    {
        // Text deltas wait at most one window; anything else from the provider comes after them, in order.
        if (providerEvent is not Timeline) FlushDeltas();
        switch (providerEvent)
        {
            case ThreadStarted started:
                var persistence = new JsonObject { ["provider"] = _record.Provider, ["sessionId"] = started.SessionId, ["nativeHandle"] = started.SessionId };
                _runtimeInfo = JsonSerializer.SerializeToElement(new JsonObject
                {
                    ["provider"] = _record.Provider, ["sessionId"] = started.SessionId, ["model"] = _record.Model, ["modeId"] = _record.LastModeId,
                });
                _record = _record with { Persistence = JsonSerializer.SerializeToElement(persistence) };
                Publish(new JsonObject { ["type"] = "thread_started", ["sessionId"] = started.SessionId, ["provider"] = _record.Provider });
                Save();
                break;
            case TurnStarted:
                _turnText.Clear();
                TransitionTo(AgentPhase.Running);
                Publish(new JsonObject { ["type"] = "turn_started", ["provider"] = _record.Provider });
                Change(_record with { LastStatus = AgentStatus.Running, UpdatedAt = Now });
                AnswerSendWaiters();
                break;
            case Timeline timeline:
                var itemType = WsInbound.Str(timeline.Item, "type");
                if (itemType == "assistant_message") AppendTurnText(WsInbound.Str(timeline.Item, "text"));
                if (itemType is "assistant_message" or "reasoning" && _coalesce)
                {
                    Coalesce(itemType, WsInbound.Str(timeline.Item, "text") ?? "");
                    break;
                }
                FlushDeltas();
                Commit(timeline.Item);
                break;
            case PermissionRequested requested when WsInbound.Str(requested.Request, "id") is { } requestId:
                _pendingPermissions[requestId] = JsonSerializer.SerializeToElement(requested.Request);
                Publish(new JsonObject { ["type"] = "permission_requested", ["provider"] = _record.Provider, ["request"] = requested.Request.DeepClone() });
                SetAttention("permission");
                ReleaseFinishWaiters(new FinishResult("permission", Snapshot(), null, _lastTurnMessage));
                break;
            case TurnCompleted completed:
                _lastUsage = completed.Usage is null ? null : JsonSerializer.SerializeToElement(completed.Usage);
                var completedEvent = new JsonObject { ["type"] = "turn_completed", ["provider"] = _record.Provider };
                if (completed.Usage is not null) completedEvent["usage"] = completed.Usage.DeepClone();
                EndTurn(AgentStatus.Idle, completedEvent, "finished", null);
                break;
            case TurnFailed failed:
                Commit(TimelineItems.Error(failed.Error));
                EndTurn(AgentStatus.Error, new JsonObject { ["type"] = "turn_failed", ["provider"] = _record.Provider, ["error"] = failed.Error }, "error", failed.Error);
                break;
            case TurnCanceled canceled:
                EndTurn(AgentStatus.Idle, new JsonObject { ["type"] = "turn_canceled", ["provider"] = _record.Provider, ["reason"] = canceled.Reason }, null, null);
                break;
            case ModeChanged mode:
                Change(_record with { LastModeId = mode.ModeId });
                break;
            case ModesDiscovered discovered:
                // ACP agents say their modes at runtime: these replace the provider's static list for this agent.
                _discoveredModes = discovered.Modes;
                if (discovered.CurrentModeId is { } current && current != _record.LastModeId) Change(_record with { LastModeId = current });
                break;
        }
    }

    /// <summary>
    /// The turn ended as <paramref name="status"/> says. The agent is then idle — or starting, when the turn was being
    /// replaced by a new prompt (whose waiters the new turn's start answers), or dormant when its session is gone.
    /// </summary>
    private void EndTurn(AgentStatus status, JsonObject endEvent, string? attention, string? error)
    {
        _settled = status;
        var next = _session is null ? AgentPhase.Dormant : _phase == AgentPhase.Replacing ? AgentPhase.Starting : AgentPhase.Idle;
        TransitionTo(next);
        _lastTurnMessage = _turnText.Length > 0 ? _turnText.ToString() : _lastTurnMessage;
        // A turn that ends leaves no question open: pending permissions are resolved as deny.
        foreach (var requestId in _pendingPermissions.Keys.ToList())
        {
            Publish(new JsonObject
            {
                ["type"] = "permission_resolved",
                ["provider"] = _record.Provider,
                ["requestId"] = requestId,
                ["resolution"] = new JsonObject { ["behavior"] = "deny", ["message"] = "The turn ended" },
            });
        }
        _pendingPermissions.Clear();
        Publish(endEvent);
        if (next != AgentPhase.Starting) AnswerSendWaiters();
        _record = _record with { LastStatus = status, LastError = error ?? (status == AgentStatus.Error ? _record.LastError : null), UpdatedAt = Now };
        if (attention is not null) SetAttention(attention);
        else Changed();
        Save();
        foreach (var waiter in _cancelWaiters) waiter.Tell(Snapshot());
        _cancelWaiters.Clear();
        ReleaseFinishWaiters(Finished());
        if (_rebuildSession && _phase == AgentPhase.Idle) StopSession();
    }

    /// <summary>The turn's assistant text for wait_for_finish's lastMessage: its last 256 KiB, so a long stream cannot grow memory.</summary>
    private void AppendTurnText(string? text)
    {
        _turnText.Append(text);
        if (_turnText.Length > MaxTurnTextChars) _turnText.Remove(0, _turnText.Length - MaxTurnTextChars);
    }

    private const int MaxTurnTextChars = 256 * 1024;

    private void AnswerSendWaiters()
    {
        foreach (var (who, answer) in _sendWaiters) who.Tell(answer());
        _sendWaiters.Clear();
    }

    /// <summary>
    /// Consecutive assistant or reasoning deltas that are already waiting in the mailbox are merged into one row (Paseo
    /// coalesces in 60 ms windows). The first delta of a batch sends this actor a flush marker, which queues behind the
    /// deltas that have arrived meanwhile: an idle daemon adds no delay, a busy one makes fewer, larger rows and frames.
    /// Scheduler timers would add 10–20 ms (Akka's tick is 10 ms).
    /// </summary>
    private void Coalesce(string type, string text)
    {
        if (_pendingDeltaType is not null && _pendingDeltaType != type) FlushDeltas();
        _pendingDeltaType = type;
        _pendingDelta.Append(text);
        if (_flushQueued) return;
        _flushQueued = true;
        Self.Tell(CoalesceDue.Instance);
    }

    private void FlushDeltas()
    {
        if (_pendingDeltaType is null) return;
        var item = _pendingDeltaType == "reasoning" ? TimelineItems.Reasoning(_pendingDelta.ToString()) : TimelineItems.AssistantMessage(_pendingDelta.ToString());
        _pendingDeltaType = null;
        _pendingDelta.Clear();
        Commit(item);
    }

    private void SetAttention(string reason)
    {
        var now = Now;
        Change(_record with { RequiresAttention = true, AttentionReason = reason, AttentionTimestamp = now });
        Publish(new JsonObject
        {
            ["type"] = "attention_required",
            ["provider"] = _record.Provider,
            ["reason"] = reason,
            ["timestamp"] = IsoTime.Format(now),
            ["shouldNotify"] = false,
        });
    }

    /// <summary>Commits a timeline row: numbered, published with its seq and epoch, and handed to the store.</summary>
    private void Commit(JsonObject item)
    {
        var row = _timeline.Append(item, Now);
        _store.Tell(new AgentStoreProtocol.AppendRows(_id.Value, _record.Cwd, [row]));
        PublishStream(new JsonObject { ["type"] = "timeline", ["provider"] = _record.Provider, ["item"] = item.DeepClone() }, row);
    }

    private void Publish(JsonObject streamEvent) => PublishStream(streamEvent, null);

    /// <summary>Serializes the agent_stream frame once (and the dedicated permission frame after it) for every session.</summary>
    private void PublishStream(JsonObject streamEvent, TimelineRow? row)
    {
        var type = WsInbound.Str(streamEvent, "type")!;
        var payload = new JsonObject
        {
            ["agentId"] = _id.Value,
            ["event"] = streamEvent,
            ["timestamp"] = IsoTime.Format(Now),
        };
        if (row is not null)
        {
            payload["seq"] = row.Seq;
            payload["epoch"] = _timeline.Epoch;
        }
        string? permissionFrame = type switch
        {
            "permission_requested" => WsOutbound.Session("agent_permission_request",
                new JsonObject { ["agentId"] = _id.Value, ["request"] = streamEvent["request"]!.DeepClone() }),
            "permission_resolved" => WsOutbound.Session("agent_permission_resolved",
                new JsonObject { ["agentId"] = _id.Value, ["requestId"] = streamEvent["requestId"]!.DeepClone(), ["resolution"] = streamEvent["resolution"]!.DeepClone() }),
            _ => null,
        };
        Context.System.EventStream.Publish(new AgentStreamEvent(_id, type, WsOutbound.Session("agent_stream", payload), permissionFrame));
    }

    private void Change(AgentRecord record)
    {
        _record = record;
        Save();
        Changed();
    }

    private void Changed()
    {
        var snapshot = Snapshot();
        var upsert = WsOutbound.Session("agent_update", new JsonObject
        {
            ["kind"] = "upsert",
            ["agent"] = snapshot.ToJson(),
            ["project"] = Workspaces.DaemonWorkspaces.Get(Context.System).Current.PlacementFor(snapshot.Cwd),
        });
        Context.System.EventStream.Publish(new AgentChanged(snapshot, upsert));
    }

    private void Save() => _store.Tell(new AgentStoreProtocol.SaveRecord(_record));

    private AgentSnapshot Snapshot()
    {
        var live = Live && _provider is not null;
        return new AgentSnapshot
        {
            Id = _record.Id,
            Provider = _record.Provider,
            Cwd = _record.Cwd,
            Model = _record.Model,
            ThinkingOptionId = _record.ThinkingOptionId,
            CreatedAt = _record.CreatedAt,
            UpdatedAt = _record.UpdatedAt,
            LastUserMessageAt = _record.LastUserMessageAt,
            Status = _phase is AgentPhase.Running or AgentPhase.Replacing ? AgentStatus.Running : _settled,
            Capabilities = live ? _provider!.Description.Capabilities : AgentCapabilities.Stored,
            CurrentModeId = _record.LastModeId,
            AvailableModes = live ? Modes : [],
            PendingPermissions = _pendingPermissions.Values.ToList(),
            Persistence = _provider is null ? null : _record.Persistence,
            RuntimeInfo = live ? _runtimeInfo : null,
            LastUsage = _lastUsage,
            LastError = _settled == AgentStatus.Error && _phase is not (AgentPhase.Running or AgentPhase.Replacing) ? _record.LastError : null,
            Title = _record.Title,
            Labels = _record.Labels,
            RequiresAttention = _record.RequiresAttention,
            AttentionReason = _record.AttentionReason,
            AttentionTimestamp = _record.AttentionTimestamp,
            ArchivedAt = _record.ArchivedAt,
            Live = live,
            ProviderUnavailable = _provider is null,
        };
    }

    private sealed record FinishTimedOut(int Waiter) : INoSerializationVerificationNeeded;

    private sealed record CoalesceDue : INoSerializationVerificationNeeded
    {
        public static readonly CoalesceDue Instance = new();
    }

    /// <summary>From the supervisor, once, for a new agent: save it and run the initial prompt; answered with AgentCreated.</summary>
    internal sealed record StartNew(string? InitialPrompt, string? MessageId, IReadOnlyList<PromptImage>? Images = null);
}
