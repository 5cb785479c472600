using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Agents;

/// <summary>Limits of the agents subsystem, from `paseo.agents` in paseo.hocon.</summary>
/// <param name="MaxAgents">Agents the daemon holds, stored and live.</param>
/// <param name="TimelineRetainedRows">Timeline rows kept per agent, in memory and on disk; older ones are dropped.</param>
/// <param name="CoalesceStreamDeltas">Merge assistant/reasoning deltas waiting in an agent's mailbox into one row (false: every delta is a row).</param>
/// <param name="TimelineMemoryRows">Newest rows each agent keeps in memory; fetches reaching further read the timeline file.</param>
/// <param name="MaxWaitersPerAgent">Clients waiting on one agent, of each kind (a run to start, a cancel, a finish); one more is answered at once with an error.</param>
/// <param name="MaxRequestsWhileLoading">Requests held while the stored agents load at start; one more is answered at once with an error.</param>
/// <param name="MaxConcurrentHistoryReads">Timeline files read at once for fetches reaching past memory (off the store's thread).</param>
/// <param name="TimelineWriteDelay">How long a streamed row may wait to be written with the rows after it (zero: each row at once).</param>
/// <param name="StreamMergeWindow">How long the first delta of a row waits for more to merge with (zero: only those already in the mailbox).</param>
public sealed record AgentLimits(int MaxAgents, int TimelineRetainedRows, bool CoalesceStreamDeltas, int TimelineMemoryRows,
    int MaxWaitersPerAgent = 256, int MaxRequestsWhileLoading = 10_000, int MaxConcurrentHistoryReads = 2, TimeSpan TimelineWriteDelay = default,
    TimeSpan StreamMergeWindow = default)
{
    public static readonly AgentLimits Default = new(1000, 100_000, true, 2_000);
}

