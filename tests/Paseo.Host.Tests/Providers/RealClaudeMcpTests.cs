using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The REAL Claude Code CLI (tests/realcli) given the daemon's MCP server (app-orchestration.md §4.2), against the
/// loopback stand-in of Anthropic's API: the CLI connects to /mcp/agents with its injected credential, offers the
/// model the 29 `mcp__paseo__*` tools, and a tool call the model makes reaches the daemon as that agent (list_agents
/// defaults to the caller's directory and finds the agent itself). Skipped, with the reason, when the CLI is not installed.
/// </summary>
public sealed class RealClaudeMcpTests : IAsyncLifetime
{
    private static readonly string Binary = RealCli.Binary("claude");

    private readonly string _claudeHome = Path.Combine(Path.GetTempPath(), $"real-claude-mcp-home-{Guid.NewGuid():N}");
    private Process? _api;
    private CliTarget? _cli;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Binary)) return;
        (_api, var port) = await RealCli.StartApiAsync("fake-anthropic-api.mjs");
        Directory.CreateDirectory(_claudeHome);
        var env = new JsonObject
        {
            ["HOME"] = _claudeHome,
            ["ANTHROPIC_BASE_URL"] = $"http://127.0.0.1:{port}",
            ["ANTHROPIC_API_KEY"] = "sk-ant-test-not-a-key",
            ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
            ["DISABLE_TELEMETRY"] = "1",
            ["DISABLE_AUTOUPDATER"] = "1",
            // Every tool offered up front (no deferred tool search), so the stand-in API sees them in the request.
            ["ENABLE_TOOL_SEARCH"] = "false",
        };
        RealCli.AddOfflineEnvironment(env);
        _cli = await CliTarget.StartAsync("tcp", new JsonObject
        {
            ["version"] = 1,
            ["daemon"] = new JsonObject { ["mcp"] = new JsonObject { ["injectIntoAgents"] = true } },
            ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["claude"] = new JsonObject { ["command"] = new JsonArray(Binary), ["env"] = env } } },
        }.ToJsonString(), "paseo.providers.kill-grace = 2s\n");
    }

    public async Task DisposeAsync()
    {
        if (_cli is not null) await _cli.DisposeAsync();
        await RealCli.StopAsync(_api);
        if (Directory.Exists(_claudeHome)) Directory.Delete(_claudeHome, recursive: true);
    }

    [SkippableFact]
    public async Task The_real_cli_offers_the_injected_tools_and_its_call_reaches_the_daemon_as_that_agent()
    {
        RealCli.Require(Binary, "@anthropic-ai/claude-code");
        var cli = _cli!;
        var run = await cli.Json("run", "[mcp-tools]", "--provider", "claude", "--title", "orchestrator", "--cwd", cli.Work);
        var offered = run["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("MCP tools: ", offered);
        var names = offered["MCP tools: ".Length..].Split(',');
        Assert.Equal(29, names.Length);
        Assert.Contains("mcp__paseo__create_agent", names);
        Assert.Contains("mcp__paseo__wait_for_agent", names);
        var agentId = run["agentId"]?.GetValue<string>() ?? (await cli.Json("inspect", "orchestrator"))["id"]!.GetValue<string>();

        // The model calls list_agents: the CLI asks (an MCP tool), the daemon relays it, and once allowed the call reaches
        // /mcp/agents with this agent's credential: it lists the agents of the caller's own directory, itself among them.
        await cli.Ok("send", "orchestrator", "[mcp list_agents {}]", "--no-wait");
        Assert.Equal("PERMISSION_REQUIRED", await cli.WaitCodeAsync("orchestrator"));
        await cli.Ok("permit", "allow", "orchestrator");
        var answered = await cli.Json("wait", "orchestrator");
        var result = answered["lastMessage"]!.GetValue<string>();
        Assert.StartsWith("Tool result:", result);
        Assert.Contains(agentId, result);
    }
}
