using System.Diagnostics;
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Agents;

/// <summary>The store of agents' files: an old-history read never holds up the appends of other agents.</summary>
public sealed class AgentStoreSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _root = Directory.CreateTempSubdirectory("paseo-store-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task A_timeline_read_that_cannot_finish_does_not_hold_up_other_agents_appends()
    {
        var store = Sys.ActorOf(AgentStore.Props(_root));
        var cwd = Path.Combine(_root, "project");
        var dir = Path.Combine(_root, AgentRecord.ProjectDir(cwd));
        Directory.CreateDirectory(dir);
        // The old agent's timeline is a FIFO: reading it blocks until something writes to it, as a slow disk would, for as
        // long as the test wants.
        var slow = Path.Combine(dir, "slow-agent.timeline.jsonl");
        using (var mkfifo = Process.Start("mkfifo", slow)) await mkfifo.WaitForExitAsync();

        var read = store.Ask<AgentStoreProtocol.TimelineRead>(new AgentStoreProtocol.ReadTimeline("slow-agent", cwd), TimeSpan.FromSeconds(30));
        var row = new TimelineRow(1, DateTimeOffset.UtcNow, new JsonObject { ["type"] = "assistant_message", ["text"] = "hi" });
        store.Tell(new AgentStoreProtocol.AppendRows("busy-agent", cwd, [row]));
        // Everything sent before Flush is written once it is answered: the append went through while the read waits.
        await store.Ask<Akka.Done>(AgentStoreProtocol.Flush.Instance, Wait);
        Assert.False(read.IsCompleted);
        Assert.Equal(AgentTimeline.ToLine(row) + "\n", await File.ReadAllTextAsync(Path.Combine(dir, "busy-agent.timeline.jsonl")));

        await using (var writer = new FileStream(slow, FileMode.Open, FileAccess.Write)) await writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(AgentTimeline.ToLine(row) + "\n"));
        var answer = await read.WaitAsync(Wait);
        Assert.Equal(1, Assert.Single(answer.Rows).Seq);
    }
}
