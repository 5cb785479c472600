using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// `paseo chat` (app-orchestration.md §5), the built binary against a real daemon process: rows, the transcript, the
/// author taken from PASEO_AGENT_ID (the agent's title shown), a wait that times out quietly or wakes on a post, and the
/// errors with their codes and exit 1.
/// </summary>
public sealed class ChatCommandsTests
{
    private static string[] TableRow(string line) => Regex.Split(line.Trim(), @"\s{2,}");

    [Fact]
    public async Task Every_chat_command_works_against_the_daemon()
    {
        await using var cli = await CliTarget.StartAsync("tcp");

        var room = (await cli.Json("chat", "create", "release-coord", "--purpose", "Coordinate the 0.2 release")).AsObject();
        Assert.Equal(["name", "id", "purpose", "messages", "lastMessageAt"], room.Select(p => p.Key));
        Assert.Equal("Coordinate the 0.2 release", room["purpose"]!.GetValue<string>());
        Assert.Equal("-", room["lastMessageAt"]!.GetValue<string>());
        Assert.Equal("chat_room_name_taken", (await cli.Error("chat", "create", "Release-Coord"))["code"]!.GetValue<string>());

        // An agent posting: PASEO_AGENT_ID is its author, its title its name.
        var agentId = (await cli.Ok("run", "-d", "idle", "--provider", "mock", "--title", "E2E runner", "--cwd", cli.Work, "-q")).Trim();
        var asAgent = new Dictionary<string, string?>(cli.Env) { ["PASEO_AGENT_ID"] = agentId };
        var posted = await PaseoBinary.RunAsync(asAgent, "chat", "post", "release-coord", "e2e suite passes.\nSee CI run 8812.", "--json", "--host", cli.Host);
        Assert.True(posted.ExitCode == 0, posted.StdErr);
        var message = JsonNode.Parse(posted.StdOut)!.AsObject();
        Assert.Equal(["id", "author", "authorName", "createdAt", "replyTo", "mentionAgentIds", "mentionLabels", "body"], message.Select(p => p.Key));
        Assert.Equal(agentId, message["author"]!.GetValue<string>());
        Assert.Equal("E2E runner", message["authorName"]!.GetValue<string>());
        var replyId = message["id"]!.GetValue<string>();

        // A person posting ("manual"), a reply mentioning the agent by its full id.
        var reply = (await cli.Json("chat", "post", "release-coord", $"thanks @{agentId}", "--reply-to", replyId)).AsObject();
        Assert.Equal("manual", reply["author"]!.GetValue<string>());
        Assert.Equal(replyId, reply["replyTo"]!.GetValue<string>());
        Assert.Equal([$"E2E runner ({agentId})"], reply["mentionLabels"]!.AsArray().Select(l => l!.GetValue<string>()));

        // The transcript.
        var transcript = await cli.Ok("chat", "read", "release-coord");
        var blocks = transcript.Split("\n\n");
        Assert.Equal(2, blocks.Length);
        Assert.Matches($@"^┌─ E2E runner \({agentId}\) ── \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{{3}})?Z ── \[msg {replyId}\]\n│\n│  e2e suite passes\.\n│  See CI run 8812\.\n│\n└─$", blocks[0]);
        Assert.Contains($"│  reply-to: msg {replyId}\n│  mentions: E2E runner ({agentId})\n", blocks[1]);
        Assert.Single((await cli.Json("chat", "read", "release-coord", "--limit", "1")).AsArray());
        Assert.Equal(2, (await cli.Json("chat", "read", "release-coord", "--since", "10m")).AsArray().Count);
        Assert.Equal([replyId], (await cli.Json("chat", "read", "release-coord", "--agent", agentId)).AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal("INVALID_LIMIT", (await cli.Error("chat", "read", "release-coord", "--limit", "-1"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_SINCE", (await cli.Error("chat", "read", "release-coord", "--since", "yesterday-ish"))["code"]!.GetValue<string>());

        // ls and inspect
        var table = (await cli.Ok("chat", "ls")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "ID", "PURPOSE", "MESSAGES", "LAST MESSAGE"], TableRow(table[0]));
        Assert.Equal(["release-coord", room["id"]!.GetValue<string>(), "Coordinate the 0.2 release", "2"], TableRow(table[1])[..4]);
        Assert.Equal(2, (await cli.Json("chat", "inspect", "RELEASE-COORD"))["messages"]!.GetValue<int>());

        // wait: quiet on timeout; woken by a post.
        var quiet = await cli.Paseo("chat", "wait", "release-coord", "--timeout", "1s");
        Assert.Equal(0, quiet.ExitCode);
        Assert.Equal("", quiet.StdOut);
        Assert.Equal("INVALID_TIMEOUT", (await cli.Error("chat", "wait", "release-coord", "--timeout", "0s"))["code"]!.GetValue<string>());
        var waiting = cli.Paseo("chat", "wait", "release-coord", "--timeout", "60s", "--json");
        // The waiting command reads the room's newest message, then waits for what comes after it. Which post that is
        // depends on when it read, so posts go on, one per `paseo chat post` process, until the waiter has answered.
        for (var i = 0; !waiting.IsCompleted && i < 200; i++) await cli.Ok("chat", "post", "release-coord", $"ping-{i}");
        var woken = await waiting;
        Assert.True(woken.ExitCode == 0, woken.StdErr);
        Assert.All(JsonNode.Parse(woken.StdOut)!.AsArray(), m => Assert.StartsWith("ping-", m!["body"]!.GetValue<string>()));
        Assert.NotEmpty(JsonNode.Parse(woken.StdOut)!.AsArray());

        // delete, then the room is gone.
        Assert.Equal("release-coord", (await cli.Json("chat", "delete", "release-coord"))["name"]!.GetValue<string>());
        var gone = await cli.Error("chat", "inspect", "release-coord");
        Assert.Equal("chat_room_not_found", gone["code"]!.GetValue<string>());
        Assert.Contains("Chat room not found: release-coord", gone["message"]!.GetValue<string>());
        Assert.Equal("", (await cli.Ok("chat", "ls", "-q")).Trim());
    }
}
