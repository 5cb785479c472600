using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Actors.Loops;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Loops;
using Paseo.Transport.Protocol;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Loops.LoopProtocol;

namespace Paseo.Actors.Tests.Loops;

/// <summary>
/// Loops (app-orchestration.md §3) with the real agents subsystem and the mock provider, and real shell checks: a worker
/// that fails the check twice passes at iteration 3; the verifier's verdict and its retries; workers are internal
/// agents; stops, max-iterations and max-time end the loop with its final state on disk at once; a restart stops what
/// was running; a damaged file is kept.
/// </summary>
public sealed class LoopsSpecs : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly string _root = Directory.CreateTempSubdirectory("paseo-loops-specs-").FullName;
    private readonly IActorRef _agents;

    public LoopsSpecs(ITestOutputHelper output) : base(SpecConfig.Hocon, output)
    {
        Directory.CreateDirectory(Work);
        _agents = Sys.ActorOf(AgentSupervisor.Props(new Dictionary<string, IAgentProvider> { [MockProvider.Id] = new MockProvider() }, AgentsDir,
            AgentLimits.Default, TimeProvider.System), "agents");
    }

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_root, recursive: true);
    }

    private string Work => Path.Combine(_root, "work");
    private string AgentsDir => Path.Combine(_root, "agents");
    private string StoreDir => Path.Combine(_root, "loops");

    private IActorRef Loops(LoopLimits? limits = null) => Sys.ActorOf(LoopsActor.Props(StoreDir, _agents, limits ?? LoopLimits.Default, TimeProvider.System, Work));

    private static long _next;

    private static string NextId() => "r" + Interlocked.Increment(ref _next);

    private static LoopSettings Settings(string prompt, string[]? checks = null, string? verify = null, long? maxIterations = null, long? maxTimeMs = null,
        long sleepMs = 0, bool archive = false, string provider = MockProvider.Id) =>
        new(null, prompt, "", provider, null, null, null, null, null, verify, checks ?? [], archive, sleepMs, maxIterations, maxTimeMs);

    /// <summary>The request's answer payload (its type checked), or the rpc_error payload.</summary>
    private JsonObject Ask(IActorRef loops, ILoopRequest request)
    {
        loops.Tell(request, TestActor);
        var frame = JsonNode.Parse(ExpectMsg<LoopAnswer>(Wait).Json)!["message"]!.AsObject();
        var type = frame["type"]!.GetValue<string>();
        Assert.True(type == TypeOf(request) + "/response" || type == "rpc_error", frame.ToJsonString());
        return frame["payload"]!.AsObject();
    }

    private JsonObject Run(IActorRef loops, LoopSettings settings) => Ask(loops, new RunLoop(NextId(), settings))["loop"]!.AsObject();

    /// <summary>Waits until the loop is no longer running (its end is on disk by then), and returns it.</summary>
    private JsonObject Ended(IActorRef loops, string id)
    {
        JsonObject loop = null!;
        AwaitAssert(() =>
        {
            loop = Ask(loops, new InspectLoop(NextId(), id))["loop"]!.AsObject();
            Assert.NotEqual("running", loop["status"]!.GetValue<string>());
        }, Wait, TimeSpan.FromMilliseconds(20));
        return loop;
    }

    private static string[] Texts(JsonObject loop, string? source = null) =>
        [.. loop["logs"]!.AsArray().Select(e => e!.AsObject()).Where(e => source is null || e["source"]!.GetValue<string>() == source).Select(e => e["text"]!.GetValue<string>())];

    private JsonObject OnDisk(string id) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(StoreDir, id + ".json")))!.AsObject();

    private string? RunningWorker(IActorRef loops, string id)
    {
        string? worker = null;
        AwaitAssert(() =>
        {
            worker = Ask(loops, new InspectLoop(NextId(), id))["loop"]!["activeWorkerAgentId"]?.GetValue<string>();
            Assert.NotNull(worker);
        }, Wait, TimeSpan.FromMilliseconds(20));
        return worker;
    }

    private const string ThirdTimePasses = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo \"try $n\"; [ $n -ge 3 ]";

    [Fact]
    public void A_worker_that_fails_the_check_twice_passes_at_iteration_3_with_its_logs_and_the_end_on_disk()
    {
        var loops = Loops();
        var started = Run(loops, Settings("[say fixed it]", [ThirdTimePasses]));
        // §7 L.1: the answer already shows iteration 1 running and two log lines.
        Assert.Equal(1, started["activeIteration"]!.GetValue<int>());
        Assert.Equal(3, started["nextLogSeq"]!.GetValue<int>());
        Assert.Equal(["Loop created in " + Work, "Starting iteration 1."], Texts(started));
        Assert.Equal(Work, started["cwd"]!.GetValue<string>());

        var id = started["id"]!.GetValue<string>();
        var loop = Ended(loops, id);
        Assert.Equal("succeeded", loop["status"]!.GetValue<string>());
        var iterations = loop["iterations"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal(["failed", "failed", "succeeded"], iterations.Select(i => i["status"]!.GetValue<string>()));
        Assert.Equal("Verify check failed: " + ThirdTimePasses, iterations[0]["failureReason"]!.GetValue<string>());
        Assert.All(iterations, i => Assert.Equal("completed", i["workerOutcome"]!.GetValue<string>()));
        Assert.Equal(3, iterations.Select(i => i["workerAgentId"]!.GetValue<string>()).Distinct().Count());
        Assert.Equal(1, iterations[0]["verifyChecks"]![0]!["exitCode"]!.GetValue<int>());
        Assert.Equal("try 3\n", iterations[2]["verifyChecks"]![0]!["stdout"]!.GetValue<string>());
        Assert.Equal(["$ " + ThirdTimePasses, "exit 1\ntry 1", "$ " + ThirdTimePasses, "exit 1\ntry 2", "$ " + ThirdTimePasses, "exit 0\ntry 3"],
            Texts(loop, "verify-check"));
        Assert.Contains("fixed it", Texts(loop, "worker"));
        Assert.Equal(["Starting iteration 2.", "Starting iteration 3.", "Iteration 3 passed verification."],
            Texts(loop, "loop").Where(t => t.StartsWith("Starting iteration 2", StringComparison.Ordinal) || t.StartsWith("Starting iteration 3", StringComparison.Ordinal) || t.StartsWith("Iteration", StringComparison.Ordinal)));
        Assert.Null(loop["activeIteration"]);
        Assert.Equal("succeeded", OnDisk(id)["status"]!.GetValue<string>());

        // The logs with a cursor: only what came after it, and the cursor to pass next.
        var logs = Ask(loops, new LoopLogs(NextId(), id[..4], 2));
        Assert.Equal(loop["nextLogSeq"]!.GetValue<long>() - 1, logs["nextCursor"]!.GetValue<long>());
        Assert.Equal(3, logs["entries"]![0]!["seq"]!.GetValue<long>());
    }

    [Fact]
    public void Workers_are_internal_agents_unlisted_and_unstored_and_a_stop_closes_them()
    {
        var loops = Loops();
        var id = Run(loops, Settings("[hang]", ["true"]))["id"]!.GetValue<string>();
        var worker = RunningWorker(loops, id)!;

        _agents.Tell(ListAgents.Instance, TestActor);
        Assert.DoesNotContain(ExpectMsg<AgentList>(Wait).Agents, a => a.Id == worker);
        _agents.Tell(new ToAgent(worker[..8], GetSnapshot.Instance), TestActor);
        ExpectMsg<AgentNotFound>(Wait);
        // Reachable by its exact id (to answer its permission requests, as Paseo's).
        _agents.Tell(new ToAgent(worker, GetSnapshot.Instance), TestActor);
        Assert.Equal("[loop 1 worker]", ExpectMsg<AgentSnapshot>(Wait).Title![^15..]);
        Assert.Empty(Directory.Exists(AgentsDir) ? Directory.EnumerateFiles(AgentsDir, "*" + worker + "*", SearchOption.AllDirectories) : []);

        var stopped = Ask(loops, new StopLoop(NextId(), id))["loop"]!.AsObject();
        Assert.Equal("stopped", stopped["status"]!.GetValue<string>());
        Assert.NotNull(stopped["stopRequestedAt"]);
        var iteration = stopped["iterations"]![0]!;
        Assert.Equal(("stopped", "canceled", "Worker run was canceled."),
            (iteration["status"]!.GetValue<string>(), iteration["workerOutcome"]!.GetValue<string>(), iteration["failureReason"]!.GetValue<string>()));
        Assert.Equal(["Stop requested.", "Loop stopped."], Texts(stopped, "loop")[^2..]);
        Assert.Equal("stopped", OnDisk(id)["status"]!.GetValue<string>());
        _agents.Tell(new ToAgent(worker, GetSnapshot.Instance), TestActor);
        ExpectMsg<AgentNotFound>(Wait);

        // A stop of a loop that has ended: the record, unchanged.
        Assert.True(JsonNode.DeepEquals(stopped, Ask(loops, new StopLoop(NextId(), id))["loop"]));
    }

    [Fact]
    public void A_stop_during_a_check_kills_it()
    {
        var loops = Loops();
        var id = Run(loops, Settings("[say ok]", ["echo started > check.started; sleep 300"]))["id"]!.GetValue<string>();
        AwaitAssert(() => Assert.True(File.Exists(Path.Combine(Work, "check.started"))), Wait, TimeSpan.FromMilliseconds(20));
        var stopped = Ask(loops, new StopLoop(NextId(), id))["loop"]!.AsObject();
        Assert.Equal("stopped", stopped["status"]!.GetValue<string>());
        Assert.Equal("stopped", stopped["iterations"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("completed", stopped["iterations"]![0]!["workerOutcome"]!.GetValue<string>());
    }

    [Fact]
    public void Max_iterations_fails_the_loop_and_is_on_disk_when_it_shows()
    {
        var loops = Loops();
        var id = Run(loops, Settings("[say ok]", ["false"], maxIterations: 2))["id"]!.GetValue<string>();
        var loop = Ended(loops, id);
        Assert.Equal("failed", loop["status"]!.GetValue<string>());
        Assert.Equal(2, loop["iterations"]!.AsArray().Count);
        Assert.Equal("Reached max iterations (2).", Texts(loop)[^1]);
        var disk = OnDisk(id);
        Assert.Equal("failed", disk["status"]!.GetValue<string>());
        Assert.Equal("Reached max iterations (2).", disk["logs"]!.AsArray()[^1]!["text"]!.GetValue<string>());
    }

    [Fact]
    public void Max_time_ends_the_loop_during_a_long_sleep()
    {
        var loops = Loops();
        // One minute between iterations, 300 ms allowed in all: the sleep ends at the deadline (Paseo would sleep it out).
        var id = Run(loops, Settings("[say ok]", ["false"], maxTimeMs: 300, sleepMs: 60_000))["id"]!.GetValue<string>();
        var loop = Ended(loops, id);
        Assert.Equal("failed", loop["status"]!.GetValue<string>());
        Assert.Equal(["Sleeping 60000ms before next iteration.", "Reached max time (300ms)."], Texts(loop, "loop")[^2..]);
        Assert.Equal("failed", OnDisk(id)["status"]!.GetValue<string>());
    }

    [Fact]
    public void The_verifiers_verdict_passes_or_fails_an_iteration_and_three_bad_answers_fail_the_loop()
    {
        var loops = Loops();
        var passing = Ended(loops, Run(loops, Settings("[say ok]", verify: """[say ```json {"passed": true, "reason": "all good"} ```]"""))["id"]!.GetValue<string>());
        Assert.Equal("succeeded", passing["status"]!.GetValue<string>());
        var verdict = passing["iterations"]![0]!["verifyPrompt"]!;
        Assert.True(verdict["passed"]!.GetValue<bool>());
        Assert.Equal("all good", verdict["reason"]!.GetValue<string>());
        Assert.Equal(passing["iterations"]![0]!["verifierAgentId"]!.GetValue<string>(), verdict["verifierAgentId"]!.GetValue<string>());
        Assert.Contains("Verifier result: all good", Texts(passing, "loop"));

        var failing = Ended(loops, Run(loops, Settings("[say ok]", verify: """[say {"passed": false, "reason": "no tests"}]""", maxIterations: 1))["id"]!.GetValue<string>());
        Assert.Equal("failed", failing["status"]!.GetValue<string>());
        Assert.Equal("no tests", failing["iterations"]![0]!["failureReason"]!.GetValue<string>());
        Assert.Contains(failing["logs"]!.AsArray(), e => e!["text"]!.GetValue<string>() == "Verifier result: no tests" && e["level"]!.GetValue<string>() == "error");

        var garbled = Ended(loops, Run(loops, Settings("[say ok]", verify: "[say not json]"))["id"]!.GetValue<string>());
        Assert.Equal("failed", garbled["status"]!.GetValue<string>());
        Assert.Equal(VerifierVerdict.GaveUp, garbled["iterations"]![0]!["failureReason"]!.GetValue<string>());
        // Three answers (the first prompt and two retries); the loop's own prompts are not logged as the verifier's doing.
        Assert.Equal(3, Texts(garbled, "verifier").Count(t => t == "not json"));
        Assert.DoesNotContain(Texts(garbled), t => t.StartsWith("[User] ", StringComparison.Ordinal));
    }

    [Fact]
    public void Archive_keeps_each_worker_as_an_archived_ordinary_agent()
    {
        var loops = Loops();
        var loop = Ended(loops, Run(loops, Settings("[say ok]", ["true"], archive: true))["id"]!.GetValue<string>());
        var worker = loop["iterations"]![0]!["workerAgentId"]!.GetValue<string>();
        AwaitAssert(() =>
        {
            _agents.Tell(ListAgents.Instance, TestActor);
            var listed = ExpectMsg<AgentList>(Wait).Agents.Single(a => a.Id == worker);
            Assert.NotNull(listed.ArchivedAt);
        }, Wait, TimeSpan.FromMilliseconds(20));
        // Stored like any agent: its record is on disk.
        AwaitAssert(() => Assert.NotEmpty(Directory.EnumerateFiles(AgentsDir, worker + "*", SearchOption.AllDirectories)), Wait, TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void A_stop_with_archive_cancels_the_workers_turn_and_keeps_it_archived()
    {
        var loops = Loops();
        var id = Run(loops, Settings("[hang]", ["true"], archive: true))["id"]!.GetValue<string>();
        var worker = RunningWorker(loops, id)!;
        Assert.Equal("stopped", Ask(loops, new StopLoop(NextId(), id))["loop"]!["status"]!.GetValue<string>());
        // The loop's actor is gone, and the worker outlived it: archived, its turn over.
        AwaitAssert(() =>
        {
            _agents.Tell(new ToAgent(worker, GetSnapshot.Instance), TestActor);
            var snapshot = ExpectMsg<AgentSnapshot>(Wait);
            Assert.NotNull(snapshot.ArchivedAt);
            Assert.NotEqual(AgentStatus.Running, snapshot.Status);
        }, Wait, TimeSpan.FromMilliseconds(20));
        _agents.Tell(ListAgents.Instance, TestActor);
        Assert.Contains(ExpectMsg<AgentList>(Wait).Agents, a => a.Id == worker);
    }

    [Fact]
    public void A_loop_keeps_its_newest_iterations()
    {
        var loop = Paseo.Transport.Loops.Loop.Create("aaaaaaaa", Settings("x", ["true"]), "2026-05-03T07:00:00.000Z");
        for (var i = 1; i <= 5; i++) loop = LoopActor.BeginIteration(loop, i, "2026-05-03T07:00:00.000Z", LoopLimits.Default with { IterationsKept = 2 });
        Assert.Equal([4, 5], loop.Iterations.Select(it => it.Index));
        Assert.Equal(5, loop.ActiveIteration);
    }

    [Fact]
    public void A_worker_that_cannot_start_fails_the_whole_loop()
    {
        var loops = Loops();
        var loop = Ended(loops, Run(loops, Settings("x", ["true"], provider: "nope"))["id"]!.GetValue<string>());
        Assert.Equal("failed", loop["status"]!.GetValue<string>());
        Assert.Equal("Unknown provider: nope", loop["iterations"]![0]!["failureReason"]!.GetValue<string>());
        Assert.Contains(loop["logs"]!.AsArray(), e => e!["text"]!.GetValue<string>() == "Unknown provider: nope" && e["level"]!.GetValue<string>() == "error");
    }

    [Fact]
    public async Task A_restart_stops_the_loops_that_were_running_and_keeps_the_others()
    {
        var first = Loops();
        var done = Ended(first, Run(first, Settings("[say ok]", ["true"]))["id"]!.GetValue<string>());
        var id = Run(first, Settings("[hang]", ["true"]))["id"]!.GetValue<string>();
        var worker = RunningWorker(first, id)!;
        // What a killed daemon leaves once its writes landed: the store coalesces writes for write-delay (250 ms), and a
        // stop right after the loop started could otherwise come before its first write (it then was never on disk).
        await first.Ask<Akka.Done>(LoopsActor.FlushStore.Instance, Wait);
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);

        var second = Loops();
        var loop = Ask(second, new InspectLoop(NextId(), id))["loop"]!.AsObject();
        Assert.Equal("stopped", loop["status"]!.GetValue<string>());
        Assert.NotNull(loop["stopRequestedAt"]);
        Assert.Equal(loop["completedAt"]!.GetValue<string>(), loop["stopRequestedAt"]!.GetValue<string>());
        Assert.Null(loop["activeWorkerAgentId"]);
        Assert.Equal(("stopped", "Daemon restarted"), (loop["iterations"]![0]!["status"]!.GetValue<string>(), loop["iterations"]![0]!["failureReason"]!.GetValue<string>()));
        var last = loop["logs"]!.AsArray()[^1]!;
        Assert.Equal(("Loop was interrupted by daemon restart.", "error"), (last["text"]!.GetValue<string>(), last["level"]!.GetValue<string>()));
        Assert.Equal("succeeded", Ask(second, new InspectLoop(NextId(), done["id"]!.GetValue<string>()))["loop"]!["status"]!.GetValue<string>());
        AwaitAssert(() => Assert.Equal("stopped", OnDisk(id)["status"]!.GetValue<string>()), Wait, TimeSpan.FromMilliseconds(20));
        // The worker went with the loop that made it.
        AwaitAssert(() =>
        {
            _agents.Tell(new ToAgent(worker, GetSnapshot.Instance), TestActor);
            ExpectMsg<AgentNotFound>(Wait);
        }, Wait, TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void A_damaged_file_turns_loops_off_with_the_reason_and_is_kept()
    {
        Directory.CreateDirectory(StoreDir);
        var damaged = Path.Combine(StoreDir, "0123abcd.json");
        File.WriteAllText(damaged, "[{");
        var loops = Loops();
        var error = Ask(loops, new ListLoops(NextId()));
        Assert.Equal("loop_request_failed", error["code"]!.GetValue<string>());
        Assert.Contains("is damaged", error["error"]!.GetValue<string>());
        Assert.Equal("loop_request_failed", Ask(loops, new RunLoop(NextId(), Settings("x", ["true"])))["code"]!.GetValue<string>());
        Assert.Equal("[{", File.ReadAllText(damaged));
    }

    [Fact]
    public void Ids_resolve_by_prefix_and_bad_requests_are_refused_with_the_specs_texts()
    {
        var loops = Loops(LoopLimits.Default with { MaxRunning = 100 });
        var none = Ask(loops, new RunLoop(NextId(), Settings("x")));
        Assert.Equal("Loop requires --verify or at least one --verify-check", none["error"]!.GetValue<string>());
        Assert.Equal("Loop not found: zzzz", Ask(loops, new InspectLoop(NextId(), "zzzz"))["error"]!.GetValue<string>());
        var ids = Enumerable.Range(0, 40).Select(_ => Run(loops, Settings("[say ok]", ["true"]))["id"]!.GetValue<string>()).ToList();
        var shared = ids.GroupBy(i => i[..1]).First(g => g.Count() > 1).Key;
        Assert.Equal($"Loop id prefix is ambiguous: {shared}", Ask(loops, new LoopLogs(NextId(), shared, 0))["error"]!.GetValue<string>());
        var listed = Ask(loops, new ListLoops(NextId()))["loops"]!.AsArray();
        Assert.Equal(40, listed.Count);
        Assert.Equal(["id", "name", "status", "cwd", "createdAt", "updatedAt", "activeIteration"], listed[0]!.AsObject().Select(p => p.Key));
        foreach (var id in ids) Ended(loops, id);
    }

    [Fact]
    public void Beyond_max_running_a_run_is_refused_and_beyond_loops_kept_the_oldest_finished_are_forgotten()
    {
        var loops = Loops(LoopLimits.Default with { MaxRunning = 1, LoopsKept = 2 });
        var hanging = Run(loops, Settings("[hang]", ["true"]))["id"]!.GetValue<string>();
        Assert.Contains("paseo.loops.max-running", Ask(loops, new RunLoop(NextId(), Settings("[say ok]", ["true"])))["error"]!.GetValue<string>());
        Ask(loops, new StopLoop(NextId(), hanging));
        var second = Ended(loops, Run(loops, Settings("[say ok]", ["true"]))["id"]!.GetValue<string>())["id"]!.GetValue<string>();
        var third = Run(loops, Settings("[say ok]", ["true"]))["id"]!.GetValue<string>();
        Ended(loops, third);
        var kept = Ask(loops, new ListLoops(NextId()))["loops"]!.AsArray().Select(l => l!["id"]!.GetValue<string>()).ToHashSet();
        // The stopped one, the oldest, is forgotten; the file holds the same two.
        Assert.True(kept.SetEquals([second, third]), string.Join(", ", kept));
        AwaitAssert(() => Assert.True(Directory.EnumerateFiles(StoreDir).Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet().SetEquals([second, third])),
            Wait, TimeSpan.FromMilliseconds(20));
    }
}
