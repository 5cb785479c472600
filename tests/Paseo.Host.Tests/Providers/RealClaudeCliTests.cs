using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The REAL Claude Code CLI (npm, tests/realcli) driven by the daemon through whole turns: only Anthropic's cloud is
/// replaced, by tests/standins/fake-anthropic-api.mjs on loopback (ANTHROPIC_BASE_URL), so the stream-json protocol,
/// the permission prompts and resume are those of the real binary, not of our stand-in. When it is not installed each test is reported skipped with the reason (a failure under CI=true).
/// </summary>
public sealed class RealClaudeCliTests : IAsyncLifetime
{
    private static readonly string Binary = RealCli.Binary("claude");

    private readonly string _claudeHome = Path.Combine(Path.GetTempPath(), $"real-claude-home-{Guid.NewGuid():N}");
    private Process? _api;
    private CliTarget? _cli;

    public async Task InitializeAsync()
    {
        // Nothing to set up without the CLI: every test of this class then reports itself skipped (RealCli.Require).
        if (!File.Exists(Binary)) return;
        (_api, var port) = await RealCli.StartApiAsync("fake-anthropic-api.mjs");
        Directory.CreateDirectory(_claudeHome);
        var claude = new JsonObject
        {
            ["command"] = new JsonArray(Binary),
            // The CLI's own home (its sessions, settings) apart from the developer's; its API on loopback; a dummy key the
            // fake API ignores (Paseo.NET itself passes no credentials: this is the profile env of config.json).
            ["env"] = new JsonObject
            {
                ["HOME"] = _claudeHome,
                ["ANTHROPIC_BASE_URL"] = $"http://127.0.0.1:{port}",
                ["ANTHROPIC_API_KEY"] = "sk-ant-test-not-a-key",
                ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
                ["DISABLE_TELEMETRY"] = "1",
                ["DISABLE_AUTOUPDATER"] = "1",
            },
        };
        RealCli.AddOfflineEnvironment((JsonObject)claude["env"]!);
        // The same CLI told it runs in a sandbox (IS_SANDBOX=1), which is what lets it bypass permissions as root.
        var sandboxed = (JsonObject)claude.DeepClone();
        sandboxed["extends"] = "claude";
        sandboxed["label"] = "Claude (sandboxed)";
        sandboxed["env"]!["IS_SANDBOX"] = "1";
        _cli = await CliTarget.StartAsync("tcp",
            new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["claude"] = claude, ["claude-sandboxed"] = sandboxed } } }.ToJsonString(),
            "paseo.providers.kill-grace = 2s\n");
    }

    public async Task DisposeAsync()
    {
        if (_cli is not null) await _cli.DisposeAsync();
        await RealCli.StopAsync(_api);
        if (Directory.Exists(_claudeHome)) Directory.Delete(_claudeHome, recursive: true);
    }


    [SkippableFact]
    public async Task The_real_cli_runs_turns_asks_for_tools_obeys_allow_deny_and_modes_and_is_interrupted()
    {
        RealCli.Require(Binary, "@anthropic-ai/claude-code");
        var cli = _cli!;
        var run = await cli.Json("run", "hello real cli", "--provider", "claude", "--title", "real", "--cwd", cli.Work);
        Assert.Equal(("idle", "Echo: hello real cli"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty((await cli.Json("inspect", "real"))["persistence"]?["sessionId"]?.GetValue<string>()));

        // A command that changes something: the real CLI asks (can_use_tool) and runs it only when allowed.
        await cli.Ok("send", "real", "[tool touch allowed.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        Assert.Equal("Bash: touch allowed.txt", Assert.Single((await cli.Json("permit", "ls", "real")).AsArray())!["title"]!.GetValue<string>());
        await cli.Ok("permit", "allow", "real");
        var allowed = await cli.Json("wait", "real");
        Assert.StartsWith("Tool result:", allowed["lastMessage"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(cli.Work, "allowed.txt")));
        Assert.Contains("Bash touch allowed.txt [completed]", await cli.Ok("logs", "real", "--filter", "tools"));

        await cli.Ok("send", "real", "[tool touch denied.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        await cli.Ok("permit", "deny", "real", "--message", "not that file");
        var denied = await cli.Json("wait", "real");
        Assert.StartsWith("Tool refused:", denied["lastMessage"]!.GetValue<string>());
        Assert.Contains("not that file", denied["lastMessage"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(cli.Work, "denied.txt")));

        // bypassPermissions on the live CLI (set_permission_mode). As root the CLI was started without the bypass flag
        // (it refuses to start with it outside a sandbox): it refuses the mode, says why, and the agent keeps its mode.
        await cli.Ok("agent", "mode", "real", "bypassPermissions");
        if (Paseo.Transport.Processes.ChildProcess.RunningAsRoot)
        {
            await Eventually.HoldsAsync(async () => (await cli.Json("inspect", "real"))["currentModeId"]!.GetValue<string>() == "default", "the refused mode to be undone");
            Assert.Contains("claude refused mode bypassPermissions", await cli.Ok("logs", "real", "--filter", "errors"));
            await cli.Ok("agent", "mode", "real", "acceptEdits");
            await Eventually.HoldsAsync(async () => (await cli.Json("inspect", "real"))["currentModeId"]!.GetValue<string>() == "acceptEdits", "acceptEdits");
        }
        else
        {
            Assert.Equal("idle", (await cli.Json("send", "real", "[tool touch bypassed.txt]"))["status"]!.GetValue<string>());
            Assert.True(File.Exists(Path.Combine(cli.Work, "bypassed.txt")));
        }
        // In a sandbox, bypassPermissions from the start: the command runs without a question.
        var sandbox = await cli.Json("run", "[tool touch sandboxed.txt]", "--provider", "claude-sandboxed", "--mode", "bypassPermissions", "--cwd", cli.Work);
        Assert.Equal("idle", sandbox["status"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(cli.Work, "sandboxed.txt")));

        // An answer that never finishes: the interrupt control request ends the turn.
        await cli.Ok("send", "real", "[hang]", "--no-wait");
        await Eventually.HoldsAsync(async () => (await cli.Json("inspect", "real"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await cli.Ok("stop", "real");
        Assert.Equal("idle", (await cli.Json("wait", "real"))["status"]!.GetValue<string>());
        Assert.Equal("Echo: still here", (await cli.Json("send", "real", "still here"))["lastMessage"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task A_background_sub_agent_of_the_real_cli_is_one_task_row_and_the_turn_it_triggers_is_shown()
    {
        RealCli.Require(Binary, "@anthropic-ai/claude-code");
        var cli = _cli!;
        var run = await cli.Json("run", "[task]", "--provider", "claude-sandboxed", "--mode", "bypassPermissions", "--title", "boss", "--cwd", cli.Work);
        Assert.StartsWith("Tool result: Async agent launched", run["lastMessage"]!.GetValue<string>());

        // The sub-agent's work and report end up in the one Task row, completed when the CLI says the task is done.
        await Eventually.HoldsAsync(async () => (await cli.Json("logs", "boss")).AsArray().Select(e => e!["item"]!)
            .Any(i => i["type"]!.GetValue<string>() == "tool_call" && i["status"]!.GetValue<string>() == "completed"), "the sub-agent's row to complete");
        var task = (await cli.Json("logs", "boss")).AsArray().Select(e => e!["item"]!).Single(i => i["type"]!.GetValue<string>() == "tool_call");
        Assert.Equal(("Task", "sub_agent", "general-purpose", "Echo: look around"),
            (task["name"]!.GetValue<string>(), task["detail"]!["type"]!.GetValue<string>(), task["detail"]!["subAgentType"]!.GetValue<string>(), task["detail"]!["log"]!.GetValue<string>()));

        // Then the CLI goes on by itself (a turn nobody prompted): the agent runs it and its answer is the last message.
        await Eventually.HoldsAsync(async () => (await cli.Json("wait", "boss"))["lastMessage"]!.GetValue<string>().StartsWith("Echo:", StringComparison.Ordinal),
            "the turn the CLI starts by itself to be shown");
        Assert.Equal("idle", (await cli.Json("inspect", "boss"))["status"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_real_cli_s_questions_and_plan_approval_are_permissions_answered_through_the_daemon()
    {
        RealCli.Require(Binary, "@anthropic-ai/claude-code");
        var cli = _cli!;
        await cli.Ok("run", "-d", "[ask]", "--provider", "claude", "--title", "asker", "--cwd", cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("asker"));
        var question = Assert.Single((await cli.Json("permit", "ls", "asker")).AsArray())!;
        Assert.Equal(("question", "Which color?"), (question["kind"]!.GetValue<string>(), question["input"]!["questions"]![0]!["question"]!.GetValue<string>()));
        await cli.Ok("permit", "allow", "asker", "--input", """{"answers":{"Which color?":"blue"}}""");
        var answered = (await cli.Json("wait", "asker"))["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("Tool result:", answered);
        Assert.Contains("blue", answered);

        await cli.Ok("run", "-d", "[plan-exit]", "--provider", "claude", "--mode", "plan", "--title", "planner", "--cwd", cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("planner"));
        var plan = Assert.Single((await cli.Json("permit", "ls", "planner")).AsArray())!;
        Assert.Equal(("plan", "1. Read the code\n2. Fix the bug"), (plan["kind"]!.GetValue<string>(), plan["metadata"]!["planText"]!.GetValue<string>()));
        await cli.Ok("permit", "allow", "planner");
        var approved = await cli.Json("wait", "planner");
        // Approving the plan takes the CLI out of plan mode; it says so (system/status permissionMode) and the agent follows.
        Assert.Equal("default", (await cli.Json("inspect", "planner"))["currentModeId"]!.GetValue<string>());
        Assert.StartsWith("Tool result:", approved["lastMessage"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_real_cli_resumes_its_conversation_after_a_daemon_restart()
    {
        RealCli.Require(Binary, "@anthropic-ai/claude-code");
        var cli = _cli!;
        await cli.Ok("run", "remember this line", "--provider", "claude", "--title", "memory", "--cwd", cli.Work);
        await cli.RestartDaemonAsync();
        // --resume=<session id>: the real CLI reloads its own session file and sends the whole conversation again.
        Assert.Equal("First prompt: remember this line", (await cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
