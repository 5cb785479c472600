using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The `claude` provider against tests/standins/fake-claude.mjs (the stream-json protocol of providers.md §4.1, and its
/// failure modes), through a real daemon process and the `paseo` CLI: the daemon launches the stand-in as it would the
/// real CLI, one process group per agent.
/// </summary>
public sealed class ClaudeProviderTests : IAsyncLifetime
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-claude-{Guid.NewGuid():N}.jsonl");
    private readonly string _store = Path.Combine(Path.GetTempPath(), $"fake-claude-store-{Guid.NewGuid():N}");
    private CliTarget _cli = null!;

    public static string StandIn => StandIns.Path("fake-claude.mjs");

    public static string Config(params (string Id, JsonObject Profile)[] extra)
    {
        // IS_SANDBOX=1: when the tests run as root, the CLI (and its stand-in) only take bypassPermissions in a sandbox.
        var providers = new JsonObject
        {
            ["claude"] = new JsonObject { ["command"] = new JsonArray("node", StandIn), ["env"] = new JsonObject { ["IS_SANDBOX"] = "1" } },
        };
        foreach (var (id, profile) in extra) providers[id] = profile;
        return new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = providers } }.ToJsonString();
    }

    public async Task InitializeAsync() =>
        _cli = await CliTarget.StartAsync("tcp", Config(
                ("claude-missing", new JsonObject { ["extends"] = "claude", ["label"] = "Missing", ["command"] = new JsonArray("no-such-claude-binary") }),
                ("claude-work", new JsonObject
                {
                    ["extends"] = "claude", ["label"] = "Claude (work)", ["command"] = new JsonArray("node", StandIn),
                    ["env"] = new JsonObject { ["PROFILE_ENV_CHECK"] = "from the profile" },
                    ["models"] = new JsonArray("work-model"), ["additionalModels"] = new JsonArray(new JsonObject { ["id"] = "extra-model", ["label"] = "Extra" }),
                }),
                ("claude-off", new JsonObject { ["extends"] = "claude", ["label"] = "Off", ["command"] = new JsonArray("node", StandIn), ["enabled"] = false })),
            "paseo.providers.interrupt-grace = 1s\npaseo.providers.kill-grace = 1s\npaseo.providers.input-backlog = 8\n",
            new Dictionary<string, string> { ["FAKE_CLAUDE_LOG"] = _log, ["FAKE_CLAUDE_STORE"] = _store });

    public async Task DisposeAsync()
    {
        await _cli.DisposeAsync();
        File.Delete(_log);
        if (Directory.Exists(_store)) Directory.Delete(_store, recursive: true);
    }

    private List<JsonObject> Starts() => StandIns.Starts(_log);

    /// <summary>The `code` of a `paseo wait --json` that did not end idle (exit 1 with the result printed).</summary>
    /// <summary>--image arguments for two small files (a PNG of 68 bytes and a JPEG of 1000).</summary>
    public static string[] Images(string folder)
    {
        var png = Path.Combine(folder, "shot.png");
        var jpg = Path.Combine(folder, "photo.jpg");
        File.WriteAllBytes(png, new byte[68]);
        File.WriteAllBytes(jpg, new byte[1000]);
        return ["--image", png, "--image", jpg];
    }

    [Fact]
    public async Task A_full_turn_streams_reasoning_and_the_reply_and_the_cli_is_launched_as_the_sdk_would()
    {
        var run = await _cli.Json("run", "hello there", "--provider", "claude", "--title", "c1", "--cwd", _cli.Work);
        Assert.Equal(("idle", "Fake claude reply to: hello there"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));
        var agentId = run["agentId"]!.GetValue<string>();

        var logs = (await _cli.Json("logs", "c1")).AsArray().Select(e => e!["item"]!).ToList();
        Assert.Equal(["user_message", "reasoning", "assistant_message"], logs.Select(i => i["type"]!.GetValue<string>()));
        Assert.Equal("Fake claude reply to: hello there", logs[2]["text"]!.GetValue<string>());
        Assert.Equal("Images: image/png 68 bytes, image/jpeg 1000 bytes", (await _cli.Json(["send", "c1", "[images] look", .. Images(_cli.Work)]))["lastMessage"]!.GetValue<string>());

        var start = Assert.Single(Starts());
        var argv = start["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        Assert.Equal(agentId, start["agentId"]!.GetValue<string>());
        Assert.Equal(_cli.Work, start["cwd"]!.GetValue<string>());
        foreach (var expected in new[] { "--output-format", "stream-json", "--verbose", "--input-format", "--permission-prompt-tool", "stdio", "--include-partial-messages" })
            Assert.Contains(expected, argv);
        Assert.Equal("default", argv[argv.IndexOf("--permission-mode") + 1]);

        // The provider's session id is the agent's persistence handle (what resume uses).
        var inspected = await _cli.Json("inspect", "c1");
        Assert.False(string.IsNullOrEmpty(inspected["persistence"]?["sessionId"]?.GetValue<string>()));
        var providers = (await _cli.Json("provider", "ls")).AsArray();
        Assert.Equal("ready", providers.Single(p => p!["provider"]!.GetValue<string>() == "claude")!["status"]!.GetValue<string>());
        var missing = providers.Single(p => p!["provider"]!.GetValue<string>() == "claude-missing")!;
        Assert.Equal("unavailable", missing["status"]!.GetValue<string>());
        Assert.Contains("no-such-claude-binary not found", missing["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_custom_profile_has_its_own_command_environment_and_models_and_a_disabled_one_is_listed_unavailable()
    {
        Assert.Equal(["work-model", "extra-model"], (await _cli.Ok("provider", "models", "claude-work", "-q")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var run = await _cli.Json("run", "hi", "--provider", "claude-work", "--model", "work-model", "--title", "w", "--cwd", _cli.Work);
        Assert.Equal("idle", run["status"]!.GetValue<string>());
        var start = Assert.Single(Starts());
        Assert.Equal("from the profile", start["profileEnv"]!.GetValue<string>());
        var argv = start["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        Assert.Equal("work-model", argv[argv.IndexOf("--model") + 1]);

        var off = (await _cli.Json("provider", "ls")).AsArray().Single(p => p!["provider"]!.GetValue<string>() == "claude-off")!;
        Assert.Equal(("unavailable", false), (off["status"]!.GetValue<string>(), off["enabled"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task Stderr_goes_to_the_daemon_log_and_deleting_an_agent_stops_its_process()
    {
        var failed = await _cli.Paseo("run", "[crash]", "--provider", "claude", "--title", "loud", "--cwd", _cli.Work, "--json");
        var agentId = JsonNode.Parse(failed.StdOut)!["agentId"]!.GetValue<string>();
        await Eventually.HoldsAsync(() => File.Exists(_cli.DaemonHome.Home.DaemonLog)
            && File.ReadLines(_cli.DaemonHome.Home.DaemonLog).Any(l => l.Contains("fatal: simulated crash") && l.Contains(agentId)), "the stderr line in daemon.log");

        await _cli.Ok("run", "-d", "[hang]", "--provider", "claude", "--title", "doomed", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(() => Starts().Count == 2, "its process to start");
        var pid = Starts()[1]["pid"]!.GetValue<int>();
        await _cli.Ok("delete", "doomed");
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(pid), "the deleted agent's process to be gone");
    }

    [Fact]
    public async Task Permissions_are_asked_allowed_and_denied_and_modes_change_in_the_running_cli()
    {
        await _cli.Ok("run", "-d", "[tool ls -la]", "--provider", "claude", "--title", "perm", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        var pending = Assert.Single((await _cli.Json("permit", "ls")).AsArray())!;
        Assert.StartsWith("permission-", pending["requestId"]!.GetValue<string>());
        Assert.Equal("Bash: ls -la", pending["title"]!.GetValue<string>());
        await _cli.Ok("permit", "allow", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ Bash ls -la [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("send", "perm", "[tool rm -rf build]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "deny", "perm", "--message", "not that one");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ Bash rm -rf build [failed: not that one]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        // bypassPermissions, set on the live process (set_permission_mode): the next tool runs without asking.
        await _cli.Ok("agent", "mode", "perm", "bypassPermissions");
        Assert.Equal("bypassPermissions", (await _cli.Json("inspect", "perm"))["currentModeId"]!.GetValue<string>());
        Assert.Equal("idle", (await _cli.Json("send", "perm", "[tool make]"))["status"]!.GetValue<string>());
        Assert.Contains("$ Bash make [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));
        Assert.Single(Starts());
    }

    [Fact]
    public async Task Compactions_sub_agents_plans_and_thinking_flags_are_mapped()
    {
        var run = await _cli.Json("run", "[compact] [subagent] [flags]", "--provider", "claude", "--title", "rich", "--thinking", "high", "--cwd", _cli.Work);
        Assert.Equal("thinking=adaptive effort=high checkpointing=true model=default first=[compact] [subagent] [flags]", run["lastMessage"]!.GetValue<string>());
        var items = (await _cli.Json("logs", "rich")).AsArray().Select(e => e!["item"]!).ToList();
        var compactions = items.Where(i => i["type"]!.GetValue<string>() == "compaction").ToList();
        Assert.Equal("""{"type":"compaction","status":"completed","trigger":"auto","preTokens":154321}""", compactions.Last().ToJsonString());
        // The sub-agent's messages are in the Task row's log, not top-level rows (nor its partial deltas).
        var task = items.Last(i => i["type"]!.GetValue<string>() == "tool_call" && i["callId"]!.GetValue<string>() == items.First(x => x["name"]?.GetValue<string>() == "Task")["callId"]!.GetValue<string>());
        Assert.Equal(("completed", "sub_agent", "Explore"), (task["status"]!.GetValue<string>(), task["detail"]!["type"]!.GetValue<string>(), task["detail"]!["subAgentType"]!.GetValue<string>()));
        Assert.Equal("Looking for the config.\n▸ Grep paseo.hocon\nIt is src/paseo.hocon", task["detail"]!["log"]!.GetValue<string>());
        Assert.DoesNotContain(items, i => i["type"]!.GetValue<string>() == "tool_call" && i["name"]!.GetValue<string>() == "Grep");
        Assert.DoesNotContain(items, i => (i["text"]?.GetValue<string>() ?? "").Contains("SIDECHAIN") || (i["text"]?.GetValue<string>() ?? "").Contains("Looking for the config."));

        await _cli.Ok("send", "rich", "[plan-exit]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("rich"));
        var plan = Assert.Single((await _cli.Json("permit", "ls", "rich")).AsArray())!;
        Assert.Equal("plan", plan["kind"]!.GetValue<string>());
        Assert.Equal("1. Read the code\n2. Fix the bug", plan["metadata"]!["planText"]!.GetValue<string>());
        Assert.Equal(["reject:deny:dismiss", "implement:allow:implement"], plan["actions"]!.AsArray().Select(a => $"{a!["id"]}:{a["behavior"]}:{a["intent"]}"));
        await _cli.Ok("permit", "allow", "rich");
        Assert.Equal("Plan approved", (await _cli.Json("wait", "rich"))["lastMessage"]!.GetValue<string>());

        // AskUserQuestion: a question permission; the answers alone are enough, the questions go back with them.
        await _cli.Ok("send", "rich", "[ask]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("rich"));
        var question = Assert.Single((await _cli.Json("permit", "ls", "rich")).AsArray())!;
        Assert.Equal(("question", "Which color?"), (question["kind"]!.GetValue<string>(), question["input"]!["questions"]![0]!["question"]!.GetValue<string>()));
        await _cli.Ok("permit", "allow", "rich", "--input", """{"answers":{"Which color?":"blue"}}""");
        Assert.Equal("""Answered: {"Which color?":"blue"}""", (await _cli.Json("wait", "rich"))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_cli_that_stops_reading_its_input_is_stopped_with_a_clear_error_and_long_stderr_lines_are_cut()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "claude", "--title", "bystander", "--cwd", _cli.Work);
        await _cli.Ok("run", "-d", "[stop-reading]", "--provider", "claude", "--title", "stuck", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "stuck"))["status"]!.GetValue<string>() == "running", "the turn to run");
        var stuckId = (await _cli.Json("inspect", "stuck"))["id"]!.GetValue<string>();
        var stuckPid = Starts().Single(s => s["agentId"]!.GetValue<string>() == stuckId)["pid"]!.GetValue<int>();

        // Each prompt replaces the turn (an interrupt and a 120 kB message): the pipe fills, then the 8-message queue.
        var big = new string('y', 120_000);
        string? lastError = null;
        for (var i = 0; i < 20 && lastError is null; i++)
        {
            await _cli.Ok("send", "stuck", big, "--no-wait");
            var inspected = await _cli.Json("inspect", "stuck");
            if (inspected["lastError"]?.GetValue<string>() is { } error && error.Contains("stopped reading its input")) lastError = error;
        }
        Assert.Equal("claude stopped reading its input (8 messages waiting, paseo.providers.input-backlog); its process was stopped", lastError);
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(stuckPid), "the stuck process to be stopped");
        Assert.Equal("running", (await _cli.Json("inspect", "bystander"))["status"]!.GetValue<string>());

        Assert.Equal("idle", (await _cli.Json("run", "[long-stderr]", "--provider", "claude", "--title", "noisy", "--cwd", _cli.Work))["status"]!.GetValue<string>());
        await Eventually.HoldsAsync(() => File.ReadLines(_cli.DaemonHome.Home.DaemonLog).Any(l => l.Contains(new string('E', 8192) + " …(cut: paseo.providers.max-stderr-line-bytes)")),
            "the cut stderr line in daemon.log");
        Assert.DoesNotContain(File.ReadLines(_cli.DaemonHome.Home.DaemonLog), l => l.Contains(new string('E', 8193)));
    }

    [Fact]
    public async Task A_model_or_thinking_change_restarts_the_cli_resumed_with_the_new_flags()
    {
        var agentId = (await _cli.Json("run", "first words", "--provider", "claude", "--title", "switcher", "--cwd", _cli.Work))["agentId"]!.GetValue<string>();
        await using var client = await ProtocolClient.ConnectAsync(new Uri($"ws://{_cli.Host}/ws"));
        await client.HelloAsync("model-switcher");

        var unknown = ProtocolClient.Payload(await client.RequestAsync("set_agent_model_request", new JsonObject { ["agentId"] = agentId, ["modelId"] = "sonet" }), "set_agent_model_response")!;
        Assert.False(unknown["accepted"]!.GetValue<bool>());
        Assert.StartsWith("Unknown model sonet for provider claude (known: sonnet, opus, haiku", unknown["error"]!.GetValue<string>());

        var model = ProtocolClient.Payload(await client.RequestAsync("set_agent_model_request", new JsonObject { ["agentId"] = agentId, ["modelId"] = "opus" }), "set_agent_model_response")!;
        Assert.True(model["accepted"]!.GetValue<bool>());
        var thinking = ProtocolClient.Payload(await client.RequestAsync("set_agent_thinking_request", new JsonObject { ["agentId"] = agentId, ["thinkingOptionId"] = "max" }), "set_agent_thinking_response")!;
        Assert.True(thinking["accepted"]!.GetValue<bool>());
        Assert.Equal("opus", (await _cli.Json("inspect", "switcher"))["model"]!.GetValue<string>());

        // The first process is replaced by one started with the new flags, resuming the same conversation.
        Assert.Equal("thinking=adaptive effort=max checkpointing=true model=opus first=first words",
            (await _cli.Json("send", "switcher", "[flags]"))["lastMessage"]!.GetValue<string>());
        var starts = Starts().Where(s => s["agentId"]!.GetValue<string>() == agentId).ToList();
        Assert.Equal(2, starts.Count);
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(starts[0]["pid"]!.GetValue<int>()), "the first process to be gone");

        // During a turn the change waits for the turn to end: the running process is not cut off.
        await _cli.Ok("send", "switcher", "[hang]", "--no-wait");
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "switcher"))["status"]!.GetValue<string>() == "running", "the turn to run");
        var during = ProtocolClient.Payload(await client.RequestAsync("set_agent_thinking_request", new JsonObject { ["agentId"] = agentId, ["thinkingOptionId"] = "low" }), "set_agent_thinking_response")!;
        Assert.True(during["accepted"]!.GetValue<bool>());
        Assert.Equal("running", (await _cli.Json("inspect", "switcher"))["status"]!.GetValue<string>());
        Assert.True(ProcessLiveness.IsAlive(Starts().Last(s => s["agentId"]!.GetValue<string>() == agentId)["pid"]!.GetValue<int>()));
        await _cli.Ok("stop", "switcher");
        Assert.Equal("thinking=adaptive effort=low checkpointing=true model=opus first=first words",
            (await _cli.Json("send", "switcher", "[flags]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(3, Starts().Count(s => s["agentId"]!.GetValue<string>() == agentId));

        var feature = ProtocolClient.Payload(await client.RequestAsync("set_agent_feature_request", new JsonObject { ["agentId"] = agentId, ["featureId"] = "fast", ["value"] = true }), "set_agent_feature_response")!;
        Assert.False(feature["accepted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task As_root_outside_a_sandbox_bypass_is_not_offered_to_the_cli_and_asking_for_it_says_why()
    {
        // claude-work has no IS_SANDBOX=1. The real CLI refuses to start as root with the bypass flag: it is left out.
        var agentId = (await _cli.Json("run", "hi", "--provider", "claude-work", "--title", "rooted", "--cwd", _cli.Work))["agentId"]!.GetValue<string>();
        var argv = Starts().Single(s => s["agentId"]!.GetValue<string>() == agentId)["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        if (!Paseo.Transport.Processes.ChildProcess.RunningAsRoot)
        {
            Assert.Contains("--allow-dangerously-skip-permissions", argv);
            return;
        }
        Assert.DoesNotContain("--allow-dangerously-skip-permissions", argv);
        await _cli.Ok("agent", "mode", "rooted", "bypassPermissions");
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "rooted"))["currentModeId"]!.GetValue<string>() == "default", "the refused mode to be undone");
        Assert.Contains("claude refused mode bypassPermissions: Cannot set permission mode to bypassPermissions because the session was not launched with --dangerously-skip-permissions",
            await _cli.Ok("logs", "rooted", "--filter", "errors"));

        // Created in bypassPermissions: the CLI would refuse to start, so it starts in default and the agent says why.
        var bypassId = (await _cli.Json("run", "hi", "--provider", "claude-work", "--mode", "bypassPermissions", "--title", "rooted-bypass", "--cwd", _cli.Work))["agentId"]!.GetValue<string>();
        var bypassArgv = Starts().Single(s => s["agentId"]!.GetValue<string>() == bypassId)["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        Assert.Equal("default", bypassArgv[bypassArgv.IndexOf("--permission-mode") + 1]);
        Assert.Equal("default", (await _cli.Json("inspect", "rooted-bypass"))["currentModeId"]!.GetValue<string>());
        Assert.Contains("starting in default", await _cli.Ok("logs", "rooted-bypass", "--filter", "errors"));
    }

    [Fact]
    public async Task An_interrupt_ends_the_turn_and_a_deaf_process_is_stopped_and_replaced_on_the_next_prompt()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "claude", "--title", "stopper", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "stopper"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper"))["status"]!.GetValue<string>());
        Assert.Equal("Fake claude reply to: again", (await _cli.Json("send", "stopper", "again"))["lastMessage"]!.GetValue<string>());
        Assert.Single(Starts()); // same process

        await _cli.Ok("send", "stopper", "[deaf]", "--no-wait");
        await _cli.Ok("stop", "stopper");
        // interrupt-grace is 1 s here: the process did not end the turn, so it was stopped.
        Assert.Equal("idle", (await _cli.Json("wait", "stopper", "--timeout", "30s"))["status"]!.GetValue<string>());
        var first = Starts()[0]["pid"]!.GetValue<int>();
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(first), "the deaf process to be gone");

        Assert.Equal("idle", (await _cli.Json("send", "stopper", "fresh start"))["status"]!.GetValue<string>());
        var second = Starts()[1];
        Assert.Contains(second["argv"]!.AsArray(), a => a!.GetValue<string>().StartsWith("--resume=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_crash_fails_the_turn_with_the_exit_code_and_stderr_and_harms_no_other_agent()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "claude", "--title", "bystander", "--cwd", _cli.Work);
        var crashed = await _cli.Paseo("run", "[crash]", "--provider", "claude", "--title", "crasher", "--cwd", _cli.Work, "--json");
        Assert.Equal(1, crashed.ExitCode);
        var result = JsonNode.Parse(crashed.StdOut)!;
        Assert.Equal("AGENT_ERROR", result["code"]!.GetValue<string>());
        Assert.Contains("claude exited with code 3: fatal: simulated crash", result["error"]!.GetValue<string>());
        Assert.Equal("error", (await _cli.Json("inspect", "crasher"))["status"]!.GetValue<string>());
        Assert.Equal("running", (await _cli.Json("inspect", "bystander"))["status"]!.GetValue<string>());
        // The next prompt starts a fresh process, resumed.
        Assert.Equal("idle", (await _cli.Json("send", "crasher", "are you back?"))["status"]!.GetValue<string>());

        // Exits while its permission prompt is pending: the turn fails, and the prompt is gone with it.
        await _cli.Ok("run", "-d", "[exit-on-permission]", "--provider", "claude", "--title", "quitter", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "quitter"))["status"]!.GetValue<string>() == "error", "the turn to fail");
        Assert.Contains("claude exited with code 4: fatal: gave up waiting", (await _cli.Json("inspect", "quitter"))["lastError"]!.GetValue<string>());
        Assert.Empty((await _cli.Json("permit", "ls", "quitter")).AsArray());
    }

    [Fact]
    public async Task A_malformed_line_is_shown_and_the_turn_goes_on_and_a_flood_arrives_whole()
    {
        var run = await _cli.Json("run", "[malformed] then answer", "--provider", "claude", "--title", "odd", "--cwd", _cli.Work);
        Assert.Equal("idle", run["status"]!.GetValue<string>());
        Assert.Contains("! claude printed a line that is not JSON: this is not json {", await _cli.Ok("logs", "odd", "--filter", "errors"));

        var flood = await _cli.Json("send", "odd", "[flood 5000]");
        Assert.Equal("idle", flood["status"]!.GetValue<string>());
        var text = flood["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("chunk 0 chunk 1 ", text);
        Assert.Contains("chunk 4999 ", text);
    }

    [Fact]
    public async Task A_conversation_resumes_after_a_daemon_restart_and_no_process_outlives_the_daemon()
    {
        await _cli.Ok("run", "remember the word paseo", "--provider", "claude", "--title", "memory", "--cwd", _cli.Work);
        await _cli.Ok("run", "-d", "[hang]", "--provider", "claude", "--title", "busy", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(() => Starts().Count == 2, "both processes to start");
        var pids = Starts().Select(s => s["pid"]!.GetValue<int>()).ToList();

        await _cli.StopDaemonAsync();
        Assert.All(pids, pid => Assert.False(ProcessLiveness.IsAlive(pid), $"stand-in {pid} outlived the daemon"));

        await _cli.RestartDaemonAsync();
        var resumed = await _cli.Json("send", "memory", "[remember]");
        Assert.Equal("First prompt: remember the word paseo", resumed["lastMessage"]!.GetValue<string>());
        var restart = Starts()[2];
        var sessionId = (await _cli.Json("inspect", "memory"))["persistence"]!["sessionId"]!.GetValue<string>();
        Assert.Contains($"--resume={sessionId}", restart["argv"]!.AsArray().Select(a => a!.GetValue<string>()));
    }
}
