using System.Diagnostics;
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
/// What an agent and the agents' supervisor hold for clients is bounded: waits on one agent (and a waiter that stops is
/// forgotten), and the requests held while the stored agents load.
/// </summary>
public sealed class AgentWaitersSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-agents-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A mock agent whose turn runs until it is cancelled.</summary>
    private IActorRef RunningAgent(int maxWaiters)
    {
        var now = DateTimeOffset.UtcNow;
        var record = new AgentRecord { Id = AgentId.New().Value, Provider = MockProvider.Id, Cwd = _dir, CreatedAt = now, UpdatedAt = now, LastStatus = AgentStatus.Idle, LastModeId = "default" };
        var agent = Sys.ActorOf(AgentActor.Props(record, [], new MockProvider(), CreateTestProbe().Ref, TimeProvider.System,
            AgentLimits.Default with { MaxWaitersPerAgent = maxWaiters }, isNew: true));
        agent.Tell(new AgentActor.StartNew("[hang]", null));
        ExpectMsg<AgentCreated>();
        return agent;
    }

    [Fact]
    public void Finish_waiters_beyond_the_cap_are_answered_at_once_and_a_waiter_that_stops_frees_its_place()
    {
        var agent = RunningAgent(maxWaiters: 2);
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        agent.Tell(new WaitForFinish(null, 1), first.Ref);
        agent.Tell(new WaitForFinish(null, 2), second.Ref);

        agent.Tell(new WaitForFinish(null, 3), TestActor);
        var refused = ExpectMsg<FinishResult>();
        Assert.Equal(("error", 3L), (refused.Status, refused.WaitId));
        Assert.Contains("paseo.agents.max-waiters-per-agent", refused.Error);

        // The first waiter goes away (its session ended): its place is free again, and nobody answers it.
        Watch(first.Ref);
        Sys.Stop(first.Ref);
        ExpectTerminated(first.Ref);
        AwaitAssert(() =>
        {
            agent.Tell(new WaitForFinish(null, 4), TestActor);
            ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // held, not refused
        });

        // The turn ends: every waiter still there gets the result under its own wait id.
        agent.Tell(Cancel.Instance, CreateTestProbe().Ref);
        Assert.Equal(("idle", 2L), second.ExpectMsg<FinishResult>() is var r2 ? (r2.Status, r2.WaitId) : default);
        Assert.Equal(("idle", 4L), ExpectMsg<FinishResult>() is var r4 ? (r4.Status, r4.WaitId) : default);
    }

    [Fact]
    public void Cancels_beyond_the_cap_are_answered_at_once_with_the_agent_as_it_is()
    {
        var agent = RunningAgent(maxWaiters: 1);
        var waiting = CreateTestProbe();
        agent.Tell(Cancel.Instance, waiting.Ref); // waits for the turn to end
        agent.Tell(Cancel.Instance, TestActor);   // beyond the cap
        Assert.Equal(AgentStatus.Running, ExpectMsg<AgentSnapshot>().Status); // at once, while the turn still runs
        Assert.Equal(AgentStatus.Idle, waiting.ExpectMsg<AgentSnapshot>().Status);
    }

    [Fact]
    public async Task Requests_beyond_the_cap_while_the_stored_agents_load_are_answered_at_once()
    {
        // A stored agent file that is a FIFO: loading blocks on it until the test writes, as a very slow disk would.
        var project = Path.Combine(_dir, "project");
        Directory.CreateDirectory(project);
        var slow = Path.Combine(project, "slow.json");
        using (var mkfifo = Process.Start("mkfifo", slow)) await mkfifo.WaitForExitAsync();
        var supervisor = Sys.ActorOf(AgentSupervisor.Props(new Dictionary<string, IAgentProvider>(), _dir,
            AgentLimits.Default with { MaxRequestsWhileLoading = 2 }, TimeProvider.System));

        supervisor.Tell(new ToAgent("a1", GetSnapshot.Instance));
        supervisor.Tell(new ToAgent("a2", GetSnapshot.Instance));
        supervisor.Tell(new ToAgent("a3", new WaitForFinish(null, 7)));
        var refused = ExpectMsg<AgentNotFound>();
        Assert.Equal(("a3", 7L), (refused.Identifier, refused.CorrelationId));
        Assert.Contains("paseo.agents.max-requests-while-loading", refused.Error);

        await using (var writer = new FileStream(slow, FileMode.Open, FileAccess.Write)) await writer.WriteAsync("not an agent"u8.ToArray());
        // Loaded (the damaged file skipped): the two held requests are answered, in order.
        Assert.Equal("a1", ExpectMsg<AgentNotFound>(TimeSpan.FromSeconds(10)).Identifier);
        Assert.Equal("a2", ExpectMsg<AgentNotFound>().Identifier);
    }
}
