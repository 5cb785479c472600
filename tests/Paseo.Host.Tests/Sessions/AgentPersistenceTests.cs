using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;

namespace Paseo.Host.Tests.Sessions;

/// <summary>Agents and their timelines survive a daemon restart, a graceful one and a SIGKILL during heavy writes.</summary>
public sealed class AgentPersistenceTests : IDisposable
{
    private readonly TestHome _home = new();

    public void Dispose() => _home.Dispose();

    private string Cwd()
    {
        var cwd = _home.PathIn("project");
        Directory.CreateDirectory(cwd);
        return cwd;
    }

    [Fact]
    public async Task After_a_restart_agents_are_listed_from_disk_with_their_whole_timeline_under_a_new_epoch()
    {
        string agentId, oldEpoch;
        JsonNode oldCursor;
        int rows;
        await using (var daemon = await InProcessDaemon.StartAsync(existingHome: _home))
        {
            var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
            await using var _ = client;
            var created = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = Cwd(), ["title"] = "Keeper" },
                ["initialPrompt"] = "remember [shell make test]",
                ["labels"] = new JsonObject { ["team"] = "infra" },
            }), "status")!;
            agentId = created["agentId"]!.GetValue<string>();
            await client.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId });
            var timeline = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
            {
                ["agentId"] = agentId, ["projection"] = "canonical", ["limit"] = 0,
            }), "fetch_agent_timeline_response")!;
            oldEpoch = timeline["epoch"]!.GetValue<string>();
            oldCursor = timeline["endCursor"]!.DeepClone();
            rows = timeline["entries"]!.AsArray().Count;
        }

        var file = Directory.EnumerateFiles(_home.Home.AgentsDir, agentId + ".json", SearchOption.AllDirectories).Single();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(file)!));
        Assert.EndsWith("-project", Path.GetFileName(Path.GetDirectoryName(file)));

        await using (var daemon = await InProcessDaemon.StartAsync(existingHome: _home))
        {
            var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
            await using var _ = client;
            var list = ProtocolClient.Payload(await client.RequestAsync("fetch_agents_request"), "fetch_agents_response")!;
            var agent = Assert.Single(list["entries"]!.AsArray())!["agent"]!;
            WireShapes.Snapshot(agent);
            Assert.Equal(agentId, agent["id"]!.GetValue<string>());
            Assert.Equal("Keeper", agent["title"]!.GetValue<string>());
            Assert.Equal("infra", agent["labels"]!["team"]!.GetValue<string>());
            Assert.Equal("idle", agent["status"]!.GetValue<string>());
            Assert.False(agent.AsObject().ContainsKey("features"), "a stored agent that is not loaded has no features key");

            // The old cursor belongs to another epoch: reset + staleCursor, and the whole tail.
            var stale = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
            {
                ["agentId"] = agentId, ["cursor"] = oldCursor, ["projection"] = "canonical",
            }), "fetch_agent_timeline_response")!;
            Assert.True(stale["reset"]!.GetValue<bool>());
            Assert.True(stale["staleCursor"]!.GetValue<bool>());
            Assert.NotEqual(oldEpoch, stale["epoch"]!.GetValue<string>());
            Assert.Equal(rows, stale["entries"]!.AsArray().Count);
            Assert.Equal("remember [shell make test]", stale["entries"]![0]!["item"]!["text"]!.GetValue<string>());

            // The agent resumes on the next prompt, and its rows go on from where they were.
            await client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = agentId, ["text"] = "and again" });
            var done = ProtocolClient.Payload(await client.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId }), "wait_for_finish_response")!;
            Assert.Equal("idle", done["status"]!.GetValue<string>());
            var after = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
            {
                ["agentId"] = agentId, ["projection"] = "canonical", ["limit"] = 0,
            }), "fetch_agent_timeline_response")!;
            var seqs = after["entries"]!.AsArray().Select(e => e!["seqStart"]!.GetValue<long>()).ToList();
            Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
            Assert.True(seqs.Count > rows);
        }
    }

    [Fact]
    public async Task A_daemon_killed_during_heavy_timeline_writes_loses_no_committed_row()
    {
        var env = PaseoBinary.CleanEnvironment(_home);
        string agentId;
        await using (var daemon = new ForegroundDaemon(env, "--port", "0"))
        {
            var record = await RunningDaemon.WaitHealthyAsync(_home.Home);
            var listen = (TcpListenTarget)ListenTarget.Parse(record.Listen);
            await using var client = await ProtocolClient.ConnectAsync(new Uri($"ws://{listen.UrlHost}:{listen.Port}/ws"));
            await client.HelloAsync("cid_kill");
            // This client does not read its stream: the daemon will disconnect it (1013), which does not matter here.
            await client.SendSessionAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = Cwd() },
                ["initialPrompt"] = "[stream 20000 60] a long stream",
            });
            string? timelineFile = null;
            await Eventually.HoldsAsync(() =>
            {
                timelineFile ??= Directory.Exists(_home.Home.AgentsDir)
                    ? Directory.EnumerateFiles(_home.Home.AgentsDir, "*.timeline.jsonl", SearchOption.AllDirectories).FirstOrDefault()
                    : null;
                // Kill while rows are still being written: as soon as some are on disk.
                return timelineFile is not null && new FileInfo(timelineFile).Length > 64 * 1024;
            }, "timeline rows on disk");
            agentId = Path.GetFileName(timelineFile!)[..^".timeline.jsonl".Length];
            Signals.Send(daemon.Process.Id, Signals.SIGKILL);
            await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        var file = Directory.EnumerateFiles(_home.Home.AgentsDir, agentId + ".timeline.jsonl", SearchOption.AllDirectories).Single();
        var lines = File.ReadAllText(file).Split('\n');
        // Every complete line (ended by a newline) is a committed row: all of them must come back.
        var committed = lines[..^1].Count(l => l.Length > 0);
        // The kill came mid-turn: far fewer than the 6 000 rows a whole minute of streaming makes.
        Assert.InRange(committed, 1, 5_000);
        foreach (var json in Directory.EnumerateFiles(_home.Home.AgentsDir, "*.json", SearchOption.AllDirectories))
            Assert.NotNull(JsonNode.Parse(File.ReadAllText(json)));

        await using var restarted = await InProcessDaemon.StartAsync(existingHome: _home);
        var (again, _) = await ProtocolClient.ConnectWithHelloAsync(restarted);
        await using var __ = again;
        var timeline = ProtocolClient.Payload(await again.RequestAsync("fetch_agent_timeline_request", new JsonObject
        {
            ["agentId"] = agentId, ["projection"] = "canonical", ["limit"] = 0,
        }), "fetch_agent_timeline_response")!;
        var seqs = timeline["entries"]!.AsArray().Select(e => e!["seqStart"]!.GetValue<long>()).ToList();
        Assert.Equal(committed, seqs.Count);
        Assert.Equal(Enumerable.Range(1, committed).Select(i => (long)i), seqs);
        Assert.True(File.ReadAllText(file).EndsWith('\n'), "a torn last line is cut off at load");
    }

    [Fact]
    public async Task The_timeline_keeps_the_configured_rows_on_disk_and_only_the_newest_in_memory()
    {
        File.AppendAllText(_home.Home.HoconOverride,
            "paseo.agents.timeline-retained-rows = 10\npaseo.agents.timeline-memory-rows = 4\npaseo.agents.coalesce-stream-deltas = off\n");
        string agentId;
        List<long> before;
        await using (var daemon = await InProcessDaemon.StartAsync(existingHome: _home))
        {
            var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
            await using var _ = client;
            agentId = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = Cwd() },
                ["initialPrompt"] = "[chunks 50] retention",
            }), "status")!["agentId"]!.GetValue<string>();
            await client.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId });
            before = await SeqsAsync(client, agentId, new JsonObject { ["limit"] = 0 });
            // 52 rows were committed (user message, reasoning, 50 chunks); the file keeps between 10 and 20 of the newest.
            Assert.InRange(before.Count, 10, 20);
            Assert.Equal(52L, before[^1]);
            Assert.Equal(Enumerable.Range((int)before[0], before.Count).Select(i => (long)i), before);

            // The last 3 rows come from memory, a page further back from the file; both see the same window.
            var tail = await PageAsync(client, agentId, new JsonObject { ["limit"] = 3 });
            Assert.Equal([50L, 51L, 52L], Seqs(tail));
            Assert.Equal(before[0], tail["window"]!["minSeq"]!.GetValue<long>());
            Assert.True(tail["hasOlder"]!.GetValue<bool>());
            var older = await PageAsync(client, agentId, new JsonObject
            {
                ["direction"] = "before", ["limit"] = 3, ["cursor"] = new JsonObject { ["epoch"] = tail["epoch"]!.DeepClone(), ["seq"] = 50 },
            });
            Assert.Equal([47L, 48L, 49L], Seqs(older));

            var gap = await PageAsync(client, agentId, new JsonObject { ["cursor"] = new JsonObject { ["epoch"] = tail["epoch"]!.DeepClone(), ["seq"] = 2 } });
            Assert.True(gap["gap"]!.GetValue<bool>());
        }

        var file = Directory.EnumerateFiles(_home.Home.AgentsDir, agentId + ".timeline.jsonl", SearchOption.AllDirectories).Single();
        Assert.Equal(before.Count, File.ReadAllLines(file).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

        await using var restarted = await InProcessDaemon.StartAsync(existingHome: _home);
        var (again, _) = await ProtocolClient.ConnectWithHelloAsync(restarted);
        await using var __ = again;
        Assert.Equal(before, await SeqsAsync(again, agentId, new JsonObject { ["limit"] = 0 }));
        Assert.Equal([51L, 52L], Seqs(await PageAsync(again, agentId, new JsonObject { ["limit"] = 2 })));
    }

    [Fact]
    public async Task A_damaged_line_in_the_middle_of_a_timeline_hides_no_later_row()
    {
        File.AppendAllText(_home.Home.HoconOverride, "paseo.agents.coalesce-stream-deltas = off\n");
        string agentId;
        await using (var daemon = await InProcessDaemon.StartAsync(existingHome: _home))
        {
            var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
            await using var _ = client;
            agentId = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = Cwd() },
                ["initialPrompt"] = "[chunks 6] damage",
            }), "status")!["agentId"]!.GetValue<string>();
            await client.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId });
        }
        var file = Directory.EnumerateFiles(_home.Home.AgentsDir, agentId + ".timeline.jsonl", SearchOption.AllDirectories).Single();
        var lines = File.ReadAllLines(file);
        Assert.Equal(8, lines.Length);
        lines[3] = lines[3][..10] + "#garbage#";
        File.WriteAllText(file, string.Join('\n', lines) + "\n");

        await using var restarted = await InProcessDaemon.StartAsync(existingHome: _home);
        var (again, _) = await ProtocolClient.ConnectWithHelloAsync(restarted);
        await using var __ = again;
        Assert.Equal([1L, 2L, 3L, 5L, 6L, 7L, 8L], await SeqsAsync(again, agentId, new JsonObject { ["limit"] = 0 }));
        await again.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = agentId, ["text"] = "after" });
        await again.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId });
        var after = await SeqsAsync(again, agentId, new JsonObject { ["limit"] = 0 });
        Assert.Equal(9L, after[7]);
    }

    private static async Task<JsonObject> PageAsync(ProtocolClient client, string agentId, JsonObject query)
    {
        query["agentId"] = agentId;
        query["projection"] = "canonical";
        var page = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", query), "fetch_agent_timeline_response")!;
        Assert.Null(page["error"]);
        return page;
    }

    private static List<long> Seqs(JsonObject page) => page["entries"]!.AsArray().Select(e => e!["seqStart"]!.GetValue<long>()).ToList();

    private static async Task<List<long>> SeqsAsync(ProtocolClient client, string agentId, JsonObject query) => Seqs(await PageAsync(client, agentId, query));
}
