using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Transport.Files;
using Paseo.Transport.Loops;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Loops.LoopProtocol;

namespace Paseo.Actors.Loops;

/// <summary>
/// One running loop (`loops/loop-&lt;id&gt;`, app-orchestration.md §3.3), an iteration at a time, as phases:
/// <b>working</b> (a fresh internal worker agent runs the prompt), <b>checking</b> (the shell checks, one after another),
/// <b>verifying</b> (a fresh internal verifier agent gives a JSON verdict, asked up to three times), <b>sleeping</b>
/// (sleepMs between iterations), until an iteration passes or a limit is hit. Every change goes to the parent as
/// <see cref="LoopProgress"/>; the end as <see cref="LoopFinished"/>, after which the actor stops. A stop in any phase
/// closes the active agent, kills a running check (Paseo waits for it) and ends the loop `stopped`.
/// </summary>
public sealed class LoopActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _agents;
    private readonly LoopLimits _limits;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset? _deadline;
    private Loop _loop;

    // The agent of the current phase (worker or verifier), once known, and its actor (watched).
    private string? _agentId;
    private IActorRef? _agent;
    private bool _turnEnded;
    // The worker's turn is the running step: a stop now cancels it (the iteration's workerOutcome is then canceled).
    private bool _working = true;
    private readonly HashSet<string> _loggedCalls = [];
    // Agents already closed: their late answers (an AgentCreated answered after its turn's end) and last events are not the current agent's.
    private readonly HashSet<string> _closed = [];
    // What the loop itself prompted (its worker's and verifier's user_message rows are not logged: the log says what they did).
    private readonly HashSet<string> _sentPrompts = [];
    // Agents being archived (`archive`): the loop stops only once they are, or the agent would go with it (it watches the loop).
    private readonly HashSet<string> _archiving = [];
    // The verifier's answer: its last assistant message (text since the last other row), at most this long.
    private const int MaxAnswerChars = 256 * 1024;
    private readonly StringBuilder _answer = new();
    private int _verifierAttempts;
    private string? _verifierStartedAt;
    private int _nextCheck;
    private CancellationTokenSource? _checkCancel;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="loop">The loop with its first iteration begun (the run request's answer already shows it).</param>
    public LoopActor(Loop loop, IActorRef agents, LoopLimits limits, TimeProvider time)
    {
        _loop = loop;
        _agents = agents;
        _limits = limits;
        _time = time;
        // A deadline past what a date holds is no deadline.
        if (loop.Settings.MaxTimeMs is { } maxTime && DateTimeOffset.TryParse(loop.CreatedAt, System.Globalization.CultureInfo.InvariantCulture, out var created)
            && maxTime < (DateTimeOffset.MaxValue - created).TotalMilliseconds)
            _deadline = created.AddMilliseconds(maxTime);
        Become(Working);
    }

    public static Props Props(Loop loop, IActorRef agents, LoopLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new LoopActor(loop, agents, limits, time));

    protected override void PreStart() => StartAgent("worker", _loop.Settings.WorkerProviderOrDefault, _loop.Settings.WorkerModelOrDefault, _loop.Settings.Prompt);

    protected override void PostStop() => _checkCancel?.Cancel();

    private string Now => IsoTime.Format(_time.GetUtcNow());

    private int? Index => _loop.ActiveIteration;

    /// <summary>Begins iteration n: a running Iteration (the oldest beyond paseo.loops.iterations-kept go), the active index, "Starting iteration n.".</summary>
    public static Loop BeginIteration(Loop loop, int index, string now, LoopLimits limits)
    {
        var iterations = loop.Iterations.Add(LoopIteration.Start(index, now));
        if (iterations.Count > limits.IterationsKept) iterations = iterations.RemoveRange(0, iterations.Count - limits.IterationsKept);
        return (loop with { Iterations = iterations, ActiveIteration = index, ActiveWorkerAgentId = null, ActiveVerifierAgentId = null })
            .Log(now, index, "loop", "info", $"Starting iteration {index}.", limits.LogEntriesKept);
    }

    private void Log(string source, string level, string text, int? iteration)
    {
        if (text.Length > _limits.LogTextChars) text = text[.._limits.LogTextChars] + " … (cut at paseo.loops.log-text-chars)";
        _loop = _loop.Log(Now, iteration, source, level, text, _limits.LogEntriesKept, _limits.LogCharsKept);
    }

    private void Log(string source, string level, string text) => Log(source, level, text, Index);

    private void Progress() => Context.Parent.Tell(new LoopProgress(_loop));

    private void Iteration(Func<LoopIteration, LoopIteration> change) => _loop = _loop.WithIteration(change, Now);

    // ---- agents (worker and verifier) ----

    private void StartAgent(string role, string provider, string? model, string prompt)
    {
        _agentId = null;
        _agent = null;
        _turnEnded = false;
        _loggedCalls.Clear();
        _answer.Clear();
        _sentPrompts.Add(prompt);
        var title = $"{_loop.Label} [loop {Index} {role}]";
        _agents.Tell(new CreateAgent(new AgentConfig(provider, _loop.Settings.Cwd, null, model, null, title, null), prompt, null,
            new Dictionary<string, string> { ["paseo.loop-id"] = _loop.Id }, null, Self));
    }

    /// <summary>The agent answered (created, or its prompt taken): it is watched from now on.</summary>
    private void Known(IActorRef agent, string agentId, string role)
    {
        if (_closed.Contains(agentId) || (_agentId is not null && _agentId != agentId)) return;
        if (_agentId is null)
        {
            _agentId = agentId;
            if (role == "worker")
            {
                Iteration(i => i with { WorkerAgentId = agentId });
                _loop = _loop with { ActiveWorkerAgentId = agentId };
            }
            else
            {
                Iteration(i => i with { VerifierAgentId = agentId });
                _loop = _loop with { ActiveVerifierAgentId = agentId };
            }
            Progress();
        }
        if (_agent is null && !agent.IsNobody())
        {
            _agent = agent;
            Context.Watch(agent);
        }
    }

    /// <summary>
    /// Closes (deletes) the phase's agent, or archives it when the loop says `archive` (it then becomes an ordinary stored
    /// agent). <paramref name="cancel"/>: its turn may still run (a stop, a failure): an archived agent's turn is cancelled
    /// first (a deleted one's ends with it).
    /// </summary>
    private void CloseAgent(bool cancel = false)
    {
        if (_agent is not null) Context.Unwatch(_agent);
        if (_agentId is not null)
        {
            _closed.Add(_agentId);
            if (_loop.Settings.Archive)
            {
                if (cancel) _agents.Tell(new ToAgent(_agentId, AgentProtocol.Cancel.Instance));
                _agents.Tell(new ToAgent(_agentId, Archive.Instance));
                _archiving.Add(_agentId);
            }
            else _agents.Tell(new ToAgent(_agentId, Delete.Instance));
        }
        _agent = null;
        _agentId = null;
    }

    /// <summary>The answers to closing an agent, in every phase.</summary>
    private void ClosingAnswers()
    {
        Receive<Deleted>(_ => { });
        Receive<Archived>(archived =>
        {
            _archiving.Remove(archived.AgentId.Value);
        });
        Receive<AgentSnapshot>(_ => { }); // a cancel's answer
    }

    /// <summary>The handlers the worker and verifier phases share: the agent's answers and events, and its end.</summary>
    private void AgentPhase(string role, Action<string, JsonElement> turnEnded, Action<string> failed)
    {
        Receive<AgentCreated>(created => Known(Sender, created.Agent.Id, role));
        Receive<MessageAccepted>(accepted => Known(Sender, accepted.AgentId.Value, role));
        Receive<AgentCreateFailed>(f => failed(f.Error));
        Receive<CommandResult>(result =>
        {
            if (!result.Accepted && !_closed.Contains(result.AgentId.Value)) failed(result.Error ?? $"The {role} did not take the prompt");
        });
        Receive<AgentNotFound>(notFound =>
        {
            // A closed agent already gone is not this phase's failure.
            if (_closed.Contains(notFound.Identifier)) _archiving.Remove(notFound.Identifier);
            else failed(notFound.Error);
        });
        Receive<InternalAgentEvent>(e =>
        {
            if (_closed.Contains(e.AgentId.Value) || (_agentId is not null && e.AgentId.Value != _agentId)) return; // a closed agent's last words
            Known(Sender, e.AgentId.Value, role);
            var type = e.Event.GetProperty("type").GetString();
            LogEvent(role, type, e.Event);
            if (type is "turn_completed" or "turn_failed" or "turn_canceled" && !_turnEnded)
            {
                _turnEnded = true;
                turnEnded(type, e.Event);
            }
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_agent) && !_turnEnded) failed($"The {role} agent stopped before its turn ended");
        });
        ClosingAnswers();
        Receive<RequestStop>(_ => Stop());
    }

    /// <summary>One log line per timeline item (a tool call once, at its first row) and per turn end or permission.</summary>
    private void LogEvent(string source, string? type, JsonElement e)
    {
        switch (type)
        {
            case "timeline":
                var item = JsonObject.Create(e.GetProperty("item"))!;
                var itemType = WsInbound.Str(item, "type");
                if (itemType == "tool_call" && !_loggedCalls.Add(WsInbound.Str(item, "callId") ?? "")) return;
                if (itemType == "user_message" && _sentPrompts.Contains(WsInbound.Str(item, "text") ?? "")) return;
                if (itemType == "assistant_message")
                {
                    _answer.Append(WsInbound.Str(item, "text"));
                    if (_answer.Length > MaxAnswerChars) _answer.Remove(0, _answer.Length - MaxAnswerChars);
                }
                else if (itemType != "reasoning") _answer.Clear(); // the answer is the last message: what came before a tool call is not it
                if (TimelineDigest.Of(item) is { } digest) Log(source, "info", digest);
                else return;
                break;
            case "turn_failed":
                Log(source, "error", "[Turn Failed] " + Text(e, "error"));
                break;
            case "turn_canceled":
                Log(source, "info", "[Turn Canceled] " + Text(e, "reason"));
                break;
            case "permission_requested":
                Log(source, "info", "[Permission Requested] " + (e.TryGetProperty("request", out var request) ? Text(request, "name") : ""));
                break;
            case "permission_resolved":
                Log(source, "info", "[Permission Resolved] " + Text(e, "requestId"));
                break;
            default:
                return;
        }
        Progress();
    }

    private static string Text(JsonElement e, string key) =>
        e.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    // ---- phases ----

    private void Working() => AgentPhase("worker", WorkerEnded, error => Fail(error));

    private void WorkerEnded(string type, JsonElement e)
    {
        _working = false;
        var now = Now;
        switch (type)
        {
            case "turn_completed":
                Iteration(i => i with { WorkerOutcome = "completed", WorkerCompletedAt = now });
                CloseAgent();
                _loop = _loop with { ActiveWorkerAgentId = null };
                Progress();
                StartChecks();
                break;
            case "turn_failed":
                var error = Text(e, "error");
                Iteration(i => i with { Status = LoopStatus.Failed, WorkerOutcome = "failed", WorkerCompletedAt = now, FailureReason = error });
                Log("loop", "error", $"Worker failed: {error}");
                CloseAgent();
                EndIteration();
                break;
            default:
                Iteration(i => i with { Status = LoopStatus.Stopped, WorkerOutcome = "canceled", WorkerCompletedAt = now, FailureReason = "Worker run was canceled." });
                CloseAgent();
                EndIteration();
                break;
        }
    }

    private void StartChecks()
    {
        _nextCheck = 0;
        Become(Checking);
        NextCheck();
    }

    private void NextCheck()
    {
        var checks = _loop.Settings.VerifyChecks;
        if (_nextCheck >= checks.Count)
        {
            StartVerifier();
            return;
        }
        var command = checks[_nextCheck++];
        Log("verify-check", "info", "$ " + command);
        Progress();
        _checkCancel = new CancellationTokenSource();
        VerifyCheck.RunAsync(command, _loop.Settings.Cwd, _limits.CheckOutputBytes, _limits.CheckTimeout, _time, _checkCancel.Token).PipeTo(Self);
    }

    private void Checking()
    {
        Receive<CheckResult>(result =>
        {
            _checkCancel?.Dispose();
            _checkCancel = null;
            var output = string.Join("\n", new[] { result.Stdout.Trim(), result.Stderr.Trim() }.Where(s => s.Length > 0));
            Log("verify-check", result.Passed ? "info" : "error", $"exit {result.ExitCode}" + (output.Length > 0 ? "\n" + output : ""));
            Iteration(i => i with { VerifyChecks = i.VerifyChecks.Add(result) });
            if (result.Passed)
            {
                NextCheck();
                return;
            }
            Iteration(i => i with { Status = LoopStatus.Failed, FailureReason = $"Verify check failed: {result.Command}" });
            EndIteration();
        });
        Receive<Status.Failure>(failure => Fail(failure.Cause.Message));
        Receive<RequestStop>(_ => Stop());
        ClosingAnswers();
        Receive<AgentNotFound>(_ => { });
        Receive<InternalAgentEvent>(_ => { });
    }

    private void StartVerifier()
    {
        if (_loop.Settings.VerifyPrompt is not { } verifyPrompt)
        {
            Passed();
            return;
        }
        _verifierAttempts = 1;
        _verifierStartedAt = Now;
        Become(Verifying);
        StartAgent("verifier", _loop.Settings.VerifierProviderOrDefault, _loop.Settings.VerifierModelOrDefault, VerifierVerdict.Prompt(verifyPrompt));
    }

    private void Verifying() => AgentPhase("verifier", VerifierEnded, error => Fail(error));

    private void VerifierEnded(string type, JsonElement e)
    {
        if (type != "turn_completed")
        {
            Fail(type == "turn_failed" ? $"Verifier failed: {Text(e, "error")}" : "Verifier run was canceled.");
            return;
        }
        var reading = VerifierVerdict.Read(_answer.ToString());
        if (!reading.Valid)
        {
            if (_verifierAttempts >= VerifierVerdict.MaxAttempts)
            {
                Fail(VerifierVerdict.GaveUp);
                return;
            }
            _verifierAttempts++;
            _answer.Clear();
            _turnEnded = false;
            var retry = VerifierVerdict.Retry(_loop.Settings.VerifyPrompt!, reading.Problems);
            _sentPrompts.Add(retry);
            _agents.Tell(new ToAgent(_agentId!, new SendMessage(retry, null)));
            return;
        }
        var verdict = new VerifierResult(reading.Passed, reading.Reason!, _agentId, _verifierStartedAt!, Now);
        Log("loop", reading.Passed ? "info" : "error", $"Verifier result: {verdict.Reason}");
        Iteration(i => i with { VerifyPrompt = verdict });
        CloseAgent();
        _loop = _loop with { ActiveVerifierAgentId = null };
        if (reading.Passed) Passed();
        else
        {
            Iteration(i => i with { Status = LoopStatus.Failed, FailureReason = verdict.Reason });
            EndIteration();
        }
    }

    private void Passed()
    {
        var index = Index;
        Iteration(i => i with { Status = LoopStatus.Succeeded });
        Log("loop", "info", $"Iteration {index} passed verification.", null);
        Finish(LoopStatus.Succeeded);
    }

    /// <summary>The iteration ended without passing: sleep, then the next one (or the end a limit sets).</summary>
    private void EndIteration()
    {
        _loop = _loop with { ActiveWorkerAgentId = null, ActiveVerifierAgentId = null };
        // Capped where the scheduler's timers end (about 24 days): a longer sleep is that long, then the next check.
        var sleep = TimeSpan.FromMilliseconds(Math.Min(_loop.Settings.SleepMs, int.MaxValue));
        if (sleep <= TimeSpan.Zero)
        {
            Progress();
            NextIteration();
            return;
        }
        Log("loop", "info", $"Sleeping {_loop.Settings.SleepMs}ms before next iteration.");
        Progress();
        // A deadline that comes first ends the sleep (Paseo sleeps it out and only then sees the time is up).
        if (_deadline is { } deadline && deadline - _time.GetUtcNow() < sleep) sleep = deadline - _time.GetUtcNow() + TimeSpan.FromMilliseconds(1);
        Become(Sleeping);
        Timers.StartSingleTimer("sleep", Wake.Instance, sleep < TimeSpan.Zero ? TimeSpan.Zero : sleep);
    }

    private sealed record Wake : INoSerializationVerificationNeeded
    {
        public static readonly Wake Instance = new();
        private Wake() { }
    }

    private void Sleeping()
    {
        Receive<Wake>(_ => NextIteration());
        Receive<RequestStop>(_ => Stop());
        ClosingAnswers();
        Receive<AgentNotFound>(_ => { });
        Receive<InternalAgentEvent>(_ => { });
    }

    private void NextIteration()
    {
        var next = (Index ?? _loop.Iterations.Count) + 1;
        if (_loop.Settings.MaxIterations is { } max && next > max)
        {
            Log("loop", "error", $"Reached max iterations ({max}).", null);
            Finish(LoopStatus.Failed);
            return;
        }
        if (_deadline is { } deadline && _time.GetUtcNow() > deadline)
        {
            Log("loop", "error", $"Reached max time ({_loop.Settings.MaxTimeMs}ms).", null);
            Finish(LoopStatus.Failed);
            return;
        }
        _loop = BeginIteration(_loop, next, Now, _limits);
        Progress();
        _working = true;
        Become(Working);
        StartAgent("worker", _loop.Settings.WorkerProviderOrDefault, _loop.Settings.WorkerModelOrDefault, _loop.Settings.Prompt);
    }

    /// <summary>An error that escapes an iteration fails the whole loop (§3.3): logged, and the iteration's failureReason.</summary>
    private void Fail(string error)
    {
        Log("loop", "error", error);
        Iteration(i => i with { Status = i.Status == LoopStatus.Running ? LoopStatus.Failed : i.Status, FailureReason = error });
        CloseAgent(cancel: true);
        Finish(LoopStatus.Failed);
    }

    /// <summary>A stop in any phase: the active agent is closed, a check killed, the iteration stopped, the loop ends `stopped`.</summary>
    private void Stop()
    {
        var now = Now;
        _loop = _loop with { StopRequestedAt = _loop.StopRequestedAt ?? now };
        Log("loop", "info", "Stop requested.");
        _checkCancel?.Cancel();
        Iteration(i => i.Status != LoopStatus.Running ? i
            : _working ? i with { Status = LoopStatus.Stopped, WorkerOutcome = "canceled", WorkerCompletedAt = now, FailureReason = "Worker run was canceled." }
            : i with { Status = LoopStatus.Stopped });
        CloseAgent(cancel: true);
        Log("loop", "info", "Loop stopped.");
        Finish(LoopStatus.Stopped);
    }

    private void Finish(string status)
    {
        _loop = _loop.Finish(status, Now);
        Context.Parent.Tell(new LoopFinished(_loop));
        _checkCancel?.Cancel();
        Become(Finished);
        if (_archiving.Count == 0) Context.Stop(Self);
        else Timers.StartSingleTimer("archived", ArchivesDue.Instance, TimeSpan.FromSeconds(10));
    }

    private sealed record ArchivesDue : INoSerializationVerificationNeeded
    {
        public static readonly ArchivesDue Instance = new();
        private ArchivesDue() { }
    }

    /// <summary>Ended: it stops once the agents it archives are archived (at most 10 s), so they are not taken down with it.</summary>
    private void Finished()
    {
        Receive<Archived>(archived =>
        {
            if (_archiving.Remove(archived.AgentId.Value) && _archiving.Count == 0) Context.Stop(Self);
        });
        Receive<AgentNotFound>(notFound =>
        {
            if (_archiving.Remove(notFound.Identifier) && _archiving.Count == 0) Context.Stop(Self);
        });
        Receive<ArchivesDue>(_ => Context.Stop(Self));
        ReceiveAny(_ => { });
    }
}
