using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Agents;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Providers.ProviderProtocol;
using AgentPhase = Paseo.Actors.Agents.AgentActor.AgentPhase;

namespace Paseo.Actors.Tests.Agents;

/// <summary>
/// An agent's lifecycle, phase by phase, with its provider session played by the test: what each phase does with a
/// prompt, a cancel, a model change, a wait and the session's death, and the status clients see in each.
/// </summary>
public sealed class AgentPhaseSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    /// <summary>A provider whose sessions forward what the agent tells them to <see cref="Sessions"/>; <see cref="Say"/> makes one speak.</summary>
    private sealed class ScriptedProvider(IActorRef sessions) : IAgentProvider
    {
        public ProviderDescription Description { get; } = new MockProvider().Description;

        public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new ScriptedSession(sessions));
    }

    private sealed record Say(ProviderEvent Event);

    private sealed class ScriptedSession : ReceiveActor
    {
        public ScriptedSession(IActorRef sessions)
        {
            Receive<Say>(say => Context.Parent.Tell(say.Event));
            ReceiveAny(message => sessions.Tell(message));
        }
    }

    private (IActorRef Agent, TestProbe Sessions) NewAgent(bool isNew = true)
    {
        var sessions = CreateTestProbe();
        var now = DateTimeOffset.UtcNow;
        var record = new AgentRecord
        {
            Id = AgentId.New().Value, Provider = MockProvider.Id, Cwd = "/tmp", CreatedAt = now, UpdatedAt = now, LastStatus = AgentStatus.Idle, LastModeId = "default",
        };
        var agent = Sys.ActorOf(AgentActor.Props(record, [], new ScriptedProvider(sessions.Ref), CreateTestProbe().Ref, TimeProvider.System, AgentLimits.Default, isNew));
        return (agent, sessions);
    }

    private AgentPhase PhaseOf(IActorRef agent)
    {
        agent.Tell(AgentActor.GetPhase.Instance, TestActor);
        return ExpectMsg<AgentPhase>();
    }

    /// <summary>What the session says reaches the agent through the session's mailbox: the phase is awaited, not read at once.</summary>
    private void AwaitPhase(IActorRef agent, AgentPhase phase) => AwaitAssert(() => Assert.Equal(phase, PhaseOf(agent)));

    private AgentSnapshot SnapshotOf(IActorRef agent)
    {
        agent.Tell(GetSnapshot.Instance, TestActor);
        return ExpectMsg<AgentSnapshot>();
    }

    /// <summary>Sends a prompt (answered later, to <paramref name="sender"/>) and returns the session that got it.</summary>
    private IActorRef Prompt(IActorRef agent, TestProbe sessions, IActorRef sender, string text = "hello")
    {
        agent.Tell(new SendMessage(text, null), sender);
        Assert.Equal(text, sessions.ExpectMsg<RunTurn>().Prompt);
        return sessions.LastSender;
    }

    [Fact]
    public void A_prompt_starts_a_turn_and_is_answered_once_the_turn_has_started_then_the_agent_settles_idle()
    {
        var (agent, sessions) = NewAgent();
        Assert.Equal(AgentPhase.Idle, PhaseOf(agent)); // a new agent gets its session at once
        var client = CreateTestProbe();
        var session = Prompt(agent, sessions, client.Ref);

        Assert.Equal(AgentPhase.Starting, PhaseOf(agent));
        Assert.Equal(AgentStatus.Idle, SnapshotOf(agent).Status);
        client.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // not accepted before the run starts

        session.Tell(new Say(TurnStarted.Instance));
        client.ExpectMsg<MessageAccepted>();
        Assert.Equal((AgentPhase.Running, AgentStatus.Running), (PhaseOf(agent), SnapshotOf(agent).Status));

        session.Tell(new Say(new TurnCompleted(null)));
        AwaitPhase(agent, AgentPhase.Idle);
        Assert.Equal(AgentStatus.Idle, SnapshotOf(agent).Status);
    }

    [Fact]
    public void A_prompt_while_a_turn_runs_replaces_it_and_is_answered_by_the_new_turn_not_the_old_ones_end()
    {
        var (agent, sessions) = NewAgent();
        var session = Prompt(agent, sessions, CreateTestProbe().Ref, "first");
        session.Tell(new Say(TurnStarted.Instance));
        AwaitPhase(agent, AgentPhase.Running);

        var client = CreateTestProbe();
        Prompt(agent, sessions, client.Ref, "second");
        Assert.Equal((AgentPhase.Replacing, AgentStatus.Running), (PhaseOf(agent), SnapshotOf(agent).Status));

        session.Tell(new Say(new TurnCanceled("replaced")));
        AwaitPhase(agent, AgentPhase.Starting);
        client.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        session.Tell(new Say(TurnStarted.Instance));
        client.ExpectMsg<MessageAccepted>();
        AwaitPhase(agent, AgentPhase.Running);
    }

    [Fact]
    public void A_prompt_offered_only_if_idle_starts_on_an_idle_agent_and_never_interrupts_a_turn_or_un_archives()
    {
        var (agent, sessions) = NewAgent();
        var client = CreateTestProbe();
        agent.Tell(new SendMessageIfIdle("mention one"), client.Ref);
        Assert.Equal("mention one", sessions.ExpectMsg<RunTurn>().Prompt);
        var session = sessions.LastSender;
        session.Tell(new Say(TurnStarted.Instance));
        client.ExpectMsg<MessageAccepted>();
        AwaitPhase(agent, AgentPhase.Running);

        // While the turn runs: busy, and the session hears nothing (no interrupt, no second turn).
        agent.Tell(new SendMessageIfIdle("mention two"), client.Ref);
        client.ExpectMsg<AgentBusy>();
        sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(AgentPhase.Running, PhaseOf(agent));

        session.Tell(new Say(new TurnCompleted(null)));
        AwaitPhase(agent, AgentPhase.Idle);
        agent.Tell(Archive.Instance, TestActor);
        ExpectMsg<Archived>();
        agent.Tell(new SendMessageIfIdle("mention three"), client.Ref);
        Assert.False(client.ExpectMsg<CommandResult>().Accepted);
        Assert.NotNull(SnapshotOf(agent).ArchivedAt);
        sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Cancel_interrupts_only_a_running_turn_and_is_answered_when_it_has_ended()
    {
        var (agent, sessions) = NewAgent();
        agent.Tell(Cancel.Instance, TestActor);
        Assert.Equal(AgentStatus.Idle, ExpectMsg<AgentSnapshot>().Status); // nothing to stop
        sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        var session = Prompt(agent, sessions, CreateTestProbe().Ref);
        session.Tell(new Say(TurnStarted.Instance));
        AwaitPhase(agent, AgentPhase.Running);
        agent.Tell(Cancel.Instance, TestActor);
        sessions.ExpectMsg<Interrupt>();
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        session.Tell(new Say(new TurnCanceled("interrupted")));
        Assert.Equal(AgentStatus.Idle, ExpectMsg<AgentSnapshot>().Status);
    }

    [Fact]
    public void A_model_change_during_a_turn_rebuilds_the_session_after_it_and_the_next_prompt_starts_a_new_one()
    {
        var (agent, sessions) = NewAgent();
        var first = Prompt(agent, sessions, CreateTestProbe().Ref);
        first.Tell(new Say(TurnStarted.Instance));
        agent.Tell(new SetAgentModel(null), TestActor);
        Assert.True(ExpectMsg<CommandResult>().Accepted);
        agent.Tell(new SetAgentThinking("high"), TestActor);
        Assert.True(ExpectMsg<CommandResult>().Accepted);
        Watch(first);
        ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // the running turn keeps its session

        first.Tell(new Say(new TurnCompleted(null)));
        ExpectTerminated(first);
        AwaitPhase(agent, AgentPhase.Dormant);

        var second = Prompt(agent, sessions, CreateTestProbe().Ref);
        Assert.NotEqual(first.Path, second.Path);
        Assert.Equal(AgentPhase.Starting, PhaseOf(agent));
    }

    [Fact]
    public void A_session_that_dies_mid_turn_fails_the_turn_answers_its_waiters_and_leaves_the_agent_dormant()
    {
        var (agent, sessions) = NewAgent();
        var session = Prompt(agent, sessions, CreateTestProbe().Ref);
        session.Tell(new Say(TurnStarted.Instance));
        var waiter = CreateTestProbe();
        agent.Tell(new WaitForFinish(null, 9), waiter.Ref);
        waiter.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        Sys.Stop(session);
        var result = waiter.ExpectMsg<FinishResult>();
        Assert.Equal(("error", 9L), (result.Status, result.WaitId));
        AwaitPhase(agent, AgentPhase.Dormant);
        var snapshot = SnapshotOf(agent);
        Assert.Equal(AgentStatus.Error, snapshot.Status);
        Assert.Contains("stopped unexpectedly", snapshot.LastError);
        Assert.False(snapshot.Live);
    }

    [Fact]
    public void A_wait_sent_between_a_prompt_and_its_turns_start_waits_for_that_turn()
    {
        var (agent, sessions) = NewAgent();
        var session = Prompt(agent, sessions, CreateTestProbe().Ref);
        var waiter = CreateTestProbe();
        agent.Tell(new WaitForFinish(null, 3), waiter.Ref);
        waiter.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // not "idle" at once: the prompt's turn is on its way

        session.Tell(new Say(TurnStarted.Instance));
        session.Tell(new Say(new TurnCompleted(null)));
        Assert.Equal(("idle", 3L), waiter.ExpectMsg<FinishResult>() is var r ? (r.Status, r.WaitId) : default);
    }

    [Fact]
    public void A_stored_agent_stays_dormant_until_a_prompt_and_one_whose_provider_is_missing_refuses_to_run()
    {
        var (stored, sessions) = NewAgent(isNew: false);
        Assert.Equal((AgentPhase.Dormant, false), (PhaseOf(stored), SnapshotOf(stored).Live));
        sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        stored.Tell(RefreshAgent.Instance, TestActor);
        ExpectMsg<AgentRefreshed>();
        Assert.Equal(AgentPhase.Idle, PhaseOf(stored));

        var now = DateTimeOffset.UtcNow;
        var orphan = Sys.ActorOf(AgentActor.Props(new AgentRecord
        {
            Id = AgentId.New().Value, Provider = "gone", Cwd = "/tmp", CreatedAt = now, UpdatedAt = now, LastStatus = AgentStatus.Idle,
        }, [], null, CreateTestProbe().Ref, TimeProvider.System, AgentLimits.Default));
        Assert.Equal(AgentPhase.Unavailable, PhaseOf(orphan));
        orphan.Tell(new SendMessage("hi", null), TestActor);
        Assert.Contains("not available", ExpectMsg<CommandResult>().Error);
        orphan.Tell(RefreshAgent.Instance, TestActor);
        Assert.False(ExpectMsg<CommandResult>().Accepted);
        Assert.True(SnapshotOf(orphan).ProviderUnavailable);
    }
}
