using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Tests.Agents;

/// <summary>
/// `agents` with its store and its agents: a write that fails (the disk refuses it) is logged and lost alone — the store
/// lives on and writes again once it can, and every agent keeps its state and provider session.
/// </summary>
public sealed class AgentSupervisorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _root = Directory.CreateTempSubdirectory("paseo-supervisor-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_root, recursive: true);
    }

    private AgentSnapshot Create(IActorRef supervisor, string cwd)
    {
        Directory.CreateDirectory(cwd);
        supervisor.Tell(new CreateAgent(new AgentConfig(MockProvider.Id, cwd, null, null, null, null, null), null, null, new Dictionary<string, string>()), TestActor);
        return ExpectMsg<AgentCreated>(Wait).Agent;
    }

    [Fact]
    public async Task A_store_write_that_fails_loses_only_itself_the_store_writes_again_and_the_agents_keep_their_sessions()
    {
        var agentsDir = Path.Combine(_root, "agents");
        var supervisor = Sys.ActorOf(AgentSupervisor.Props(new Dictionary<string, IAgentProvider> { [MockProvider.Id] = new MockProvider() }, agentsDir,
            AgentLimits.Default, TimeProvider.System));
        var healthyCwd = Path.Combine(_root, "healthy");
        var healthy = Create(supervisor, healthyCwd);
        Assert.True(healthy.Live);
        var store = await Sys.ActorSelection(supervisor.Path / "store").ResolveOne(Wait);
        Watch(store);

        // The blocked agent's project directory is a file: every write of its record throws (as a full or read-only disk would).
        var blockedCwd = Path.Combine(_root, "blocked");
        var blockedDir = Path.Combine(agentsDir, AgentRecord.ProjectDir(blockedCwd));
        File.WriteAllText(blockedDir, "not a directory");
        Create(supervisor, blockedCwd);
        var blocked = ExpectAgentList(supervisor).Single(a => a.Cwd == blockedCwd);

        // The store is still there (not stopped), and the healthy agent kept its live session.
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        supervisor.Tell(new ToAgent(healthy.Id, GetSnapshot.Instance), TestActor);
        Assert.True(ExpectMsg<AgentSnapshot>().Live);

        // Once the disk is writable again, the next change of the blocked agent reaches its file.
        File.Delete(blockedDir);
        supervisor.Tell(new ToAgent(blocked.Id, new UpdateAgent("now saved", null)), TestActor);
        Assert.True(ExpectMsg<CommandResult>().Accepted);
        AwaitAssert(() => Assert.True(File.Exists(Path.Combine(blockedDir, blocked.Id + ".json"))), Wait);
    }

    private IReadOnlyList<AgentSnapshot> ExpectAgentList(IActorRef supervisor)
    {
        supervisor.Tell(ListAgents.Instance, TestActor);
        return ExpectMsg<AgentList>(Wait).Agents;
    }
}
