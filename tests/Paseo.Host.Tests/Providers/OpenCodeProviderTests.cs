using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The `opencode` provider (its command pointed at tests/standins/fake-opencode.mjs, which serves OpenCode's HTTP API and
/// SSE feed, providers.md §4.3): one shared server per daemon, through a real daemon process and the `paseo` CLI.
/// </summary>
public sealed class OpenCodeProviderTests : IAsyncLifetime
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-opencode-{Guid.NewGuid():N}.jsonl");
    private readonly string _store = Path.Combine(Path.GetTempPath(), $"fake-opencode-store-{Guid.NewGuid():N}");
    private readonly string _aborts = Path.Combine(Path.GetTempPath(), $"fake-opencode-aborts-{Guid.NewGuid():N}.jsonl");
    private CliTarget _cli = null!;

    private static string StandIn => StandIns.Path("fake-opencode.mjs");

    public async Task InitializeAsync()
    {
        var providers = new JsonObject { ["opencode"] = new JsonObject { ["command"] = new JsonArray("node", StandIn) } };
        _cli = await CliTarget.StartAsync("tcp", new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = providers } }.ToJsonString(),
            "paseo.providers.interrupt-grace = 1s\npaseo.providers.kill-grace = 1s\npaseo.providers.max-line-bytes = 64k\n",
            new Dictionary<string, string> { ["FAKE_OPENCODE_LOG"] = _log, ["FAKE_OPENCODE_STORE"] = _store, ["FAKE_OPENCODE_ABORTS"] = _aborts });
    }

    public async Task DisposeAsync()
    {
        await _cli.DisposeAsync();
        File.Delete(_log);
        File.Delete(_aborts);
        if (Directory.Exists(_store)) Directory.Delete(_store, recursive: true);
    }

    private List<JsonObject> Starts() => StandIns.Starts(_log);

    [Fact]
    public async Task Turns_of_two_agents_share_one_server_and_stream_with_usage()
    {
        var first = await _cli.Json("run", "hello", "--provider", "opencode", "--title", "o1", "--cwd", _cli.Work);
        Assert.Equal(("idle", "Fake opencode reply to: hello"), (first["status"]!.GetValue<string>(), first["lastMessage"]!.GetValue<string>()));
        // Another directory: the server scopes sessions and its event feed by ?directory=, so o2 needs a feed of its own.
        var elsewhere = Path.Combine(_cli.Work, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        var second = await _cli.Json("run", "[agent]", "--provider", "opencode", "--title", "o2", "--mode", "plan", "--cwd", elsewhere);
        Assert.Equal("Agent: plan", second["lastMessage"]!.GetValue<string>());
        Assert.Equal($"Directory: {elsewhere}", (await _cli.Json("send", "o2", "[where]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal($"Directory: {_cli.Work}", (await _cli.Json("send", "o1", "[where]"))["lastMessage"]!.GetValue<string>());
        Assert.Single(Starts());

        var items = (await _cli.Json("logs", "o1")).AsArray().Select(e => e!["item"]!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["user_message", "reasoning", "assistant_message", "user_message", "reasoning", "assistant_message"], items);
        Assert.Equal(12, (await _cli.Json("inspect", "o1"))["lastUsage"]!["outputTokens"]!.GetValue<int>());
        Assert.Equal("Agent: build", (await _cli.Json("send", "o1", "[agent]"))["lastMessage"]!.GetValue<string>());
        // Its models come from the server's providers, written providerID/modelID.
        var models = (await _cli.Json("provider", "models", "opencode", "--cwd", _cli.Work)).AsArray();
        Assert.Equal(["fake/small", "fake/large"], models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.True(models[0]!["isDefault"]!.GetValue<bool>());
        Assert.Equal("Images: image/png 68 bytes, image/jpeg 1000 bytes",
            (await _cli.Json(["send", "o1", "[images] look", .. ClaudeProviderTests.Images(_cli.Work)]))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task Questions_are_answered_or_rejected_and_todos_and_compactions_reach_the_timeline()
    {
        await _cli.Ok("run", "-d", "[question]", "--provider", "opencode", "--title", "asker", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("asker"));
        var asked = Assert.Single((await _cli.Json("permit", "ls")).AsArray())!;
        Assert.Equal(("question", "Color"), (asked["kind"]!.GetValue<string>(), asked["title"]!.GetValue<string>()));
        Assert.Equal("Which color?", asked["input"]!["questions"]![0]!["question"]!.GetValue<string>());
        // Answers as Claude's {question: answer} map are sent as OpenCode's one list of labels per question.
        await _cli.Ok("permit", "allow", "asker", "--input", """{"answers":{"Which color?":"blue"}}""");
        Assert.Equal("""Answers: [["blue"]]""", (await _cli.Json("wait", "asker"))["lastMessage"]!.GetValue<string>());

        await _cli.Ok("send", "asker", "[question]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("asker"));
        await _cli.Ok("permit", "deny", "asker");
        Assert.Equal("Question rejected", (await _cli.Json("wait", "asker"))["lastMessage"]!.GetValue<string>());

        await _cli.Ok("send", "asker", "[todo] [compact]");
        var items = (await _cli.Json("logs", "asker")).AsArray().Select(e => e!["item"]!).ToList();
        var todo = items.Last(i => i["type"]!.GetValue<string>() == "todo");
        Assert.Equal("""[{"text":"read the code","completed":true},{"text":"fix the bug","completed":false}]""", todo["items"]!.ToJsonString());
        Assert.Equal("completed", items.Last(i => i["type"]!.GetValue<string>() == "compaction")["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Permissions_are_allowed_denied_and_granted_in_full_access()
    {
        await _cli.Ok("run", "-d", "[tool make]", "--provider", "opencode", "--title", "perm", "--cwd", _cli.Work);
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        Assert.Equal("bash: make", Assert.Single((await _cli.Json("permit", "ls")).AsArray())!["title"]!.GetValue<string>());
        await _cli.Ok("permit", "allow", "perm");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ bash make [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("send", "perm", "[tool rm -rf /]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await _cli.WaitCodeAsync("perm"));
        await _cli.Ok("permit", "deny", "perm", "--message", "no way");
        Assert.Equal("idle", (await _cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ bash rm -rf / [failed: no way]", await _cli.Ok("logs", "perm", "--filter", "tools"));

        await _cli.Ok("agent", "mode", "perm", "full-access");
        Assert.Equal("idle", (await _cli.Json("send", "perm", "[tool ls]"))["status"]!.GetValue<string>());
        Assert.Contains("$ bash ls [completed]", await _cli.Ok("logs", "perm", "--filter", "tools"));
    }

    [Fact]
    public async Task Abort_ends_a_turn_and_a_turn_that_ignores_it_is_ended_after_the_grace()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "opencode", "--title", "stopper", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "stopper"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper"))["status"]!.GetValue<string>());
        Assert.Equal("Fake opencode reply to: again", (await _cli.Json("send", "stopper", "again"))["lastMessage"]!.GetValue<string>());

        await _cli.Ok("send", "stopper", "[deaf]", "--no-wait");
        await _cli.Ok("stop", "stopper");
        Assert.Equal("idle", (await _cli.Json("wait", "stopper", "--timeout", "30s"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_deleted_agent_aborts_its_running_turn_on_the_shared_server_and_a_session_started_again_in_its_directory_gets_events()
    {
        await _cli.Ok("run", "-d", "[hang]", "--provider", "opencode", "--title", "doomed", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "doomed"))["status"]!.GetValue<string>() == "running", "the turn to run");
        var sessionId = (await _cli.Json("inspect", "doomed"))["persistence"]!["sessionId"]!.GetValue<string>();
        await _cli.Ok("delete", "doomed");
        // The session's stop does not cancel the abort: the turn does not go on on the server.
        await Eventually.HoldsAsync(() => Task.FromResult(File.Exists(_aborts) && File.ReadAllLines(_aborts).Any(l => l.Contains(sessionId))), "the server to be asked to abort");

        // The directory's feed closed with the last session there and opens again for the next one, which gets its events.
        Assert.Equal("Fake opencode reply to: after", (await _cli.Json("run", "after", "--provider", "opencode", "--title", "next", "--cwd", _cli.Work))["lastMessage"]!.GetValue<string>());
        await _cli.Ok("agent", "reload", "next");
        Assert.Equal("Fake opencode reply to: refreshed", (await _cli.Json("send", "next", "refreshed"))["lastMessage"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_server_crash_fails_the_running_turns_and_the_next_prompt_starts_a_new_server()
    {
        await _cli.Ok("run", "first", "--provider", "opencode", "--title", "bystander", "--cwd", _cli.Work);
        var crashed = await _cli.Paseo("run", "[crash]", "--provider", "opencode", "--title", "crasher", "--cwd", _cli.Work, "--json");
        Assert.Equal(1, crashed.ExitCode);
        Assert.Contains("opencode serve exited with code 3: opencode: fatal: simulated crash", JsonNode.Parse(crashed.StdOut)!["error"]!.GetValue<string>());
        Assert.Equal("idle", (await _cli.Json("inspect", "bystander"))["status"]!.GetValue<string>());

        Assert.Equal("First prompt: first", (await _cli.Json("send", "bystander", "[remember]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(2, Starts().Count);
        Assert.Equal("idle", (await _cli.Json("send", "crasher", "back?"))["status"]!.GetValue<string>());

        // The server stays up but its event feed ends: the turn fails saying so (it could never end otherwise), the
        // next prompt opens a new feed, and the server is not restarted.
        var dropped = await _cli.Paseo("send", "bystander", "[drop-feed]", "--json");
        Assert.Equal(1, dropped.ExitCode);
        Assert.Contains("the event feed of", JsonNode.Parse(dropped.StdOut)!["error"]!.GetValue<string>());
        Assert.Equal("First prompt: first", (await _cli.Json("send", "bystander", "[remember]"))["lastMessage"]!.GetValue<string>());
        Assert.Equal(2, Starts().Count);

        // The server exits while a permission prompt is pending: that turn fails, and the prompt is gone with it.
        await _cli.Ok("run", "-d", "[exit-on-permission]", "--provider", "opencode", "--title", "quitter", "--cwd", _cli.Work);
        await Eventually.HoldsAsync(async () => (await _cli.Json("inspect", "quitter"))["status"]!.GetValue<string>() == "error", "the turn to fail");
        Assert.Contains("exited with code 4: opencode: fatal: gave up", (await _cli.Json("inspect", "quitter"))["lastError"]!.GetValue<string>());
        Assert.Empty((await _cli.Json("permit", "ls", "quitter")).AsArray());
    }

    [Fact]
    public async Task A_malformed_or_oversized_event_is_skipped_a_flood_arrives_whole_and_a_failure_is_reported()
    {
        Assert.Equal("idle", (await _cli.Json("run", "[malformed] fine", "--provider", "opencode", "--title", "odd", "--cwd", _cli.Work))["status"]!.GetValue<string>());
        Assert.Contains("chunk 4999 ", (await _cli.Json("send", "odd", "[flood 5000]"))["lastMessage"]!.GetValue<string>());

        // Over paseo.providers.max-line-bytes (64k here): that one event is dropped with a warning, the turn goes on.
        var huge = await _cli.Json("send", "odd", "[huge 100000] still here");
        Assert.Equal("idle", huge["status"]!.GetValue<string>());
        Assert.Contains("Fake opencode reply to: [huge 100000] still here", huge["lastMessage"]!.GetValue<string>());
        Assert.DoesNotContain("xxxxxxxx", huge["lastMessage"]!.GetValue<string>());
        await Eventually.HoldsAsync(() => File.Exists(_cli.DaemonHome.Home.DaemonLog)
            && File.ReadLines(_cli.DaemonHome.Home.DaemonLog).Any(l => l.Contains("an event over 65536 bytes was skipped")), "the warning in daemon.log");
        var failed = await _cli.Paseo("send", "odd", "[fail]", "--json");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("opencode: simulated failure", JsonNode.Parse(failed.StdOut)!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_session_resumes_after_a_daemon_restart_and_the_server_does_not_outlive_the_daemon()
    {
        await _cli.Ok("run", "keep this", "--provider", "opencode", "--title", "memory", "--cwd", _cli.Work);
        var pid = Assert.Single(Starts())["pid"]!.GetValue<int>();
        await _cli.StopDaemonAsync();
        Assert.False(ProcessLiveness.IsAlive(pid), "opencode serve outlived the daemon");

        await _cli.RestartDaemonAsync();
        Assert.Equal("First prompt: keep this", (await _cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
