using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The REAL Codex CLI (`codex app-server`, npm `@openai/codex` in tests/realcli) driven by the daemon through whole turns:
/// only OpenAI's cloud is replaced, by tests/standins/fake-openai-responses.mjs on loopback (a custom model provider in
/// the CLI's own CODEX_HOME/config.toml), so the JSON-RPC, the approvals, the interrupt and resume are the real binary's. When it is
/// not installed each test is reported skipped with the reason (a failure under CI=true).
/// </summary>
public sealed class RealCodexCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string Binary = RealCli.Binary("codex");

    // Not under /tmp: Codex refuses to put its helper binaries in a temporary directory (it warns and goes on).
    private readonly string _codexHome = Path.Combine(Path.GetTempPath(), $"real-codex-home-{Guid.NewGuid():N}");
    private Process? _api;
    private CliTarget? _cli;

    public async Task InitializeAsync()
    {
        // Nothing to set up without the CLI: every test of this class then reports itself skipped (RealCli.Require).
        if (!File.Exists(Binary)) return;
        (_api, var port) = await RealCli.StartApiAsync("fake-openai-responses.mjs");
        Directory.CreateDirectory(_codexHome);
        // The CLI's own configuration (what a user would write): its model provider is the loopback stand-in.
        await File.WriteAllTextAsync(Path.Combine(_codexHome, "config.toml"), $"""
            model_provider = "loopback"
            model = "gpt-test"

            [model_providers.loopback]
            name = "loopback"
            base_url = "http://127.0.0.1:{port}/v1"
            wire_api = "responses"
            env_key = "LOOPBACK_API_KEY"
            """);
        var codex = new JsonObject
        {
            ["command"] = new JsonArray(Binary),
            ["env"] = new JsonObject { ["CODEX_HOME"] = _codexHome, ["LOOPBACK_API_KEY"] = "not-a-key" },
        };
        RealCli.AddOfflineEnvironment((JsonObject)codex["env"]!);
        _cli = await CliTarget.StartAsync("tcp",
            new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["codex"] = codex } } }.ToJsonString(),
            "paseo.providers.kill-grace = 2s\n");
    }

    public async Task DisposeAsync()
    {
        if (_cli is not null) await _cli.DisposeAsync();
        await RealCli.StopAsync(_api);
        if (Directory.Exists(_codexHome)) Directory.Delete(_codexHome, recursive: true);
    }


    [SkippableFact]
    public async Task The_real_app_server_runs_turns_asks_for_approval_obeys_accept_and_decline_and_is_interrupted()
    {
        RealCli.Require(Binary, "@openai/codex");
        var cli = _cli!;
        var models = (await cli.Json("provider", "models", "codex")).AsArray();
        Assert.NotEmpty(models);
        Assert.Single(models, m => m!["isDefault"]?.GetValue<bool>() == true);
        output.WriteLine($"real codex models: {string.Join(", ", models.Select(m => m!["id"]))}");
        var run = await cli.Json("run", "hello real codex", "--provider", "codex", "--title", "real", "--cwd", cli.Work);
        Assert.Equal(("idle", "Echo: hello real codex"), (run["status"]!.GetValue<string>(), run["lastMessage"]!.GetValue<string>()));
        Assert.Equal(7, (await cli.Json("inspect", "real"))["lastUsage"]!["outputTokens"]!.GetValue<int>());

        // A command asked to run outside the sandbox: the real app-server asks (requestApproval) and runs it when accepted.
        await cli.Ok("send", "real", "[tool touch allowed.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        Assert.Contains("touch allowed.txt", Assert.Single((await cli.Json("permit", "ls", "real")).AsArray())!["title"]!.GetValue<string>());
        await cli.Ok("permit", "allow", "real");
        Assert.StartsWith("Tool result:", (await cli.Json("wait", "real"))["lastMessage"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(cli.Work, "allowed.txt")));

        await cli.Ok("send", "real", "[tool touch denied.txt]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("real"));
        await cli.Ok("permit", "deny", "real");
        var denied = await cli.Json("wait", "real");
        Assert.Contains("rejected by user", denied["lastMessage"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(cli.Work, "denied.txt")));
        Assert.Contains("touch denied.txt' [failed: The command declined]", await cli.Ok("logs", "real", "--filter", "tools"));

        // (request_user_input is only offered by Codex in its plan collaboration mode, which Paseo.NET does not start
        // turns in: questions are covered against the stand-in.)

        // A response that never finishes: turn/interrupt ends the turn.
        await cli.Ok("send", "real", "[hang]", "--no-wait");
        await Eventually.HoldsAsync(async () => (await cli.Json("inspect", "real"))["status"]!.GetValue<string>() == "running", "the turn to run");
        await cli.Ok("stop", "real");
        Assert.Equal("idle", (await cli.Json("wait", "real"))["status"]!.GetValue<string>());
        Assert.Equal("Echo: still here", (await cli.Json("send", "real", "still here"))["lastMessage"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_real_app_server_resumes_its_thread_after_a_daemon_restart()
    {
        RealCli.Require(Binary, "@openai/codex");
        var cli = _cli!;
        await cli.Ok("run", "remember this line", "--provider", "codex", "--title", "memory", "--cwd", cli.Work);
        await cli.RestartDaemonAsync();
        Assert.Equal("First prompt: remember this line", (await cli.Json("send", "memory", "[remember]"))["lastMessage"]!.GetValue<string>());
    }
}
