using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Files;
using Paseo.Transport.Loops;
using static Paseo.Actors.Loops.LoopProtocol;

namespace Paseo.Actors.Loops;

/// <summary>
/// The loops (`/user/paseo/loops`, app-orchestration.md §3): every loop's last state (what list, inspect and logs
/// answer), one <see cref="LoopActor"/> child per running loop, and the store. Phases: <b>loading</b> (requests wait, up
/// to a bound), <b>ready</b>, <b>shutting down</b>, or <b>damaged</b> when a loop's file does not read (every request is answered with the reason;
/// the file is kept). At load, loops left running by a daemon that stopped are ended `stopped`, as Paseo's (they are
/// never resumed). A loop's end is answered — and shown — once it is on disk.
/// </summary>
public sealed class LoopsActor : ReceiveActor, IWithStash
{
    private const int MaxRequestsWhileLoading = 10_000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _directory;
    private readonly IActorRef _agents;
    private readonly LoopLimits _limits;
    private readonly TimeProvider _time;
    private readonly string _daemonCwd;
    private IActorRef _store = ActorRefs.Nobody;
    private readonly Dictionary<string, Loop> _loops = [];
    private readonly Dictionary<string, IActorRef> _running = [];
    // Who waits for a loop's stop to be over, and the final records waiting to be on disk before anyone sees them.
    private readonly Dictionary<string, List<(IActorRef Who, StopLoop Request)>> _stopWaiters = [];
    private readonly Dictionary<string, (Loop Final, long Seq)> _ending = [];
    private long _nextSeq;
    private int _stashed;

    public IStash Stash { get; set; } = null!;

    public LoopsActor(string directory, IActorRef agents, LoopLimits limits, TimeProvider time, string daemonCwd)
    {
        _directory = directory;
        _agents = agents;
        _limits = limits;
        _time = time;
        _daemonCwd = daemonCwd;
        Loading();
    }

    public static Props Props(string directory, IActorRef agents, LoopLimits limits, TimeProvider time, string? daemonCwd = null) =>
        Akka.Actor.Props.Create(() => new LoopsActor(directory, agents, limits, time, daemonCwd ?? Environment.CurrentDirectory));

    protected override void PreStart()
    {
        _store = Context.ActorOf(LoopStoreWriter.Props(_directory, _limits.WriteDelay), "store");
        _store.Tell(LoopStoreWriter.Load.Instance);
    }

    // A loop whose actor throws is stopped; DeathWatch ends it `failed` with the reason.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    private string Now => IsoTime.Format(_time.GetUtcNow());

    /// <summary>From the daemon's shutdown: what waits to be written is written.</summary>
    public sealed record FlushStore
    {
        public static readonly FlushStore Instance = new();
    }

    /// <summary>
    /// From the daemon's shutdown, before the agents stop: the running loops stop where they are, recorded as still
    /// running, so the next start ends them as interrupted (§3.5) rather than failed by their workers' stop. Answered
    /// once what waits is written.
    /// </summary>
    public sealed record StopForShutdown
    {
        public static readonly StopForShutdown Instance = new();
    }

