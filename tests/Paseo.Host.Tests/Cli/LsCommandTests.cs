using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>`paseo ls` finding the local daemon from the pid file, and without a daemon. (Unix socket and relay: AgentCommandsTests.)</summary>
public sealed class LsCommandTests : IDisposable
{
    private readonly TestHome _home = new();
    private readonly Dictionary<string, string?> _env;

    public LsCommandTests() => _env = PaseoBinary.CleanEnvironment(_home);

    public void Dispose() => _home.Dispose();

    private async Task<string> CreateAgentsAsync(Uri ws)
    {
        await using var client = await ProtocolClient.ConnectAsync(ws);
        await client.HelloAsync("cid_setup");
        var cwd = _home.PathIn("work");
        Directory.CreateDirectory(cwd);
        string? archivedId = null;
        foreach (var (title, prompt, archive) in new[] { ("builder", "[hang] building", false), ("reviewer", (string?)null, false), ("old", null, true) })
        {
            var fields = new JsonObject { ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd, ["title"] = title }, ["labels"] = new JsonObject { ["team"] = title == "builder" ? "ci" : "core" } };
            if (prompt is not null) fields["initialPrompt"] = prompt;
            var id = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", fields), "status")!["agentId"]!.GetValue<string>();
            if (!archive) continue;
            await client.RequestAsync("archive_agent_request", new JsonObject { ["agentId"] = id });
            archivedId = id;
        }
        return archivedId!;
    }

    private static Uri WebSocketUri(string listen) => new($"ws://{listen}/ws");

    [Fact]
    public async Task Ls_finds_the_local_daemon_and_prints_json_ids_and_a_table()
    {
        await using var daemon = new ForegroundDaemon(_env, "--port", "0");
        var record = await RunningDaemon.WaitHealthyAsync(_home.Home);
        var archived = await CreateAgentsAsync(WebSocketUri(record.Listen));

        var json = await PaseoBinary.RunAsync(_env, "ls", "--json");
        Assert.True(json.ExitCode == 0, json.StdErr);
        var rows = JsonNode.Parse(json.StdOut)!.AsArray();
        Assert.Equal(["builder", "reviewer"], rows.Select(r => r!["name"]!.GetValue<string>()));
        var builder = rows[0]!;
        Assert.Equal(new[] { "id", "shortId", "name", "provider", "thinking", "status", "cwd", "created" }, builder.AsObject().Select(p => p.Key).ToArray());
        Assert.Equal("running", builder["status"]!.GetValue<string>());
        Assert.Equal(builder["id"]!.GetValue<string>()[..7], builder["shortId"]!.GetValue<string>());
        Assert.Equal("auto", builder["thinking"]!.GetValue<string>());

        var all = JsonNode.Parse((await PaseoBinary.RunAsync(_env, "ls", "-a", "--json")).StdOut)!.AsArray();
        Assert.Contains(all, r => r!["id"]!.GetValue<string>() == archived);

        var quiet = await PaseoBinary.RunAsync(_env, "ls", "-q", "--label", "team=core");
        Assert.Equal([rows[1]!["id"]!.GetValue<string>()], quiet.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var table = await PaseoBinary.RunAsync(_env, "ls", "--host", record.Listen);
        var lines = table.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("AGENT ID", lines[0]);
        Assert.Contains("CREATED", lines[0]);
        Assert.StartsWith(builder["shortId"]!.GetValue<string>(), lines[1]);
        Assert.Contains("builder", lines[1]);
        Assert.Contains("mock", lines[1]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public async Task Without_a_daemon_ls_says_so_with_the_error_code()
    {
        _env["PASEO_HOST"] = "127.0.0.1:9";
        var json = await PaseoBinary.RunAsync(_env, "ls", "--json");
        Assert.Equal(1, json.ExitCode);
        Assert.Equal("DAEMON_NOT_RUNNING", JsonNode.Parse(json.StdOut)!["error"]!["code"]!.GetValue<string>());
        var text = await PaseoBinary.RunAsync(_env, "ls");
        Assert.Equal(1, text.ExitCode);
        Assert.StartsWith("paseo: cannot connect to the daemon at 127.0.0.1:9", text.StdErr);

        var bad = await PaseoBinary.RunAsync(_env, "ls", "--host", "not a target");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("expected host:port", bad.StdErr);
    }
}
