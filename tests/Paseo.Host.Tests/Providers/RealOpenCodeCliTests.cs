using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The REAL OpenCode server (`opencode serve`, npm `opencode-ai` in tests/realcli) driven by the daemon through whole
/// turns: only the model is replaced, by tests/standins/fake-openai-chat.mjs on loopback (a custom provider in the
/// project's opencode.json, as a user would write it), so the HTTP API, the SSE events, permissions, questions, abort and
/// resume are the real server's. When it is not installed each test is reported skipped with the reason (a failure under CI=true).
/// </summary>
public sealed class RealOpenCodeCliTests : IAsyncLifetime
{
    private static readonly string Binary = RealCli.Binary("opencode");

    private readonly string _home = Path.Combine(Path.GetTempPath(), $"real-opencode-home-{Guid.NewGuid():N}");
    private Process? _model;
    private CliTarget? _cli;

    public async Task InitializeAsync()
    {
        // Nothing to set up without the CLI: every test of this class then reports itself skipped (RealCli.Require).
        if (!File.Exists(Binary)) return;
        (_model, var port) = await RealCli.StartApiAsync("fake-openai-chat.mjs");
        Directory.CreateDirectory(_home);
        var opencode = new JsonObject
        {
            ["command"] = new JsonArray(Binary),
            // OpenCode's own data and config apart from the developer's; no catalog fetch from the network.
            ["env"] = new JsonObject
            {
                ["HOME"] = _home,
                ["XDG_CONFIG_HOME"] = Path.Combine(_home, ".config"),
                ["XDG_DATA_HOME"] = Path.Combine(_home, ".local", "share"),
                ["XDG_CACHE_HOME"] = Path.Combine(_home, ".cache"),
                ["XDG_STATE_HOME"] = Path.Combine(_home, ".local", "state"),
                ["OPENCODE_DISABLE_MODELS_FETCH"] = "true",
                ["OPENCODE_DISABLE_AUTOUPDATE"] = "true",
            },
        };
        RealCli.AddOfflineEnvironment((JsonObject)opencode["env"]!);
        _cli = await CliTarget.StartAsync("tcp",
            new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["opencode"] = opencode } } }.ToJsonString(),
            "paseo.providers.kill-grace = 2s\npaseo.providers.version-timeout = 60s\n");
        // The project's configuration, as a user would write it: the model is the loopback stand-in; bash asks first.
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "opencode.json"), new JsonObject
        {
            ["model"] = "loopback/test",
            ["permission"] = new JsonObject { ["bash"] = "ask" },
            ["provider"] = new JsonObject
            {
                ["loopback"] = new JsonObject
                {
                    ["npm"] = "@ai-sdk/openai-compatible",
                    ["name"] = "Loopback",
                    ["options"] = new JsonObject { ["baseURL"] = $"http://127.0.0.1:{port}/v1", ["apiKey"] = "not-a-key" },
                    ["models"] = new JsonObject { ["test"] = new JsonObject { ["name"] = "Test" } },
                },
            },
        }.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        if (_cli is not null) await _cli.DisposeAsync();
        await RealCli.StopAsync(_model);
        if (Directory.Exists(_home)) Directory.Delete(_home, recursive: true);
    }


    [SkippableFact]
    public async Task The_real_server_runs_turns_asks_permissions_and_questions_and_is_aborted()
    {
        RealCli.Require(Binary, "opencode-ai");
        var cli = _cli!;
        // Its models are those of the project's configuration, written providerID/modelID.
        var models = (await cli.Json("provider", "models", "opencode", "--cwd", cli.Work)).AsArray().Select(m => m!["id"]!.GetValue<string>()).ToList();
        Assert.Contains("loopback/test", models);
        var run = await cli.Json("run", "hello real opencode", "--provider", "opencode", "--title", "real", "--cwd", cli.Work);
        Assert.Equal(("idle", "Echo: hello real opencode"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));

        await cli.Ok("send", "real", "[tool touch allowed.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        await cli.Ok("permit", "allow", "real");
        Assert.StartsWith("Tool result:", (await cli.Json("wait", "real"))["lastMessage"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(cli.Work, "allowed.txt")));

        await cli.Ok("send", "real", "[tool touch denied.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        await cli.Ok("permit", "deny", "real", "--message", "not that file");
        await cli.Json("wait", "real");
        Assert.False(File.Exists(Path.Combine(cli.Work, "denied.txt")));

        await cli.Ok("send", "real", "[ask]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        Assert.Equal("question", Assert.Single((await cli.Json("permit", "ls", "real")).AsArray())!["kind"]!.GetValue<string>());
        await cli.Ok("permit", "allow", "real", "--input", """{"answers":{"Which color?":"blue"}}""");
        var answered = (await cli.Json("wait", "real"))["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("Tool result:", answered);
        Assert.Contains("blue", answered);

        await cli.Ok("send", "real", "[todo]");
        var todo = (await cli.Json("logs", "real")).AsArray().Select(e => e!["item"]!).Last(i => i["type"]!.GetValue<string>() == "todo");
        Assert.Equal("""[{"text":"read the code","completed":true},{"text":"fix the bug","completed":false}]""", todo["items"]!.ToJsonString());

        await cli.Ok("send", "real", "[hang]", "--no-wait");
        await Eventually.HoldsAsync(async () => (await cli.Json("inspect", "real"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await cli.Ok("stop", "real");
        Assert.Equal("idle", (await cli.Json("wait", "real"))["status"]!.GetValue<string>());
        Assert.Equal("Echo: still here", (await cli.Json("send", "real", "still here"))["lastMessage"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_real_server_s_session_goes_on_after_a_daemon_restart()
    {
        RealCli.Require(Binary, "opencode-ai");
        var cli = _cli!;
        await cli.Ok("run", "remember this line", "--provider", "opencode", "--title", "memory", "--cwd", cli.Work);
        await cli.RestartDaemonAsync();
        Assert.Equal("First prompt: remember this line", (await cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
