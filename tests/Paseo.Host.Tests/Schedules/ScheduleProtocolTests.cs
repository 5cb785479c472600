using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Schedules;

/// <summary>
/// schedule/* over a real daemon's WebSocket (app-orchestration.md §2, §7 S.1, §8): the shapes of the spec's example,
/// what Paseo's schema refuses answered unknown_schema, ids that could name a path refused, and schedules that survive a
/// restart of the daemon.
/// </summary>
public sealed class ScheduleProtocolTests : IAsyncLifetime
{
    private readonly TestHome _home = new();
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_schedules");
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

    private static readonly string[] SummaryKeys =
        ["id", "name", "prompt", "cadence", "target", "status", "createdAt", "updatedAt", "nextRunAt", "lastRunAt", "pausedAt", "expiresAt", "maxRuns"];

    [Fact]
    public async Task Create_list_inspect_and_logs_answer_in_the_specs_shapes_and_survive_a_restart()
    {
        // S.1: an agent schedules itself; "self" comes back as "agent".
        var created = (await Reply("schedule/create", new JsonObject
        {
            ["prompt"] = "Check CI on main and fix anything red.", ["name"] = "ci-watch",
            ["cadence"] = new JsonObject { ["type"] = "every", ["everyMs"] = 600000 },
            ["target"] = new JsonObject { ["type"] = "self", ["agentId"] = "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c" },
            // (the spec's example expires on 2026-05-04; a day from now here, so it is still active after the restart)
            ["maxRuns"] = 24, ["expiresAt"] = Paseo.Transport.Files.IsoTime.Format(DateTimeOffset.UtcNow.AddDays(1)),
        }))["schedule"]!.AsObject();
        Assert.Equal(SummaryKeys, created.Select(p => p.Key));
        Assert.Matches("^[0-9a-f]{8}$", created["id"]!.GetValue<string>());
        Assert.Equal("agent", created["target"]!["type"]!.GetValue<string>());
        Assert.Equal("active", created["status"]!.GetValue<string>());
        Assert.Null(created["lastRunAt"]);
        Assert.Equal(24, created["maxRuns"]!.GetValue<int>());
        var id = created["id"]!.GetValue<string>();

        var cron = (await Reply("schedule/create", new JsonObject
        {
            ["prompt"] = "Nightly deps", ["cadence"] = new JsonObject { ["type"] = "cron", ["expression"] = " 0 3 * * * ", ["timeZone"] = "Europe/Paris" },
            ["target"] = new JsonObject { ["type"] = "new-agent", ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _home.Root, ["labels"] = new JsonObject { ["x"] = "y" } } },
        }))["schedule"]!.AsObject();
        Assert.Null(cron["name"]);
        Assert.Equal("0 3 * * *", cron["cadence"]!["expression"]!.GetValue<string>());
        Assert.Equal("Europe/Paris", cron["cadence"]!["timeZone"]!.GetValue<string>());
        Assert.False(cron["target"]!["config"]!.AsObject().ContainsKey("labels"), "keys Paseo's schema strips are not kept");

        var listed = (await Reply("schedule/list", new JsonObject()))["schedules"]!.AsArray();
        Assert.Equal([id, cron["id"]!.GetValue<string>()], listed.Select(s => s!["id"]!.GetValue<string>()));
        var stored = (await Reply("schedule/inspect", new JsonObject { ["scheduleId"] = id }))["schedule"]!.AsObject();
        Assert.Equal([.. SummaryKeys, "runs"], stored.Select(p => p.Key));
        Assert.Empty((await Reply("schedule/logs", new JsonObject { ["scheduleId"] = id }))["runs"]!.AsArray());
        Assert.Equal("Cron expressions must have 5 fields", (await RpcError("schedule/create", new JsonObject
        {
            ["prompt"] = "x", ["cadence"] = new JsonObject { ["type"] = "cron", ["expression"] = "* * *" },
            ["target"] = new JsonObject { ["type"] = "agent", ["agentId"] = "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c" },
        }))["error"]!.GetValue<string>());

        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_schedules");
        var again = (await Reply("schedule/inspect", new JsonObject { ["scheduleId"] = id }))["schedule"]!.AsObject();
        Assert.Equal(created["nextRunAt"]!.GetValue<string>(), again["nextRunAt"]!.GetValue<string>());
        Assert.Equal("ci-watch", again["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":0},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":1.5},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"cron","expression":"   "},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":60000},"target":{"type":"agent","agentId":"3f8e2c1"}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":60000},"target":{"type":"self"}}""")]
    [InlineData("""{"prompt":"","cadence":{"type":"every","everyMs":60000},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","maxRuns":0,"cadence":{"type":"every","everyMs":60000},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","name":null,"cadence":{"type":"every","everyMs":60000},"target":{"type":"agent","agentId":"3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c"}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":60000},"target":{"type":"new-agent","config":{"provider":"mock","cwd":" "}}}""")]
    [InlineData("""{"prompt":"x","cadence":{"type":"every","everyMs":60000},"target":{"type":"new-agent","config":{"provider":"mock","cwd":"/tmp","model":""}}}""")]
    public async Task A_create_paseos_schema_refuses_is_unknown_schema(string fields)
    {
        Assert.Equal("unknown_schema", (await RpcError("schedule/create", JsonNode.Parse(fields)!.AsObject()))["code"]!.GetValue<string>());
        Assert.Empty((await Reply("schedule/list", new JsonObject()))["schedules"]!.AsArray());
    }

    [Theory]
    [InlineData("schedule/inspect", "../../config")]
    [InlineData("schedule/delete", "a3f09c1e.json")]
    [InlineData("schedule/pause", "A3F09C1E")]
    public async Task An_id_that_is_not_eight_hex_digits_names_no_schedule_and_no_file(string type, string id)
    {
        var error = await RpcError(type, new JsonObject { ["scheduleId"] = id });
        Assert.Equal("schedule_request_failed", error["code"]!.GetValue<string>());
        Assert.Equal($"Schedule not found: {id}", error["error"]!.GetValue<string>());
        Assert.Equal("unknown_schema", (await RpcError("schedule/inspect", new JsonObject { ["id"] = "a3f09c1e" }))["code"]!.GetValue<string>());
        Assert.False(Directory.Exists(_home.Home.SchedulesDir) && Directory.EnumerateFileSystemEntries(_home.Home.SchedulesDir).Any());
    }
}
