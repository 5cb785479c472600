using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The real Claude Code CLI (npm `@anthropic-ai/claude-code`, installed into tests/realcli by ./build.sh test) is detected
/// as available, with the version it prints. It cannot run a turn here (that needs Anthropic's cloud and an account).
/// </summary>
public sealed class RealClaudeDetectionTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task The_real_claude_binary_is_listed_as_ready_with_its_version()
    {
        var binary = RealCli.Binary("claude");
        RealCli.Require(binary, "@anthropic-ai/claude-code");
        var config = new JsonObject
        {
            ["version"] = 1,
            ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["claude"] = new JsonObject { ["command"] = new JsonArray(binary) } } },
        };
        await using var cli = await CliTarget.StartAsync("tcp", config.ToJsonString());
        JsonNode? claude = null;
        await Support.Eventually.HoldsAsync(async () =>
        {
            claude = (await cli.Json("provider", "ls")).AsArray().Single(p => p!["provider"]!.GetValue<string>() == "claude");
            return claude!["status"]!.GetValue<string>() != "loading";
        }, "the version probe to finish");
        Assert.Equal("ready", claude!["status"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+ \(Claude Code\)$", claude["version"]!.GetValue<string>());
        output.WriteLine($"real claude detected: {claude["version"]}");
    }
}
