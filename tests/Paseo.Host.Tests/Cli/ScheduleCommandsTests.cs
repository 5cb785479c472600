using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// `paseo schedule` (app-orchestration.md §5), the built binary against a real daemon process: a schedule that really
/// runs a mock agent's turn and completes after its max runs, rows and columns, a cron in a named zone paused and
/// resumed, and the local and daemon errors with their codes.
/// </summary>
public sealed class ScheduleCommandsTests
{
    private static string[] TableRow(string line) => Regex.Split(line.Trim(), @"\s{2,}");

    [Fact]
    public async Task Every_schedule_command_works_and_a_schedule_runs_its_agent()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var agentId = (await cli.Ok("run", "-d", "idle", "--provider", "mock", "--title", "target", "--cwd", cli.Work, "-q")).Trim();
        await cli.Ok("wait", agentId);

        var created = (await cli.Json("schedule", "create", "ping", "--every", "1s", "--target", agentId, "--max-runs", "1", "--name", "pinger")).AsObject();
        Assert.Equal(["id", "name", "cadence", "target", "status", "nextRunAt", "lastRunAt"], created.Select(p => p.Key));
        Assert.Equal("every:1s", created["cadence"]!.GetValue<string>());
        Assert.Equal("agent:" + agentId[..7], created["target"]!.GetValue<string>());
        var id = created["id"]!.GetValue<string>();

        // The daemon's timer fires, the agent's turn runs, the schedule completes after its one run.
        await Eventually.HoldsAsync(async () => (await cli.Json("schedule", "inspect", id))["status"]!.GetValue<string>() == "completed",
            "the schedule to run once and complete");
        var stored = await cli.Json("schedule", "inspect", id);
        var run = Assert.Single(stored["runs"]!.AsArray())!;
        Assert.Equal("succeeded", run["status"]!.GetValue<string>());
        Assert.Equal("Mock reply to: ping", run["output"]!.GetValue<string>());
        Assert.Equal(agentId, run["agentId"]!.GetValue<string>());
        var logs = (await cli.Ok("schedule", "logs", id)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["RUN ID", "STATUS", "STARTED", "AGENT", "OUTPUT"], TableRow(logs[0])[..5]);
        Assert.Contains("Mock reply to: ping", logs[1]);
        var inspect = (await cli.Ok("schedule", "inspect", id)).Split('\n');
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Status\s+completed$"));
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^RunCount\s+1$"));
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Cadence\s+every:1000ms$"));
    }

    [Fact]
    public async Task A_cron_schedule_in_a_zone_is_listed_paused_resumed_and_deleted_and_bad_flags_fail_with_their_codes()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var nightly = (await cli.Json("schedule", "create", "update the dependencies", "--cron", "0 3 * * *", "--timezone", "Europe/Paris",
            "--provider", "mock/mock-1", "--name", "nightly", "--cwd", cli.Work)).AsObject();
        Assert.Equal("cron:0 3 * * *", nightly["cadence"]!.GetValue<string>());
        Assert.Equal("new-agent:mock/mock-1", nightly["target"]!.GetValue<string>());
        var id = nightly["id"]!.GetValue<string>();

        var table = (await cli.Ok("schedule", "ls")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "NAME", "CADENCE", "TARGET", "STATUS", "NEXT RUN"], TableRow(table[0]));
        Assert.Equal([id, "nightly", "cron:0 3 * * *", "new-agent:mock/mock-1", "active"], TableRow(table[1])[..5]);
        var inspect = (await cli.Ok("schedule", "inspect", id)).Split('\n');
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Cadence\s+cron:0 3 \* \* \* \(Europe/Paris\)$"));
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^PausedAt\s+null$"));
        Assert.Equal("paused", (await cli.Json("schedule", "pause", id))["status"]!.GetValue<string>());
        Assert.Null((await cli.Json("schedule", "inspect", id))["nextRunAt"]);
        Assert.Equal("active", (await cli.Json("schedule", "resume", id))["status"]!.GetValue<string>());

        Assert.Equal("INVALID_CADENCE", (await cli.Error("schedule", "create", "x"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_CADENCE", (await cli.Error("schedule", "create", "x", "--every", "1m", "--cron", "* * * * *"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_CADENCE", (await cli.Error("schedule", "create", "x", "--every", "soon"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_TARGET", (await cli.Error("schedule", "create", "x", "--every", "1m", "--target", "self"))["code"]!.GetValue<string>());
        Assert.Equal("MISSING_PROVIDER", (await cli.Error("schedule", "create", "x", "--every", "1m"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_INTEGER", (await cli.Error("schedule", "create", "x", "--every", "1m", "--provider", "mock", "--max-runs", "0"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_PROMPT", (await cli.Error("schedule", "create", "  ", "--every", "1m", "--provider", "mock"))["code"]!.GetValue<string>());
        var badCron = await cli.Error("schedule", "create", "x", "--cron", "61 * * * *", "--provider", "mock");
        Assert.Equal("schedule_request_failed", badCron["code"]!.GetValue<string>());
        Assert.Contains("Invalid cron minute value", badCron["message"]!.GetValue<string>());
        Assert.Contains("Schedule not found: ../x", (await cli.Error("schedule", "inspect", "../x"))["message"]!.GetValue<string>());

        var deleted = (await cli.Json("schedule", "delete", id)).AsObject();
        Assert.Equal(id, deleted["id"]!.GetValue<string>());
        Assert.Equal("deleted", deleted["status"]!.GetValue<string>());
        Assert.Contains($"Schedule not found: {id}", (await cli.Error("schedule", "inspect", id))["message"]!.GetValue<string>());
    }
}
