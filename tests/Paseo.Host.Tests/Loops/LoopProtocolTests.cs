using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Loops;

/// <summary>
/// loop/* over a real daemon's WebSocket (app-orchestration.md §3, §7 L.1–L.2, §8): the records in the spec's shapes,
/// logs with a cursor and an id prefix, what Paseo's schema refuses answered unknown_schema, failures as
/// loop_request_failed, and a restart that ends a running loop `stopped`.
/// </summary>
public sealed class LoopProtocolTests : IAsyncLifetime
{
    private readonly TestHome _home = new();
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_loops");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _home.Dispose();
    }

    private async Task<JsonObject> Reply(string type, JsonObject fields)
    {
        var frame = await _client.RequestAsync(type, fields);
        var payload = ProtocolClient.Payload(frame, type + "/response");
        Assert.True(payload is not null, $"{type}: expected {type}/response, got {frame.ToJsonString()}");
        Assert.True(payload!.ContainsKey("error") && payload["error"] is null);
        return payload;
    }

    private async Task<JsonObject> RpcError(string type, JsonObject fields)
    {
        var frame = await _client.RequestAsync(type, fields);
        var payload = ProtocolClient.Payload(frame, "rpc_error");
        Assert.True(payload is not null, $"{type}: expected rpc_error, got {frame.ToJsonString()}");
        Assert.Equal(type, payload!["requestType"]!.GetValue<string>());
        return payload;
    }

    private static readonly string[] LoopKeys =
    [
        "id", "name", "prompt", "cwd", "provider", "model", "workerProvider", "workerModel", "verifierProvider", "verifierModel", "verifyPrompt",
        "verifyChecks", "archive", "sleepMs", "maxIterations", "maxTimeMs", "status", "createdAt", "updatedAt", "startedAt", "completedAt",
        "stopRequestedAt", "iterations", "logs", "nextLogSeq", "activeIteration", "activeWorkerAgentId", "activeVerifierAgentId",
    ];

    private static readonly string[] IterationKeys =
        ["index", "workerAgentId", "workerStartedAt", "workerCompletedAt", "verifierAgentId", "status", "workerOutcome", "failureReason", "verifyChecks", "verifyPrompt"];

    private async Task<JsonObject> Ended(string id)
    {
        JsonObject loop = null!;
        await Eventually.HoldsAsync(async () =>
        {
            loop = (await Reply("loop/inspect", new JsonObject { ["id"] = id }))["loop"]!.AsObject();
            return loop["status"]!.GetValue<string>() != "running";
        }, $"loop {id} to end");
        return loop;
    }

    [Fact]
    public async Task A_run_answers_at_once_in_the_specs_shape_and_its_logs_page_with_a_cursor_and_a_prefix()
    {
        // L.1's request, with the mock provider (whose verdict the verify prompt scripts) in place of Claude and Codex.
        var run = await Reply("loop/run", new JsonObject
        {
            ["prompt"] = "Make `npm test` pass without skipping tests. [say done]", ["cwd"] = _home.Root, ["provider"] = "mock", ["model"] = "mock-1",
            ["verifierProvider"] = "mock", ["verifyPrompt"] = """Check that no test was skipped. [say {"passed": true, "reason": "All tests ran."}]""",
            ["verifyChecks"] = new JsonArray("echo Tests: 142 passed"), ["name"] = "fix-tests", ["sleepMs"] = 30000, ["maxIterations"] = 5, ["maxTimeMs"] = 3600000,
        });
        var loop = run["loop"]!.AsObject();
        Assert.Equal(LoopKeys, loop.Select(p => p.Key));
        Assert.Matches("^[0-9a-f]{8}$", loop["id"]!.GetValue<string>());
        Assert.Equal(("running", 1, 3), (loop["status"]!.GetValue<string>(), loop["activeIteration"]!.GetValue<int>(), loop["nextLogSeq"]!.GetValue<int>()));
        Assert.Equal(loop["createdAt"]!.GetValue<string>(), loop["startedAt"]!.GetValue<string>());
        Assert.Equal(IterationKeys, loop["iterations"]![0]!.AsObject().Select(p => p.Key));
        Assert.Equal(["seq", "timestamp", "iteration", "source", "level", "text"], loop["logs"]![0]!.AsObject().Select(p => p.Key));
        Assert.Null(loop["workerProvider"]);
        var id = loop["id"]!.GetValue<string>();

        var ended = await Ended(id[..4]);
        Assert.Equal("succeeded", ended["status"]!.GetValue<string>());
        var iteration = ended["iterations"]![0]!.AsObject();
        Assert.Equal(["command", "exitCode", "passed", "stdout", "stderr", "startedAt", "completedAt"], iteration["verifyChecks"]![0]!.AsObject().Select(p => p.Key));
        Assert.Equal(["passed", "reason", "verifierAgentId", "startedAt", "completedAt"], iteration["verifyPrompt"]!.AsObject().Select(p => p.Key));
        Assert.Equal("All tests ran.", iteration["verifyPrompt"]!["reason"]!.GetValue<string>());

        // L.2: entries after the cursor, the cursor to pass back, the whole record beside them.
        var logs = await Reply("loop/logs", new JsonObject { ["id"] = id[..4], ["afterSeq"] = 3 });
        Assert.Equal(["requestId", "loop", "entries", "nextCursor", "error"], logs.Select(p => p.Key));
        var last = ended["nextLogSeq"]!.GetValue<long>() - 1;
        Assert.Equal(last, logs["nextCursor"]!.GetValue<long>());
        Assert.Equal(Enumerable.Range(4, (int)last - 3).Select(i => (long)i), logs["entries"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.Equal("Iteration 1 passed verification.", logs["entries"]!.AsArray()[^1]!["text"]!.GetValue<string>());
        Assert.Empty((await Reply("loop/logs", new JsonObject { ["id"] = id, ["afterSeq"] = last }))["entries"]!.AsArray());

        var listed = (await Reply("loop/list", new JsonObject()))["loops"]!.AsArray();
        Assert.Equal(["id", "name", "status", "cwd", "createdAt", "updatedAt", "activeIteration"], listed.Single()!.AsObject().Select(p => p.Key));
        // The worker and verifier were internal: the agent list never had them.
        var agents = await _client.RequestAsync("fetch_agents_request", new JsonObject { ["filter"] = new JsonObject { ["includeArchived"] = true } });
        Assert.Empty(ProtocolClient.Payload(agents, "fetch_agents_response")!["entries"]!.AsArray());
    }

    [Theory]
    [InlineData("loop/run", """{"prompt":"  ","cwd":"/tmp","verifyChecks":["true"]}""")]
    [InlineData("loop/run", """{"prompt":"x","verifyChecks":["true"]}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":[" "]}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":["true"],"sleepMs":-1}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":["true"],"maxIterations":0}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":["true"],"maxTimeMs":0}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":["true"],"name":" "}""")]
    [InlineData("loop/run", """{"prompt":"x","cwd":"/tmp","verifyChecks":["true"],"model":null}""")]
    [InlineData("loop/inspect", """{"id":" "}""")]
    [InlineData("loop/logs", """{"id":"abcd","afterSeq":-1}""")]
    [InlineData("loop/stop", """{}""")]
    public async Task What_paseos_schema_refuses_is_unknown_schema(string type, string fields) =>
        Assert.Equal("unknown_schema", (await RpcError(type, JsonNode.Parse(fields)!.AsObject()))["code"]!.GetValue<string>());

    [Fact]
    public async Task Failures_are_loop_request_failed_with_the_specs_texts_and_odd_but_valid_requests_run()
    {
        var none = await RpcError("loop/run", new JsonObject { ["prompt"] = "x", ["cwd"] = "/tmp" });
        Assert.Equal(("loop_request_failed", "Loop requires --verify or at least one --verify-check"), (none["code"]!.GetValue<string>(), none["error"]!.GetValue<string>()));
        Assert.Equal("Loop not found: 0000", (await RpcError("loop/stop", new JsonObject { ["id"] = "0000" }))["error"]!.GetValue<string>());

        // §8 "accepted although odd": cwd "" (the daemon's own directory), the worker fields and archive.
        var odd = (await Reply("loop/run", new JsonObject
        {
            ["prompt"] = "[say ok]", ["cwd"] = "", ["provider"] = "mock", ["workerProvider"] = "mock", ["workerModel"] = "mock-1", ["archive"] = true, ["verifyChecks"] = new JsonArray("true"),
        }))["loop"]!.AsObject();
        Assert.Equal(Environment.CurrentDirectory, odd["cwd"]!.GetValue<string>());
        Assert.Equal(("mock", "mock-1", true), (odd["workerProvider"]!.GetValue<string>(), odd["workerModel"]!.GetValue<string>(), odd["archive"]!.GetValue<bool>()));
        await Ended(odd["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_stop_answers_the_final_record_and_a_restart_ends_a_running_loop_stopped()
    {
        var stopped = (await Reply("loop/run", new JsonObject { ["prompt"] = "[hang]", ["cwd"] = _home.Root, ["provider"] = "mock", ["verifyChecks"] = new JsonArray("true") }))["loop"]!;
        var stop = (await Reply("loop/stop", new JsonObject { ["id"] = stopped["id"]!.GetValue<string>() }))["loop"]!;
        Assert.Equal("stopped", stop["status"]!.GetValue<string>());
        Assert.Null(stop["activeIteration"]);

        var running = (await Reply("loop/run", new JsonObject { ["prompt"] = "[hang]", ["cwd"] = _home.Root, ["provider"] = "mock", ["verifyChecks"] = new JsonArray("true") }))["loop"]!;
        var id = running["id"]!.GetValue<string>();
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_loops");

        var after = (await Reply("loop/inspect", new JsonObject { ["id"] = id }))["loop"]!;
        Assert.Equal("stopped", after["status"]!.GetValue<string>());
        Assert.Equal("Loop was interrupted by daemon restart.", after["logs"]!.AsArray()[^1]!["text"]!.GetValue<string>());
        Assert.Equal("Daemon restarted", after["iterations"]![0]!["failureReason"]!.GetValue<string>());
        Assert.Equal("stopped", (await Reply("loop/inspect", new JsonObject { ["id"] = stopped["id"]!.GetValue<string>() }))["loop"]!["status"]!.GetValue<string>());
    }
}