    private void Loading()
    {
        Receive<LoopStoreWriter.Loaded>(loaded =>
        {
            var interrupted = new List<Loop>();
            foreach (var loop in loaded.Loops)
            {
                var kept = loop.IsRunning ? Interrupted(loop) : loop;
                if (loop.IsRunning) interrupted.Add(kept);
                _loops[kept.Id] = kept;
            }
            if (interrupted.Count > 0) _store.Tell(new LoopStoreWriter.Save(interrupted, ++_nextSeq, []));
            _log.Info("Loops: {0} loaded from {1}, {2} interrupted by the restart", _loops.Count, _directory, interrupted.Count);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<LoopStoreWriter.Damaged>(damaged =>
        {
            Become(() => Damaged(damaged.Reason));
            Stash.UnstashAll();
        });
        Receive<ILoopRequest>(request =>
        {
            if (++_stashed > MaxRequestsWhileLoading) Sender.Tell(Error(request, "Loops are still loading; try again"));
            else Stash.Stash();
        });
        Receive<FlushStore>(_ => _store.Forward(LoopStoreWriter.Flush.Instance));
        Receive<StopForShutdown>(_ => _store.Forward(LoopStoreWriter.Flush.Instance));
    }

    /// <summary>§3.5: a loop the daemon's stop left running ends `stopped`; its running iteration too.</summary>
    private Loop Interrupted(Loop loop)
    {
        var now = Now;
        var logged = loop.Log(now, null, "loop", "error", "Loop was interrupted by daemon restart.", _limits.LogEntriesKept);
        if (logged.Current is { Status: LoopStatus.Running })
            logged = logged.WithIteration(i => i with { Status = LoopStatus.Stopped, FailureReason = "Daemon restarted" }, now);
        return logged.Finish(LoopStatus.Stopped, now) with { StopRequestedAt = now };
    }

    private void Damaged(string reason)
    {
        Receive<ILoopRequest>(request => Sender.Tell(Error(request, reason)));
        Receive<FlushStore>(_ => Sender.Tell(Akka.Done.Instance));
        Receive<StopForShutdown>(_ => Sender.Tell(Akka.Done.Instance));
    }

    private void Ready()
    {
        Receive<RunLoop>(OnRun);
        Receive<ListLoops>(list => Sender.Tell(Reply(list, new JsonObject
        {
            ["loops"] = new JsonArray([.. _loops.Values.OrderByDescending(l => l.CreatedAt, StringComparer.Ordinal).Select(l => (JsonNode)l.ToListItem())]),
        })));
        Receive<InspectLoop>(inspect =>
        {
            if (Resolve(inspect) is { } loop) Sender.Tell(Reply(inspect, new JsonObject { ["loop"] = loop.ToJson() }));
        });
        Receive<LoopLogs>(logs =>
        {
            if (Resolve(logs) is not { } loop) return;
            Sender.Tell(Reply(logs, new JsonObject
            {
                ["loop"] = loop.ToJson(),
                ["entries"] = new JsonArray([.. loop.LogsAfter(logs.AfterSeq).Select(e => (JsonNode)e.ToJson())]),
                ["nextCursor"] = loop.NextLogSeq - 1,
            }));
        });
        Receive<StopLoop>(stop =>
        {
            if (Resolve(stop) is not { } loop) return;
            var running = _running.TryGetValue(loop.Id, out var actor);
            if (!running && !_ending.ContainsKey(loop.Id))
            {
                // Not running: the record unchanged, no error (§3.2).
                Sender.Tell(Reply(stop, new JsonObject { ["loop"] = loop.ToJson() }));
                return;
            }
            // Answered with the final record once it is on disk (an ending loop's is on its way there).
            if (!_stopWaiters.TryGetValue(loop.Id, out var waiters)) _stopWaiters[loop.Id] = waiters = [];
            waiters.Add((Sender, stop));
            if (running) actor!.Tell(RequestStop.Instance);
        });
        Receive<LoopProgress>(progress =>
        {
            if (!_running.ContainsKey(progress.Loop.Id)) return;
            _loops[progress.Loop.Id] = progress.Loop;
            _store.Tell(new LoopStoreWriter.Save([progress.Loop], null, []));
        });
        Receive<LoopFinished>(finished =>
        {
            if (_running.Remove(finished.Loop.Id, out var actor)) Context.Unwatch(actor);
            End(finished.Loop);
        });
        Receive<Terminated>(terminated =>
        {
            var id = _running.FirstOrDefault(r => r.Value.Equals(terminated.ActorRef)).Key;
            if (id is null) return;
            _running.Remove(id);
            // It stopped without saying how it ended (it threw): the loop fails rather than look running forever.
            var loop = _loops[id];
            var now = Now;
            End(loop.Log(now, null, "loop", "error", "The loop stopped unexpectedly (see the daemon's log).", _limits.LogEntriesKept)
                .WithIteration(i => i.Status == LoopStatus.Running ? i with { Status = LoopStatus.Failed, FailureReason = "The loop stopped unexpectedly" } : i, now)
                .Finish(LoopStatus.Failed, now));
        });
        Receive<LoopStoreWriter.Written>(OnWritten);
        Receive<FlushStore>(_ => _store.Forward(LoopStoreWriter.Flush.Instance));
        Receive<StopForShutdown>(_ =>
        {
            foreach (var actor in _running.Values)
            {
                Context.Unwatch(actor);
                Context.Stop(actor);
            }
            _running.Clear();
            Become(ShuttingDown);
            _store.Forward(LoopStoreWriter.Flush.Instance);
        });
    }

    /// <summary>A loop's end is on disk: it shows, and its stops are answered.</summary>
    private void OnWritten(LoopStoreWriter.Written written)
    {
        var id = _ending.FirstOrDefault(e => e.Value.Seq == written.Seq).Key;
        if (id is null || !_ending.Remove(id, out var ending)) return;
        if (written.Error is not null) _log.Error("Loop {0} ended as {1} but could not be saved: {2}", id, ending.Final.Status, written.Error);
        _loops[id] = ending.Final;
        if (!_stopWaiters.Remove(id, out var waiters)) return;
        foreach (var (who, request) in waiters) who.Tell(Reply(request, new JsonObject { ["loop"] = ending.Final.ToJson() }));
    }

    private void ShuttingDown()
    {
        Receive<ILoopRequest>(request => Sender.Tell(Error(request, "The daemon is stopping")));
        // A loop that ended just before the stop is recorded as ended.
        Receive<LoopFinished>(finished => End(finished.Loop));
        Receive<LoopStoreWriter.Written>(OnWritten);
        Receive<FlushStore>(_ => _store.Forward(LoopStoreWriter.Flush.Instance));
        Receive<StopForShutdown>(_ => _store.Forward(LoopStoreWriter.Flush.Instance));
    }

    /// <summary>The loop ended: written at once; shown ended, and its stops answered, once it is on disk.</summary>
    private void End(Loop final)
    {
        var seq = ++_nextSeq;
        _ending[final.Id] = (final, seq);
        _store.Tell(new LoopStoreWriter.Save([final], seq, []));
    }

    private void OnRun(RunLoop run)
    {
        if (_running.Count >= _limits.MaxRunning)
        {
            Sender.Tell(Error(run, $"Too many loops running: this daemon runs at most {_limits.MaxRunning} at once (paseo.loops.max-running); stop one first"));
            return;
        }
        var settings = run.Settings;
        if (settings.VerifyPrompt is null && settings.VerifyChecks.Count == 0)
        {
            Sender.Tell(Error(run, "Loop requires --verify or at least one --verify-check"));
            return;
        }
        // Resolved against the daemon's own working directory, as Paseo's ("" is that directory).
        try
        {
            settings = settings with { Cwd = settings.Cwd.Length == 0 ? _daemonCwd : Path.GetFullPath(settings.Cwd, _daemonCwd) };
        }
        catch (ArgumentException)
        {
            Sender.Tell(Error(run, $"Working directory is not a valid path: {settings.Cwd}"));
            return;
        }
        string id;
        do id = Loop.NewId();
        while (_loops.ContainsKey(id));
        var now = Now;
        var loop = Loop.Create(id, settings, now).Log(now, null, "loop", "info", $"Loop created in {settings.Cwd}", _limits.LogEntriesKept);
        loop = LoopActor.BeginIteration(loop, 1, Now, _limits);
        _loops[id] = loop;
        var actor = Context.ActorOf(LoopActor.Props(loop, _agents, _limits, _time), "loop-" + id);
        Context.Watch(actor);
        _running[id] = actor;
        _store.Tell(new LoopStoreWriter.Save([loop], ++_nextSeq, Forgotten()));
        Sender.Tell(Reply(run, new JsonObject { ["loop"] = loop.ToJson() }));
    }

    /// <summary>The oldest finished loops beyond paseo.loops.loops-kept, forgotten (there is no loop/delete to make room).</summary>
    private List<string> Forgotten()
    {
        var excess = _loops.Count - _limits.LoopsKept;
        if (excess <= 0) return [];
        var gone = _loops.Values.Where(l => !l.IsRunning && !_ending.ContainsKey(l.Id))
            .OrderBy(l => l.CreatedAt, StringComparer.Ordinal).Take(excess).Select(l => l.Id).ToList();
        foreach (var id in gone) _loops.Remove(id);
        return gone;
    }

    /// <summary>Exact id, then a unique prefix (§3.2); otherwise the error is answered and null returned.</summary>
    private Loop? Resolve(IOneLoop request)
    {
        var key = request.LoopId.Trim();
        if (_loops.TryGetValue(key, out var exact)) return exact;
        var matches = _loops.Values.Where(l => l.Id.StartsWith(key, StringComparison.Ordinal)).Take(2).ToList();
        if (matches.Count == 1) return matches[0];
        Sender.Tell(Error(request, matches.Count > 1 ? $"Loop id prefix is ambiguous: {key}" : $"Loop not found: {key}"));
        return null;
    }
}
