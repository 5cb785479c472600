using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// Every agent command of `paseo`, the built binary against a real daemon with the mock provider, over TCP, a unix socket and
/// the relay (a pairing link, end-to-end encrypted): JSON, -q, YAML and table outputs parsed and checked.
/// </summary>
public sealed class AgentCommandsTests
{
    private static string[] TableRow(string line) => Regex.Split(line.Trim(), @"\s{2,}");

    [Theory]
    [InlineData("tcp")]
    [InlineData("unix")]
    [InlineData("relay")]
    public async Task Every_agent_command_works_over(string transport)
    {
        await using var cli = await CliTarget.StartAsync(transport);

        // provider ls | models
        var providers = (await cli.Json("provider", "ls")).AsArray();
        Assert.Contains(providers, p => p!["provider"]!.GetValue<string>() == "mock" && p["status"]!.GetValue<string>() == "ready");
        Assert.Equal("mock-1", (await cli.Ok("provider", "models", "mock", "-q")).Trim());

        // run (waits), run -d
        var first = (await cli.Json("run", "[chunks 2] hello", "--provider", "mock", "--title", "first", "--cwd", cli.Work, "--label", "team=core")).AsObject();
        Assert.Equal("idle", first["status"]!.GetValue<string>());
        Assert.Equal("Mock reply to: [chunks 2] hello", first["lastMessage"]!.GetValue<string>());
        var firstId = first["agentId"]!.GetValue<string>();
        var busyId = (await cli.Ok("run", "-d", "[hang] busy", "--provider", "mock", "--title", "busy", "--cwd", cli.Work, "-q")).Trim();
        Assert.Matches("^[0-9a-f-]{36}$", busyId);

        // ls: json, -q with a label, table, yaml; `agent ls` is the same command
        var listed = (await cli.Json("ls")).AsArray();
        Assert.Equal([busyId, firstId], listed.Select(r => r!["id"]!.GetValue<string>()));
        Assert.Equal("running", listed[0]!["status"]!.GetValue<string>());
        Assert.Equal([firstId], (await cli.Ok("ls", "-q", "--label", "team=core")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var table = (await cli.Ok("ls")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["AGENT ID", "NAME", "PROVIDER", "THINKING", "STATUS", "CWD", "CREATED"], TableRow(table[0]));
        Assert.Equal([busyId[..7], "busy", "mock", "auto", "running"], TableRow(table[1])[..5]);
        Assert.Equal(3, table.Length);
        Assert.Equal(2, (await cli.Ok("ls", "--no-headers")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(await cli.Ok("agent", "ls", "-o", "yaml")));
        var yamlRows = (YamlSequenceNode)yaml.Documents[0].RootNode;
        Assert.Equal(busyId, ((YamlScalarNode)((YamlMappingNode)yamlRows[0])["id"]).Value);
        Assert.Equal("busy", ((YamlScalarNode)((YamlMappingNode)yamlRows[0])["name"]).Value);

        // inspect: by title, by prefix
        var inspected = await cli.Json("inspect", "first");
        Assert.Equal(firstId, inspected["id"]!.GetValue<string>());
        Assert.Equal("core", inspected["labels"]!["team"]!.GetValue<string>());
        var inspectLines = (await cli.Ok("inspect", firstId[..8])).Split('\n');
        Assert.Contains(inspectLines, l => Regex.IsMatch(l, @"^Status\s+idle$"));

        // logs: json, --tail, --filter
        var logs = (await cli.Json("logs", "first")).AsArray();
        Assert.Equal(["user_message", "reasoning", "assistant_message"], logs.Select(e => e!["item"]!["type"]!.GetValue<string>()));
        Assert.Equal("Mock reply to: [chunks 2] hello", (await cli.Ok("logs", "first", "--tail", "1")).Trim());
        Assert.Equal(["> [chunks 2] hello", "Mock reply to: [chunks 2] hello"], (await cli.Ok("logs", "first", "--filter", "text")).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // send (waits), send --prompt-file --no-wait, then wait
        Assert.Equal("Mock reply to: again", (await cli.Json("send", "first", "again"))["lastMessage"]!.GetValue<string>());
        var promptFile = Path.Combine(cli.Work, "prompt.txt");
        await File.WriteAllTextAsync(promptFile, "from a file");
        Assert.Equal(firstId, (await cli.Ok("send", "first", "--prompt-file", promptFile, "--no-wait", "-q")).Trim());
        var waited = await cli.Json("wait", "first", "--timeout", "30s");
        Assert.Equal("idle", waited["status"]!.GetValue<string>());
        Assert.Equal("Mock reply to: from a file", waited["lastMessage"]!.GetValue<string>());

        // permissions: wait reports it, permit ls / allow / deny answer it
        var permId = (await cli.Ok("run", "-d", "[permission touch x]", "--provider", "mock", "--title", "perm", "--cwd", cli.Work, "-q")).Trim();
        var waitingResult = await cli.Paseo("wait", "perm", "--json");
        Assert.Equal(1, waitingResult.ExitCode);
        Assert.Equal("PERMISSION_REQUIRED", JsonNode.Parse(waitingResult.StdOut)!["code"]!.GetValue<string>());
        var pending = (await cli.Json("permit", "ls")).AsArray();
        var requestId = Assert.Single(pending)!["requestId"]!.GetValue<string>();
        Assert.Equal(permId, pending[0]!["agentId"]!.GetValue<string>());
        Assert.Equal(requestId, (await cli.Ok("permit", "allow", "perm", "-q")).Trim());
        Assert.Equal("idle", (await cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ Bash touch x [completed]", await cli.Ok("logs", "perm", "--filter", "tools"));
        await cli.Ok("send", "perm", "[permission rm x]", "--no-wait");
        await cli.Error("wait", "perm");
        var denied = (await cli.Json("permit", "deny", "perm", "--message", "not that")).AsArray();
        Assert.Equal("deny", denied[0]!["behavior"]!.GetValue<string>());
        Assert.Equal("idle", (await cli.Json("wait", "perm"))["status"]!.GetValue<string>());
        Assert.Contains("$ Bash rm x [failed: Permission denied]", await cli.Ok("logs", "perm", "--filter", "tools"));

        // agent mode: list, set
        var modes = (await cli.Json("agent", "mode", "perm")).AsArray();
        Assert.Equal(["default", "bypassPermissions"], modes.Select(m => m!["id"]!.GetValue<string>()));
        Assert.True(modes[0]!["current"]!.GetValue<bool>());
        await cli.Ok("agent", "mode", "perm", "bypassPermissions");
        Assert.Equal("bypassPermissions", (await cli.Json("inspect", "perm"))["currentModeId"]!.GetValue<string>());

        // stop, archive, stop --all, delete
        var stopped = (await cli.Json("stop", "busy")).AsArray();
        Assert.Equal(busyId, stopped[0]!["id"]!.GetValue<string>());
        Assert.Equal("idle", (await cli.Json("inspect", busyId))["status"]!.GetValue<string>());
        Assert.Equal(busyId, (await cli.Ok("archive", "busy", "-q")).Trim());
        Assert.DoesNotContain(busyId, await cli.Ok("ls", "-q"));
        Assert.Contains(busyId, await cli.Ok("ls", "-a", "-q"));
        Assert.Equal("No agents matched.", (await cli.Ok("stop", "--all")).Trim());
        Assert.Equal(firstId, (await cli.Ok("delete", "first", "-q")).Trim());
        Assert.DoesNotContain(firstId, await cli.Ok("ls", "-a", "-q"));
    }
}
