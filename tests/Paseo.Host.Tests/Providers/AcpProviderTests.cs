using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// A custom ACP provider (`agents.providers.fake-acp = {extends:"acp", command:[…]}`) against tests/standins/fake-acp.mjs
/// (JSON-RPC 2.0 over stdio, providers.md §4.4), through a real daemon process and the `paseo` CLI.
/// </summary>
public sealed class AcpProviderTests : IAsyncLifetime
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-acp-{Guid.NewGuid():N}.jsonl");
    private readonly string _store = Path.Combine(Path.GetTempPath(), $"fake-acp-store-{Guid.NewGuid():N}");
    private CliTarget _cli = null!;

    private static string StandIn => StandIns.Path("fake-acp.mjs");

    public async Task InitializeAsync()
    {
        var providers = new JsonObject
        {
            ["fake-acp"] = new JsonObject { ["extends"] = "acp", ["label"] = "Fake ACP", ["command"] = new JsonArray("node", StandIn) },
            ["acp-missing"] = new JsonObject { ["extends"] = "acp", ["label"] = "Missing", ["command"] = new JsonArray("no-such-acp-agent", "--acp") },
            // A Copilot profile is ACP too: here its command is the stand-in instead of `copilot --acp`.
            ["blind-acp"] = new JsonObject
            {
                ["extends"] = "acp", ["label"] = "No images", ["command"] = new JsonArray("node", StandIn), ["env"] = new JsonObject { ["FAKE_ACP_NO_IMAGES"] = "1" },
            },
            ["work-copilot"] = new JsonObject { ["extends"] = "copilot", ["label"] = "Work Copilot", ["command"] = new JsonArray("node", StandIn) },
        };
        _cli = await CliTarget.StartAsync("tcp", new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = providers } }.ToJsonString(),
            "paseo.providers.interrupt-grace = 1s\npaseo.providers.kill-grace = 1s\npaseo.providers.input-backlog = 8\npaseo.providers.max-file-bytes = 1k\n",
            new Dictionary<string, string> { ["FAKE_ACP_LOG"] = _log, ["FAKE_ACP_STORE"] = _store });
    }

    public async Task DisposeAsync()
    {
        await _cli.DisposeAsync();
        File.Delete(_log);
        if (Directory.Exists(_store)) Directory.Delete(_store, recursive: true);
    }

    private List<JsonObject> Starts() => StandIns.Starts(_log);

    [Fact]
    public async Task A_full_turn_runs_and_the_agent_s_own_modes_are_listed()
    {
        var run = await _cli.Json("run", "hello", "--provider", "fake-acp", "--title", "a1", "--cwd", _cli.Work);
        Assert.Equal(("idle", "Fake ACP reply to: hello"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));
        var items = (await _cli.Json("logs", "a1")).AsArray().Select(e => e!["item"]!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["user_message", "reasoning", "assistant_message"], items);
        Assert.Equal(run["agentId"]!.GetValue<string>(), Assert.Single(Starts())["agentId"]!.GetValue<string>());
        Assert.Equal("Images: image/png 68 bytes, image/jpeg 1000 bytes",
            (await _cli.Json(["send", "a1", "[images] look", .. ClaudeProviderTests.Images(_cli.Work)]))["lastMessage"]!.GetValue<string>());
        // The agent's own models (session/new `models`): the configured one is chosen with session/set_model.
        Assert.Equal("Model: smart", (await _cli.Json("run", "[model]", "--provider", "fake-acp", "--model", "smart", "--cwd", _cli.Work))["lastMessage"]!.GetValue<string>());
        var unknownModel = await _cli.Json("run", "[model]", "--provider", "fake-acp", "--model", "huge", "--title", "picky", "--cwd", _cli.Work);
        Assert.Equal("Model: fast", unknownModel["lastMessage"]!.GetValue<string>());
        Assert.Contains("! fake-acp does not offer model huge (it offers fast, smart); it keeps fast", await _cli.Ok("logs", "picky", "--filter", "errors"));
        // An agent that says it takes no images: the turn fails with why, rather than the images being dropped.
        var blind = await _cli.Paseo(["run", "[images] look", "--provider", "blind-acp", "--cwd", _cli.Work, "--json", .. ClaudeProviderTests.Images(_cli.Work)]);
        Assert.Equal(1, blind.ExitCode);
        Assert.Contains("blind-acp does not take images", JsonNode.Parse(blind.StdOut)!["error"]!.GetValue<string>());

        var modes = (await _cli.Json("agent", "mode", "a1")).AsArray();
        Assert.Equal(["ask", "yolo"], modes.Select(m => m!["id"]!.GetValue<string>()));
        Assert.True(modes[0]!["current"]!.GetValue<bool>());

        var providers = (await _cli.Json("provider", "ls")).AsArray();
        Assert.Equal("ready", providers.Single(p => p!["provider"]!.GetValue<string>() == "fake-acp")!["status"]!.GetValue<string>());
        Assert.Contains("no-such-acp-agent not found", providers.Single(p => p!["provider"]!.GetValue<string>() == "acp-missing")!["error"]!.GetValue<string>());

        // The built-in copilot (`copilot --acp`) is listed, unavailable here; a profile extending it runs.
        var copilot = providers.Single(p => p!["provider"]!.GetValue<string>() == "copilot")!;
        Assert.Equal("unavailable", copilot["status"]!.GetValue<string>());
        Assert.Contains("copilot not found on PATH", copilot["error"]!.GetValue<string>());
        Assert.Equal("Fake ACP reply to: hi", (await _cli.Json("run", "hi", "--provider", "work-copilot", "--cwd", _cli.Work))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task Permissions_are_allowed_and_denied_and_a_mode_change_reaches_the_agent()
    {
        await _cli.Ok("run", "-d", "[tool make test]", "--provider", "fake-acp", "--title", "perm", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "allow", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ make test make test [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("send", "perm", "[tool rm -rf /]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "deny", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ rm -rf / rm -rf / [failed: rejected by the user]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("agent", "mode", "perm", "yolo");
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "perm"))["currentModeId"]!.GetValue<string>() == "yolo", "the mode to change");
        Assert.Equal("idle", (await _cli.Json("send", "perm", "[tool ls]"))["status"]!.GetValue<string>());
        Assert.Equal("SET_MODE_FAILED", (await _cli.Error("agent", "mode", "perm", "nonsense"))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_ends_a_turn_and_a_deaf_agent_is_stopped_then_resumed_without_replaying_its_history()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "fake-acp", "--title", "stopper", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "stopper"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper"))["status"]!.GetValue<string>());

        await _cli.Ok("send", "stopper", "[deaf]", "--no-wait");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper", "--timeout", "30s"))["status"]!.GetValue<string>());
        var first = Starts()[0]["pid"]!.GetValue<int>();
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(first), "the deaf agent to be gone");

        // A new process, session/load: the agent replays three prompts, none of which is added again.
        var before = (await _cli.Json("logs", "stopper", "--filter", "text")).AsArray().Count;
        Assert.Equal("First prompt: [hang]", (await _cli.Json("send", "stopper", "[remember]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(before + 2, (await _cli.Json("logs", "stopper", "--filter", "text")).AsArray().Count);
        Assert.Equal(2, Starts().Count);
    }

    [Fact]
    public async Task Cancel_answers_a_pending_permission_as_cancelled_and_a_replaced_prompt_does_not_end_the_new_one()
    {
        // ACP: after session/cancel the client answers pending permission requests with "cancelled"; the agent waits
        // for that before it ends the prompt, so without it the stop would never finish.
        await _cli.Ok("run", "-d", "[tool make]", "--provider", "fake-acp", "--title", "asking", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("asking"));
        await _cli.Ok("stop", "asking");
        Assert.Equal("idle", (await _cli.Json("wait", "asking"))["status"]!.GetValue<string>());
        Assert.Empty((await _cli.Json("permit", "ls", "asking")).AsArray());

        // A prompt sent while a turn runs cancels it; the old prompt's late "cancelled" answer must not end the new turn.
        await _cli.Ok("send", "asking", "[hang]", "--no-wait");
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "asking"))["status"]!.GetValue<string>() == "running", "the turn to run");
        var next = await _cli.Json("send", "asking", "the next one");
        Assert.Equal(("idle", "Fake ACP reply to: the next one"), (next["status"]!.GetValue<string>(), next["lastMessage"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Plans_become_todo_rows_and_the_prompt_s_usage_is_reported()
    {
        await _cli.Ok("run", "[plan] [usage]", "--provider", "fake-acp", "--title", "planner", "--cwd", _cli.Work);
        var todo = (await _cli.Json("logs", "planner")).AsArray().Select(e => e!["item"]!).Single(i => i["type"]!.GetValue<string>() == "todo");
        Assert.Equal("""[{"text":"read the code","completed":true},{"text":"fix the bug","completed":false}]""", todo["items"]!.ToJsonString());
        var usage = (await _cli.Json("inspect", "planner"))["lastUsage"]!;
        Assert.Equal((40, 7, 3), (usage["inputTokens"]!.GetValue<int>(), usage["outputTokens"]!.GetValue<int>(), usage["cachedInputTokens"]!.GetValue<int>()));
    }

    [Fact]
    public async Task An_agent_that_stops_answering_requests_is_stopped_once_the_backlog_of_unanswered_ones_is_full()
    {
        await _cli.Ok("run", "-d", "[unanswering]", "--provider", "fake-acp", "--title", "mute", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "mute"))["status"]!.GetValue<string>() == "running", "the turn to run");
        // The prompt itself is unanswered; each mode change adds a session/set_mode that gets no answer.
        string? lastError = null;
        for (var i = 0; i < 12 && lastError is null; i++)
        {
            await _cli.Ok("agent", "mode", "mute", i % 2 == 0 ? "yolo" : "ask");
            if ((await _cli.Json("inspect", "mute"))["lastError"]?.GetValue<string>() is { } error) lastError = error;
        }
        Assert.Equal("fake-acp left 8 requests unanswered (paseo.providers.input-backlog); its process was stopped", lastError);
        Assert.Equal("error", (await _cli.Json("inspect", "mute"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_crash_or_an_exit_during_a_permission_fails_only_that_agent()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "fake-acp", "--title", "bystander", "--cwd", _cli.Work);
        var crashed = await _cli.Paseo("run", "[crash]", "--provider", "fake-acp", "--title", "crasher", "--cwd", _cli.Work, "--json");
        Assert.Equal(1, crashed.ExitCode);
        Assert.Contains("fake-acp exited with code 3: panic: simulated crash", JsonNode.Parse(crashed.StdOut)!["error"]!.GetValue<string>());
        Assert.Equal("running", (await _cli.Json("inspect", "bystander"))["status"]!.GetValue<string>());
        Assert.Equal("idle", (await _cli.Json("send", "crasher", "back?"))["status"]!.GetValue<string>());

        await _cli.Ok("run", "-d", "[exit-on-permission]", "--provider", "fake-acp", "--title", "quitter", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "quitter"))["status"]!.GetValue<string>() == "error", "the turn to fail");
        Assert.Contains("exited with code 4: panic: gave up", (await _cli.Json("inspect", "quitter"))["lastError"]!.GetValue<string>());
        Assert.Empty((await _cli.Json("permit", "ls", "quitter")).AsArray());
    }

    [Fact]
    public async Task Malformed_output_is_shown_a_flood_arrives_whole_and_files_outside_the_cwd_are_refused()
    {
        Assert.Equal("idle", (await _cli.Json("run", "[malformed] go on", "--provider", "fake-acp", "--title", "odd", "--cwd", _cli.Work))["status"]!.GetValue<string>());
        Assert.Contains("! fake-acp printed a line that is not JSON: { not json at all", await _cli.Ok("logs", "odd", "--filter", "errors"));
        var flood = (await _cli.Json("send", "odd", "[flood 5000]"))["lastMessage"]!.GetValue<string>();
        Assert.Contains("chunk 4999 ", flood);

        var outside = Path.Combine(Path.GetDirectoryName(_cli.Work)!, "outside.txt");
        Assert.StartsWith("write refused: Path outside the agent's working directory", (await _cli.Json("send", "odd", $"[write {outside}]"))["lastMessage"]!.GetValue<string>());
        Assert.False(File.Exists(outside));
        Assert.StartsWith("write ok", (await _cli.Json("send", "odd", "[write notes.txt]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal("written by the agent", await File.ReadAllTextAsync(Path.Combine(_cli.Work, "notes.txt")));
    }

    [Fact]
    public async Task Files_the_agent_reads_or_writes_are_capped_by_max_file_bytes_and_the_agent_goes_on()
    {
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "small.txt"), "tiny");
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "big.txt"), new string('b', 2048)); // paseo.providers.max-file-bytes = 1k here
        await _cli.Ok("run", "start", "--provider", "fake-acp", "--title", "files", "--cwd", _cli.Work);

        Assert.StartsWith("read: tiny", (await _cli.Json("send", "files", "[read small.txt]"))["lastMessage"]!.GetValue<string>());
        var bigRead = (await _cli.Json("send", "files", "[read big.txt]"))["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("read refused: ", bigRead);
        Assert.Contains("more than the daemon serves to an agent (paseo.providers.max-file-bytes = 1024)", bigRead);
        // What only looks like a small file inside the cwd: a FIFO (a read would block for good) and a link out of the cwd.
        var fifo = Path.Combine(_cli.Work, "pipe.txt");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) await mkfifo.WaitForExitAsync();
        Assert.Contains("pipe.txt is not a regular file", (await _cli.Json("send", "files", "[read pipe.txt]"))["lastMessage"]!.GetValue<string>());
        var secret = Path.Combine(Path.GetDirectoryName(_cli.Work)!, "secret.txt");
        await File.WriteAllTextAsync(secret, "outside");
        File.CreateSymbolicLink(Path.Combine(_cli.Work, "link.txt"), secret);
        Assert.Contains("outside the agent's working directory (through a link)", (await _cli.Json("send", "files", "[read link.txt]"))["lastMessage"]!.GetValue<string>());
        Assert.Contains("outside the agent's working directory (through a link)", (await _cli.Json("send", "files", "[write link.txt 10]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal("outside", await File.ReadAllTextAsync(secret));
        // A link to a file outside that does not exist yet: writing through it would create that file out of the cwd.
        var planted = Path.Combine(Path.GetDirectoryName(_cli.Work)!, "planted.txt");
        File.CreateSymbolicLink(Path.Combine(_cli.Work, "dangling.txt"), planted);
        Assert.StartsWith("write refused: ", (await _cli.Json("send", "files", "[write dangling.txt 10]"))["lastMessage"]!.GetValue<string>());
        Assert.False(File.Exists(planted));

        var bigWrite = (await _cli.Json("send", "files", "[write large.txt 2000]"))["lastMessage"]!.GetValue<string>();
        Assert.Contains("the content has 2000 bytes, more than the daemon writes for an agent (paseo.providers.max-file-bytes = 1024)", bigWrite);
        Assert.False(File.Exists(Path.Combine(_cli.Work, "large.txt")));
        Assert.StartsWith("write ok", (await _cli.Json("send", "files", "[write fits.txt 1000]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(1000, new FileInfo(Path.Combine(_cli.Work, "fits.txt")).Length);
        Assert.Equal("idle", (await _cli.Json("inspect", "files"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_session_resumes_after_a_daemon_restart_and_no_agent_process_outlives_the_daemon()
    {
        await _cli.Ok("run", "the first words", "--provider", "fake-acp", "--title", "memory", "--cwd", _cli.Work);
        await _cli.Ok("run", "-d", "[hang]", "--provider", "fake-acp", "--title", "busy", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(() => Starts().Count == 2, "both processes to start");
        var pids = Starts().Select(s => s["pid"]!.GetValue<int>()).ToList();

        await _cli.StopDaemonAsync();
        Assert.All(pids, pid => Assert.False(ProcessLiveness.IsAlive(pid), $"agent process {pid} outlived the daemon"));

        await _cli.RestartDaemonAsync();
        Assert.Equal("First prompt: the first words", (await _cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