/// <summary>
/// `agents`: one <see cref="AgentActor"/> child per agent, the store, and the id / unique prefix / exact title
/// resolution every agent request goes through. On start it loads the stored agents (without starting them) and
/// stashes requests until then. An agent that throws is resumed with its state; one that stops is forgotten.
/// </summary>
public sealed class AgentSupervisor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IReadOnlyDictionary<string, IAgentProvider> _providers;
    private readonly AgentLimits _limits;
    private readonly TimeProvider _time;
    private readonly IActorRef _store;
    private readonly Dictionary<string, Entry> _agents = [];
    // Which agent holds which provider session (resume_agent / import_agent find it here).
    private readonly Dictionary<(string Provider, string SessionId), string> _bySession = [];
    private int _stashed;

    public IStash Stash { get; set; } = null!;

    /// <summary>An agent's actor, its title (resolution by title) and whether it is internal (a loop's: unlisted, exact id only).</summary>
    private sealed record Entry(IActorRef Actor, string? Title, bool Internal);

    public AgentSupervisor(IReadOnlyDictionary<string, IAgentProvider> providers, string agentsDirectory, AgentLimits limits, TimeProvider time)
    {
        _providers = providers;
        _limits = limits;
        _time = time;
        _store = Context.ActorOf(AgentStore.Props(agentsDirectory, limits.TimelineRetainedRows, limits.TimelineMemoryRows, limits.MaxConcurrentHistoryReads), "store");

        Receive<AgentStoreProtocol.Loaded>(loaded =>
        {
            foreach (var problem in loaded.Problems) _log.Warning("Agent file skipped: {0}", problem);
            foreach (var stored in loaded.Agents)
            {
                _providers.TryGetValue(stored.Record.Provider, out var provider);
                Start(stored.Record, stored.Rows, provider, isNew: false, stored.FirstSeq);
                IndexSession(stored.Record.Id, stored.Record.Provider, stored.Record.Persistence);
            }
            _log.Info("Loaded {0} stored agents", loaded.Agents.Count);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<Status.Failure>(failure =>
        {
            _log.Error(failure.Cause, "Could not load the stored agents; starting with none");
            Become(Ready);
            Stash.UnstashAll();
        });
        ReceiveAny(message =>
        {
            if (_stashed < _limits.MaxRequestsWhileLoading)
            {
                _stashed++;
                Stash.Stash();
                return;
            }
            const string loading = "The daemon is still loading its stored agents (paseo.agents.max-requests-while-loading); try again";
            Sender.Tell(message is ToAgent to ? NotFound(to, loading) : new Status.Failure(new InvalidOperationException(loading)));
        });
    }

    public static Props Props(IReadOnlyDictionary<string, IAgentProvider> providers, string agentsDirectory, AgentLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new AgentSupervisor(providers, agentsDirectory, limits, time));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AgentChanged));
        _store.Ask<AgentStoreProtocol.Loaded>(AgentStoreProtocol.LoadAll.Instance, TimeSpan.FromMinutes(2)).PipeTo(Self);
        // On a graceful stop the agents stop first (each provider session starts stopping its CLI, without waiting; the
        // child-process tracker waits for them later), then the store writes what it was sent before the actor system ends
        // (a mailbox is not drained on stop).
        var self = Self;
        CoordinatedShutdown.Get(Context.System).AddTask(CoordinatedShutdown.PhaseServiceStop, "stop-agents", async () =>
        {
            try
            {
                await self.Ask<Akka.Done>(StopAgents.Instance, TimeSpan.FromSeconds(10));
            }
            catch (Exception)
            {
                // Still loading (refused or timed out), or stuck: the actor system's end stops them anyway, and the
                // child-process tracker still waits for their CLIs.
            }
            return Akka.Done.Instance;
        });
        var store = _store;
        CoordinatedShutdown.Get(Context.System).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-agent-store",
            async () =>
            {
                try
                {
                    await store.Ask<Akka.Done>(AgentStoreProtocol.Flush.Instance, TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    // The store is gone or stuck: nothing more can be saved.
                }
                return Akka.Done.Instance;
            });
    }

    // An agent that throws is resumed: its turn, waiters and provider process must survive one bad message (a restart
    // would stop its provider child and kill the CLI). The store is restarted: its state is on disk, and a write that
    // threw (disk full, permissions) is tried again on fresh file handles; only its row counts start over, which delays a
    // compaction. A child that cannot start is stopped (an agent is then unlisted by DeathWatch).
    protected override SupervisorStrategy SupervisorStrategy() => new AgentsStrategy(_store);

    private sealed class AgentsStrategy(IActorRef store) : OneForOneStrategy(Akka.Actor.Decider.From(Directive.Resume))
    {
        protected override Directive Handle(IActorRef child, Exception exception) =>
            exception is ActorInitializationException ? Directive.Stop : child.Equals(store) ? Directive.Restart : Directive.Resume;
    }

    private void Ready()
    {
        Receive<CreateAgent>(OnCreate);
        Receive<ListAgents>(_ =>
        {
            var asks = _agents.Values.Where(a => !a.Internal).Select(a => a.Actor.Ask<AgentSnapshot>(GetSnapshot.Instance, TimeSpan.FromSeconds(10))).ToList();
            Task.WhenAll(asks).PipeTo(Sender, success: snapshots => new AgentList(snapshots));
        });
        Receive<ToAgent>(to =>
        {
            var (actor, error) = Resolve(to.Identifier);
            if (actor is null)
            {
                Sender.Tell(NotFound(to, error!));
                return;
            }
            actor.Forward(to.Command);
            if (to.Command is WaitForFinish wait) Sender.Tell(new WaitForwarded(wait.WaitId, actor));
            // A deleted agent is gone for every request after this one, even before its actor has stopped.
            if (to.Command is Delete) _agents.Remove(_agents.First(a => a.Value.Actor.Equals(actor)).Key);
        });
        Receive<AgentChanged>(changed =>
        {
            // An internal agent publishes nothing until it is archived, and is an ordinary agent from then on.
            if (_agents.TryGetValue(changed.Agent.Id, out var entry)) _agents[changed.Agent.Id] = entry with { Title = changed.Agent.Title, Internal = false };
            IndexSession(changed.Agent.Id, changed.Agent.Provider, changed.Agent.Persistence);
        });
        Receive<ResumeSession>(OnResume);
        Receive<Terminated>(terminated =>
        {
            var gone = _agents.FirstOrDefault(a => a.Value.Actor.Equals(terminated.ActorRef)).Key;
            if (gone is not null) _agents.Remove(gone);
        });
        Receive<StopAgents>(_ =>
        {
            var stopping = _agents.Values.Select(a => a.Actor).ToHashSet();
            foreach (var agent in stopping) Context.Stop(agent);
            var replyTo = Sender;
            if (stopping.Count == 0)
            {
                replyTo.Tell(Akka.Done.Instance);
                return;
            }
            Become(() => Stopping(stopping, replyTo));
        });
    }

    /// <summary>The daemon is stopping: the agents are told to stop; the answer goes out when the last one has.</summary>
    private void Stopping(HashSet<IActorRef> stopping, IActorRef replyTo)
    {
        Receive<Terminated>(terminated =>
        {
            if (!stopping.Remove(terminated.ActorRef) || stopping.Count > 0) return;
            _agents.Clear();
            replyTo.Tell(Akka.Done.Instance);
        });
        Receive<ToAgent>(to => Sender.Tell(NotFound(to, "The daemon is stopping")));
        Receive<CreateAgent>(_ => Sender.Tell(new AgentCreateFailed("The daemon is stopping")));
        Receive<ListAgents>(_ => Sender.Tell(new AgentList([])));
        ReceiveAny(_ => { });
    }

    /// <summary>No agent for this command; a told wait gets its wait id back, so the waiting session knows which one ended.</summary>
    private static AgentNotFound NotFound(ToAgent to, string error) => new(to.Identifier, error, (to.Command as WaitForFinish)?.WaitId ?? 0);

    /// <summary>From the daemon's shutdown (phase service-stop): stop every agent; answered Done when all have stopped.</summary>
    private sealed record StopAgents : INoSerializationVerificationNeeded
    {
        public static readonly StopAgents Instance = new();
    }

    private void OnCreate(CreateAgent create)
    {
        var config = create.Config;
        if (CannotCreate(config.Provider, config.Cwd, out var provider) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }
        var now = _time.GetUtcNow();
        var record = new AgentRecord
        {
            Id = AgentId.New().Value,
            Provider = config.Provider,
            Cwd = config.Cwd,
            CreatedAt = now,
            UpdatedAt = now,
            Title = config.Title,
            Labels = create.Labels,
            LastStatus = AgentStatus.Idle,
            LastModeId = config.ModeId ?? provider.Description.DefaultModeId,
            Model = config.Model,
            ThinkingOptionId = config.ThinkingOptionId,
        };
        var agent = Start(record, [], provider, isNew: true, observer: create.Observer);
        agent.Forward(new AgentActor.StartNew(create.InitialPrompt, create.ClientMessageId, create.Images));
    }

    private void IndexSession(string agentId, string provider, System.Text.Json.JsonElement? persistence)
    {
        if (AgentRecord.PersistedSessionId(persistence) is { Length: > 0 } sessionId) _bySession[(provider, sessionId)] = agentId;
    }

    /// <summary>resume_agent / import_agent: the agent with this provider session, refreshed; else a new agent around the session.</summary>
    private void OnResume(ResumeSession resume)
    {
        if (!_providers.TryGetValue(resume.Provider, out var provider))
        {
            Sender.Tell(new AgentCreateFailed($"Unknown provider: {resume.Provider}"));
            return;
        }
        if (_bySession.TryGetValue((resume.Provider, resume.SessionId), out var known) && _agents.TryGetValue(known, out var entry))
        {
            entry.Actor.Forward(RefreshAgent.Instance);
            return;
        }
        if (resume.Cwd is null && resume.Provider == "opencode")
        {
            Sender.Tell(new AgentCreateFailed("OpenCode sessions require --cwd when the session cannot be found in persisted agents"));
            return;
        }
        var cwd = resume.Cwd ?? Environment.CurrentDirectory;
        if (CannotCreate(resume.Provider, cwd, out _) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }
        var now = _time.GetUtcNow();
        var record = new AgentRecord
        {
            Id = AgentId.New().Value,
            Provider = resume.Provider,
            Cwd = cwd,
            CreatedAt = now,
            UpdatedAt = now,
            Labels = resume.Labels ?? new Dictionary<string, string>(),
            LastStatus = AgentStatus.Idle,
            LastModeId = provider.Description.DefaultModeId,
            Persistence = System.Text.Json.JsonSerializer.SerializeToElement(new System.Text.Json.Nodes.JsonObject
            {
                ["provider"] = resume.Provider, ["sessionId"] = resume.SessionId, ["nativeHandle"] = resume.SessionId,
                ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["provider"] = resume.Provider, ["cwd"] = cwd },
            }),
        };
        var agent = Start(record, [], provider, isNew: true);
        IndexSession(record.Id, record.Provider, record.Persistence);
        agent.Tell(new AgentActor.StartNew(null, null, null), ActorRefs.Nobody); // saves and publishes it; the answer is RefreshAgent's
        agent.Forward(RefreshAgent.Instance);
    }

    /// <summary>Why a new agent cannot be made (unknown provider, missing directory, too many agents), or null.</summary>
    private AgentCreateFailed? CannotCreate(string providerId, string cwd, out IAgentProvider provider)
    {
        if (!_providers.TryGetValue(providerId, out provider!)) return new AgentCreateFailed($"Unknown provider: {providerId}");
        if (!Path.IsPathFullyQualified(cwd) || !Directory.Exists(cwd)) return new AgentCreateFailed($"Working directory does not exist: {cwd}");
        return _agents.Count >= _limits.MaxAgents
            ? new AgentCreateFailed($"Too many agents: this daemon holds at most {_limits.MaxAgents} (paseo.agents.max-agents); delete some first")
            : null;
    }

    private IActorRef Start(AgentRecord record, IReadOnlyList<TimelineRow> rows, IAgentProvider? provider, bool isNew, long? firstSeqOnDisk = null,
        IActorRef? observer = null)
    {
        var actor = Context.ActorOf(AgentActor.Props(record, rows, provider, _store, _time, _limits, isNew, firstSeqOnDisk, observer), "agent-" + record.Id);
        Context.Watch(actor);
        _agents[record.Id] = new Entry(actor, record.Title, observer is not null);
        return actor;
    }

    /// <summary>Exact id, then a unique id prefix, then an exact title (Paseo's order).</summary>
    private (IActorRef? Actor, string? Error) Resolve(string identifier)
    {
        var id = identifier.Trim();
        if (id.Length == 0) return (null, "Agent identifier cannot be empty");
        if (_agents.TryGetValue(id, out var exact)) return (exact.Actor, null);
        var byPrefix = _agents.Where(a => !a.Value.Internal && a.Key.StartsWith(id, StringComparison.Ordinal)).ToList();
        if (byPrefix.Count == 1) return (byPrefix[0].Value.Actor, null);
        if (byPrefix.Count > 1) return (null, $"Agent identifier \"{id}\" is ambiguous ({string.Join(", ", byPrefix.Select(a => a.Key).Order().Take(5))})");
        var byTitle = _agents.Where(a => !a.Value.Internal && a.Value.Title == id).ToList();
        if (byTitle.Count == 1) return (byTitle[0].Value.Actor, null);
        if (byTitle.Count > 1) return (null, $"Agent identifier \"{id}\" is ambiguous ({string.Join(", ", byTitle.Select(a => a.Key).Order().Take(5))})");
        return (null, $"Agent not found: {id}");
    }
}
