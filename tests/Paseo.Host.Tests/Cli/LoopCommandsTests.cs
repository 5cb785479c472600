using System.Text.RegularExpressions;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// `paseo loop` (app-orchestration.md §5), the built binary against a real daemon process: a loop whose check passes
/// the third time, followed by `loop logs` to its end; rows, inspect lines and columns; a stop; and the local and daemon
/// errors with their codes.
/// </summary>
public sealed class LoopCommandsTests
{
    private static string[] TableRow(string line) => Regex.Split(line.Trim(), @"\s{2,}");

    private const string ThirdTimePasses = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo \"try $n\"; [ $n -ge 3 ]";

    [Fact]
    public async Task A_loop_runs_until_its_check_passes_and_its_logs_follow_it_to_the_end()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var started = (await cli.Json("loop", "run", "[say fixed]", "--provider", "mock", "--verify-check", ThirdTimePasses, "--name", "fix-tests", "--cwd", cli.Work)).AsObject();
        Assert.Equal(["id", "status", "name", "cwd"], started.Select(p => p.Key));
        Assert.Equal(("running", "fix-tests", cli.Work), (started["status"]!.GetValue<string>(), started["name"]!.GetValue<string>(), started["cwd"]!.GetValue<string>()));
        var id = started["id"]!.GetValue<string>();

        // `loop logs` polls until the loop ends, then exits 0: the whole log, in order.
        var logs = await cli.Ok("loop", "logs", id[..5], "--poll-interval", "50");
        var lines = logs.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+Z loop$", lines[0]);
        Assert.Equal("Loop created in " + started["cwd"]!.GetValue<string>(), lines[1]);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"Z verify-check iteration=2 ERROR$"));
        Assert.Equal("Iteration 3 passed verification.", lines[^1]);
        Assert.Contains("try 3", logs);

        var inspect = (await cli.Ok("loop", "inspect", id)).Split('\n');
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Status\s+succeeded$"));
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Provider\s+mock$"));
        Assert.Contains(inspect, l => Regex.IsMatch(l, @"^Iterations\s+#1 failed worker=[0-9a-f-]{36} reason=Verify check failed: .* \| #2 failed .* \| #3 succeeded worker=[0-9a-f-]{36}$"));
        Assert.Equal(3, (await cli.Json("loop", "inspect", id))["iterations"]!.AsArray().Count);

        var table = (await cli.Ok("loop", "ls")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["LOOP ID", "NAME", "STATUS", "ITER", "CWD", "UPDATED"], TableRow(table[0]));
        Assert.Equal([id, "fix-tests", "succeeded", "-"], TableRow(table[1])[..4]);
    }

    [Fact]
    public async Task A_running_loop_stops_and_bad_flags_and_ids_fail_with_their_codes()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var id = (await cli.Ok("loop", "run", "[hang]", "--provider", "mock/mock-1", "--verify", "[say {\"passed\": true, \"reason\": \"ok\"}]", "--cwd", cli.Work, "-q")).Trim();
        Assert.Matches("^[0-9a-f]{8}$", id);
        var json = await cli.Json("loop", "inspect", id);
        Assert.Equal(("mock", "mock-1"), (json["provider"]!.GetValue<string>(), json["model"]!.GetValue<string>()));
        var stop = (await cli.Ok("loop", "stop", id)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["LOOP ID", "STATUS", "ITER"], TableRow(stop[0]));
        Assert.Equal([id, "stopped", "-"], TableRow(stop[1]));

        Assert.Equal("loop_request_failed", (await cli.Error("loop", "run", "x", "--provider", "mock"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_VERIFY_PROMPT", (await cli.Error("loop", "run", "x", "--verify", " "))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_MAX_ITERATIONS", (await cli.Error("loop", "run", "x", "--verify-check", "true", "--max-iterations", "0"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_DURATION", (await cli.Error("loop", "run", "x", "--verify-check", "true", "--sleep", "soon"))["code"]!.GetValue<string>());
        var missing = await cli.Error("loop", "inspect", "ffffffff");
        Assert.Equal(("LOOP_INSPECT_FAILED", "Loop not found: ffffffff"), (missing["code"]!.GetValue<string>(), missing["message"]!.GetValue<string>()));
        Assert.Equal("LOOP_STOP_FAILED", (await cli.Error("loop", "stop", "ffffffff"))["code"]!.GetValue<string>());
        var logs = await cli.Paseo("loop", "logs", "ffffffff");
        Assert.Equal(1, logs.ExitCode);
        Assert.Contains("Failed to stream loop logs: Loop not found: ffffffff", logs.StdErr);
        Assert.Equal("INVALID_POLL_INTERVAL", (await cli.Error("loop", "logs", id, "--poll-interval", "0"))["code"]!.GetValue<string>());
    }
}
