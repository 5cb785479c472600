using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// The REAL GitHub Copilot CLI (`copilot --acp`, npm `@github/copilot` in tests/realcli) as the built-in `copilot`
/// provider. Without a GitHub login (none here, and the tests stay offline) it answers initialize and refuses to open a
/// session: the agent fails with the CLI's reason and how to log in, and nothing else is harmed.
/// </summary>
public sealed class RealCopilotCliTests
{
    private static readonly string Binary = RealCli.Binary("copilot");

    [SkippableFact]
    public async Task Without_a_login_the_real_cli_s_refusal_and_how_to_log_in_are_the_agent_s_error()
    {
        RealCli.Require(Binary, "@github/copilot");
        var home = Path.Combine(Path.GetTempPath(), $"real-copilot-home-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        try
        {
            var env = new JsonObject { ["HOME"] = home, ["XDG_CONFIG_HOME"] = Path.Combine(home, ".config"), ["XDG_STATE_HOME"] = Path.Combine(home, ".state") };
            RealCli.AddOfflineEnvironment(env);
            var copilot = new JsonObject { ["command"] = new JsonArray(Binary, "--acp"), ["env"] = env };
            await using var cli = await CliTarget.StartAsync("tcp",
                new JsonObject { ["version"] = 1, ["agents"] = new JsonObject { ["providers"] = new JsonObject { ["copilot"] = copilot } } }.ToJsonString());

            Assert.Equal("ready", (await cli.Json("provider", "ls")).AsArray().Single(p => p!["provider"]!.GetValue<string>() == "copilot")!["status"]!.GetValue<string>());
            var refused = await cli.Paseo("run", "hello", "--provider", "copilot", "--title", "pilot", "--cwd", cli.Work, "--json");
            Assert.Equal(1, refused.ExitCode);
            var error = JsonNode.Parse(refused.StdOut)!["error"]!.GetValue<string>();
            Assert.Equal("copilot could not open a session: Authentication required (Run `copilot login` in the terminal)", error);
            // The daemon and its other agents are untouched.
            Assert.Equal("idle", (await cli.Json("run", "still fine", "--provider", "mock", "--cwd", cli.Work))["status"]!.GetValue<string>());
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
