using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The `codex` provider (its command pointed at tests/standins/fake-codex.mjs, which speaks `codex app-server`'s JSON-RPC,
/// providers.md §4.2), through a real daemon process and the `paseo` CLI.
/// </summary>
public sealed class CodexProviderTests : IAsyncLifetime
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-codex-{Guid.NewGuid():N}.jsonl");
    private readonly string _store = Path.Combine(Path.GetTempPath(), $"fake-codex-store-{Guid.NewGuid():N}");
    private readonly string _late = Path.Combine(Path.GetTempPath(), $"late-codex-{Guid.NewGuid():N}");
    private CliTarget _cli = null!;

    private static string StandIn => StandIns.Path("fake-codex.mjs");

    public async Task InitializeAsync()
    {
        var providers = new JsonObject
        {
            ["codex"] = new JsonObject { ["command"] = new JsonArray("node", StandIn) },
            ["codex-missing"] = new JsonObject { ["extends"] = "codex", ["label"] = "Missing", ["command"] = new JsonArray("no-such-codex") },
            ["codex-late"] = new JsonObject { ["extends"] = "codex", ["label"] = "Installed later", ["command"] = new JsonArray(_late) },
        };
        _cli = await CliTarget.StartAsync("tcp", new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = providers } }.ToJsonString(),
            "paseo.providers.interrupt-grace = 1s\npaseo.providers.kill-grace = 1s\npaseo.providers.recheck-availability-after = 0s\n",
            new Dictionary<string, string> { ["FAKE_CODEX_LOG"] = _log, ["FAKE_CODEX_STORE"] = _store });
    }

    public async Task DisposeAsync()
    {
        File.Delete(_late);
        await _cli.DisposeAsync();
        File.Delete(_log);
        if (Directory.Exists(_store)) Directory.Delete(_store, recursive: true);
    }

    private List<JsonObject> Starts() => StandIns.Starts(_log);

    [Fact]
    public async Task A_full_turn_runs_with_usage_and_the_app_server_is_launched()
    {
        var run = await _cli.Json("run", "hello", "--provider", "codex", "--title", "a1", "--cwd", _cli.Work);
        Assert.Equal(("idle", "Fake codex reply to: hello"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));
        var items = (await _cli.Json("logs", "a1")).AsArray().Select(e => e!["item"]!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["user_message", "reasoning", "assistant_message"], items);
        var start = Assert.Single(Starts());
        Assert.Equal(run["agentId"]!.GetValue<string>(), start["agentId"]!.GetValue<string>());
        Assert.Equal("app-server", start["argv"]![0]!.GetValue<string>());
        var inspected = await _cli.Json("inspect", "a1");
        Assert.Equal(9, inspected["lastUsage"]!["outputTokens"]!.GetValue<int>());
        Assert.Equal("auto", inspected["currentModeId"]!.GetValue<string>());
        Assert.Equal("Images: image/png 68 bytes, image/jpeg 1000 bytes",
            (await _cli.Json(["send", "a1", "[images] look", .. ClaudeProviderTests.Images(_cli.Work)]))["lastMessage"]!.GetValue<string>());

        var providers = (await _cli.Json("provider", "ls")).AsArray();
        Assert.Equal("ready", providers.Single(p => p!["provider"]!.GetValue<string>() == "codex")!["status"]!.GetValue<string>());
        Assert.Contains("no-such-codex not found", providers.Single(p => p!["provider"]!.GetValue<string>() == "codex-missing")!["error"]!.GetValue<string>());

        // Models: what the app-server's model/list offers (hidden ones left out); when the CLI cannot be asked, the
        // built-in list, with the reason on stderr.
        var models = (await _cli.Json("provider", "models", "codex")).AsArray();
        Assert.Equal(["fake-large", "fake-small"], models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.True(models[0]!["isDefault"]!.GetValue<bool>());
        var fallback = await _cli.Paseo("provider", "models", "codex-missing", "-q");
        Assert.Equal(0, fallback.ExitCode);
        Assert.Equal(["gpt-5-codex", "gpt-5"], fallback.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("codex-missing: could not list its models", fallback.StdErr);
    }

    [Fact]
    public async Task A_cli_installed_upgraded_or_removed_while_the_daemon_runs_is_seen_without_a_restart()
    {
        async Task<(string Status, string? Version)> Late()
        {
            var entry = (await _cli.Json("provider", "ls")).AsArray().Single(p => p!["provider"]!.GetValue<string>() == "codex-late")!;
            return (entry["status"]!.GetValue<string>(), entry["version"]?.GetValue<string>());
        }

        Assert.Equal(("unavailable", null), await Late());
        File.WriteAllText(_late, "#!/bin/sh\necho 'codex-cli 9.9.9 (late)'\n");
        File.SetUnixFileMode(_late, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(("ready", "codex-cli 9.9.9 (late)"), await Late());
        File.WriteAllText(_late, "#!/bin/sh\necho 'codex-cli 10.0.0'\n");
        Assert.Equal(("ready", "codex-cli 10.0.0"), await Late());
        File.Delete(_late);
        Assert.Equal(("unavailable", null), await Late());
    }

    [Fact]
    public async Task Permissions_are_allowed_and_denied_and_a_mode_change_reaches_the_agent()
    {
        await _cli.Ok("run", "-d", "[tool make test]", "--provider", "codex", "--title", "perm", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "allow", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ shell make test [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("send", "perm", "[tool rm -rf /]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "deny", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ shell rm -rf / [failed: The command declined]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        // full-access: approvalPolicy "never" on the next turn, so the command runs without a question.
        await _cli.Ok("agent", "mode", "perm", "full-access");
        Assert.Equal("full-access", (await _cli.Json("inspect", "perm"))["currentModeId"]!.GetValue<string>());
        Assert.Equal("idle", (await _cli.Json("send", "perm", "[tool ls]"))["status"]!.GetValue<string>());
        Assert.Contains("$ shell ls [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));
        Assert.Equal("SET_MODE_FAILED", (await _cli.Error("agent", "mode", "perm", "nonsense"))["code"]!.GetValue<string>());
        await _cli.Ok("agent", "mode", "perm", "read-only");
        Assert.Equal("Sandbox: readOnly, effort: default", (await _cli.Json("send", "perm", "[settings]"))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task File_changes_questions_plans_reasoning_and_effort_reach_codex_and_the_timeline()
    {
        await _cli.Ok("run", "-d", "[edit notes.md] [plan] [think]", "--provider", "codex", "--title", "rich", "--thinking", "high", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("rich"));
        var asked = Assert.Single((await _cli.Json("permit", "ls", "rich")).AsArray())!;
        Assert.Equal(("apply_patch", "Change notes.md"), (asked["name"]!.GetValue<string>(), asked["title"]!.GetValue<string>()));
        await _cli.Ok("permit", "allow", "rich");
        Assert.Equal("idle", (await _cli.Json("wait", "rich"))["status"]!.GetValue<string>());
        Assert.Contains("apply_patch notes.md [completed]", await _cli.Ok("logs", "rich", "--filter", "tools"));
        var items = (await _cli.Json("logs", "rich")).AsArray().Select(e => e!["item"]!).ToList();
        Assert.Equal("""[{"text":"read the code","completed":true},{"text":"fix the bug","completed":false}]""",
            items.Single(i => i["type"]!.GetValue<string>() == "todo")["items"]!.ToJsonString());
        Assert.Contains(items, i => i["type"]!.GetValue<string>() == "reasoning" && i["text"]!.GetValue<string>() == "Thought it through.");
        Assert.Equal("Sandbox: workspaceWrite, effort: high", (await _cli.Json("send", "rich", "[settings]"))["lastMessage"]!.GetValue<string>());

        await _cli.Ok("send", "rich", "[edit secrets.env]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("rich"));
        await _cli.Ok("permit", "deny", "rich");
        Assert.Equal("idle", (await _cli.Json("wait", "rich"))["status"]!.GetValue<string>());
        Assert.Contains("apply_patch secrets.env [failed: The change declined]", await _cli.Ok("logs", "rich", "--filter", "tools"));

        await _cli.Ok("send", "rich", "[question]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("rich"));
        var question = Assert.Single((await _cli.Json("permit", "ls", "rich")).AsArray())!;
        Assert.Equal(("question", "Color"), (question["kind"]!.GetValue<string>(), question["title"]!.GetValue<string>()));
        await _cli.Ok("permit", "allow", "rich", "--input", """{"answers":{"Which color?":"blue"}}""");
        Assert.Equal("""Answers: {"color":{"answers":["blue"]}}""", (await _cli.Json("wait", "rich"))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_prompt_that_replaces_a_running_turn_is_not_ended_by_the_old_turn_s_late_completion()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "codex", "--title", "impatient", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "impatient"))["status"]!.GetValue<string>() == "running", "the turn to run");
        // The old turn is interrupted and its turn/completed(interrupted) arrives after the new turn/start was sent.
        var next = await _cli.Json("send", "impatient", "the next one");
        Assert.Equal(("idle", "Fake codex reply to: the next one"), (next["status"]!.GetValue<string>(), next["lastMessage"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_interrupt_ends_a_turn_and_a_deaf_app_server_is_stopped_then_its_thread_resumed()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "codex", "--title", "stopper", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "stopper"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper"))["status"]!.GetValue<string>());

        await _cli.Ok("send", "stopper", "[deaf]", "--no-wait");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper", "--timeout", "30s"))["status"]!.GetValue<string>());
        var first = Starts()[0]["pid"]!.GetValue<int>();
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(first), "the deaf agent to be gone");

        // A new process, thread/resume: the same conversation goes on.
        Assert.Equal("First prompt: [hang]", (await _cli.Json("send", "stopper", "[remember]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(2, Starts().Count);
    }

    [Fact]
    public async Task A_crash_or_an_exit_during_a_permission_fails_only_that_agent()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "codex", "--title", "bystander", "--cwd", _cli.Work);
        var crashed = await _cli.Paseo("run", "[crash]", "--provider", "codex", "--title", "crasher", "--cwd", _cli.Work, "--json");
        Assert.Equal(1, crashed.ExitCode);
        Assert.Contains("codex exited with code 3: thread 'main' panicked: simulated crash", JsonNode.Parse(crashed.StdOut)!["error"]!.GetValue<string>());
        Assert.Equal("running", (await _cli.Json("inspect", "bystander"))["status"]!.GetValue<string>());
        Assert.Equal("idle", (await _cli.Json("send", "crasher", "back?"))["status"]!.GetValue<string>());

        await _cli.Ok("run", "-d", "[exit-on-permission]", "--provider", "codex", "--title", "quitter", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "quitter"))["status"]!.GetValue<string>() == "error", "the turn to fail");
        Assert.Contains("exited with code 4: thread 'main' panicked: gave up", (await _cli.Json("inspect", "quitter"))["lastError"]!.GetValue<string>());
        Assert.Empty((await _cli.Json("permit", "ls", "quitter")).AsArray());
    }

    [Fact]
    public async Task Malformed_output_is_shown_and_a_flood_arrives_whole()
    {
        Assert.Equal("idle", (await _cli.Json("run", "[malformed] go on", "--provider", "codex", "--title", "odd", "--cwd", _cli.Work))["status"]!.GetValue<string>());
        Assert.Contains("! codex printed a line that is not JSON: <<not json>>", await _cli.Ok("logs", "odd", "--filter", "errors"));
        var flood = (await _cli.Json("send", "odd", "[flood 5000]"))["lastMessage"]!.GetValue<string>();
        Assert.Contains("chunk 4999 ", flood);

    }

    [Fact]
    public async Task A_thread_resumes_after_a_daemon_restart_and_no_app_server_outlives_the_daemon()
    {
        await _cli.Ok("run", "the first words", "--provider", "codex", "--title", "memory", "--cwd", _cli.Work);
        await _cli.Ok("run", "-d", "[hang]", "--provider", "codex", "--title", "busy", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(() => Starts().Count == 2, "both processes to start");
        var pids = Starts().Select(s => s["pid"]!.GetValue<int>()).ToList();

        await _cli.StopDaemonAsync();
        Assert.All(pids, pid => Assert.False(ProcessLiveness.IsAlive(pid), $"agent process {pid} outlived the daemon"));

        await _cli.RestartDaemonAsync();
        Assert.Equal("First prompt: the first words", (await _cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
