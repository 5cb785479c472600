using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Tests.Support;
using Xunit.Abstractions;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Tests.Providers;

/// <summary>
/// The lifecycle every provider session shares (<see cref="ProviderSessionActor"/>), driven phase by phase with a
/// session whose CLI is played by the test, and the mock provider's session on it. The test actor is the agent.
/// </summary>
public sealed class ProviderSessionPhaseSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    /// <summary>A session whose CLI is the test: it opens, fails, ends turns and forces phases when told; what it sends goes to <c>cli</c>.</summary>
    private sealed class ScriptedSession(IActorRef cli) : ProviderSessionActor
    {
        protected override string Name => "scripted";

        protected override TimeSpan InterruptGrace => TimeSpan.FromMilliseconds(200);

        protected override void Common()
        {
            Receive<Open>(_ => Opened());
            Receive<FailOpen>(failed => OpenFailed(failed.Reason));
            Receive<EndTurn>(end => TurnEnded(end.How));
            Receive<Force>(force => TransitionTo(force.Phase));
            Receive<GetPhase>(_ => Sender.Tell(Phase));
        }

        protected override void SendPrompt(RunTurn run) => cli.Tell(("prompt", run.Prompt));

        protected override void AbortTurn() => cli.Tell(("abort", ""));
    }

    private sealed record Open;
    private sealed record FailOpen(string Reason);
    private sealed record EndTurn(ProviderEvent How);
    private sealed record Force(ProviderSessionPhase Phase);
    private sealed record GetPhase;

    // What the session threw, if anything (it is resumed, so the phase after a refusal can be checked).
    private readonly TaskCompletionSource<Exception> _thrown = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private (IActorRef Session, TestProbe Cli) Scripted()
    {
        var cli = CreateTestProbe();
        var strategy = new OneForOneStrategy(Decider.From(e =>
        {
            _thrown.TrySetResult(e);
            return Directive.Resume;
        }));
        return (ChildActorOf(Props.Create(() => new ScriptedSession(cli.Ref)), strategy), cli);
    }

    private ProviderSessionPhase PhaseOf(IActorRef session)
    {
        session.Tell(new GetPhase(), TestActor);
        return ExpectMsg<ProviderSessionPhase>();
    }

    [Fact]
    public void A_prompt_sent_while_the_session_opens_starts_its_turn_at_once_and_reaches_the_cli_once_it_is_open()
    {
        var (session, cli) = Scripted();
        session.Tell(new RunTurn("first"));
        ExpectMsg<TurnStarted>();
        Assert.Equal(ProviderSessionPhase.OpeningWithTurn, PhaseOf(session));
        // A newer prompt replaces the waiting one: the first turn ends, only the second is ever sent.
        session.Tell(new RunTurn("second"));
        Assert.Equal("Replaced by a new prompt", ExpectMsg<TurnCanceled>().Reason);
        ExpectMsg<TurnStarted>();
        cli.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        session.Tell(new Open());
        Assert.Equal(("prompt", "second"), cli.ExpectMsg<(string, string)>());
        Assert.Equal(ProviderSessionPhase.InTurn, PhaseOf(session));
    }

    [Fact]
    public void An_interrupt_before_the_session_is_open_drops_the_waiting_prompt_and_asks_the_cli_nothing()
    {
        var (session, cli) = Scripted();
        session.Tell(new RunTurn("never sent"));
        ExpectMsg<TurnStarted>();
        session.Tell(Interrupt.Instance);
        Assert.Equal("Interrupted", ExpectMsg<TurnCanceled>().Reason);
        session.Tell(new Open());
        Assert.Equal(ProviderSessionPhase.Ready, PhaseOf(session));
        cli.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_session_that_cannot_open_fails_the_waiting_turn_and_the_next_one_then_stops()
    {
        var (session, _) = Scripted();
        Watch(session);
        session.Tell(new RunTurn("waiting"));
        ExpectMsg<TurnStarted>();
        session.Tell(new FailOpen("no such CLI"));
        Assert.Equal("no such CLI", ExpectMsg<TurnFailed>().Error);
        Assert.Equal(ProviderSessionPhase.Failed, PhaseOf(session));

        session.Tell(new RunTurn("again"));
        ExpectMsg<TurnStarted>();
        Assert.Equal("no such CLI", ExpectMsg<TurnFailed>().Error);
        ExpectTerminated(session);
    }

    [Fact]
    public void An_interrupt_the_cli_does_not_honour_in_time_cancels_the_turn_and_stops_the_session()
    {
        var (session, cli) = Scripted();
        Watch(session);
        session.Tell(new Open());
        session.Tell(new RunTurn("long"));
        ExpectMsg<TurnStarted>();
        cli.ExpectMsg<(string, string)>();
        session.Tell(Interrupt.Instance);
        Assert.Equal(("abort", ""), cli.ExpectMsg<(string, string)>());
        Assert.Equal(ProviderSessionPhase.Interrupting, PhaseOf(session));
        session.Tell(Interrupt.Instance); // asked once only
        cli.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        Assert.Contains("did not stop within", ExpectMsg<TurnCanceled>(TimeSpan.FromSeconds(3)).Reason);
        ExpectTerminated(session);
    }

    [Fact]
    public void A_turn_that_ends_while_interrupting_ends_once_and_the_session_is_ready_again()
    {
        var (session, cli) = Scripted();
        session.Tell(new Open());
        session.Tell(new RunTurn("work"));
        ExpectMsg<TurnStarted>();
        session.Tell(Interrupt.Instance);
        cli.ExpectMsg<(string, string)>();
        cli.ExpectMsg<(string, string)>();
        session.Tell(new EndTurn(new TurnCanceled("Interrupted")));
        ExpectMsg<TurnCanceled>();
        session.Tell(new EndTurn(new TurnCompleted(null))); // a late end: no turn runs, nothing is said
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // and the interrupt's timer was cancelled with the turn
        Assert.Equal(ProviderSessionPhase.Ready, PhaseOf(session));
    }

    [Fact]
    public async Task A_transition_the_table_does_not_list_is_refused()
    {
        var (session, _) = Scripted();
        session.Tell(new Force(ProviderSessionPhase.Interrupting));
        var refused = await _thrown.Task.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal("scripted session: no transition from Opening to Interrupting", refused.Message);
        Assert.Equal(ProviderSessionPhase.Opening, PhaseOf(session));
    }

    [Fact]
    public void The_mock_session_is_open_at_once_and_a_new_prompt_replaces_a_hanging_turn()
    {
        var session = ChildActorOf(new MockProvider().SessionProps(new ProviderSessionConfig("a1", "/tmp", null, null, null, null)));
        ExpectMsg<ThreadStarted>();
        session.Tell(new RunTurn("[hang]"));
        ExpectMsg<TurnStarted>();
        ExpectMsg<Timeline>(); // "Reading the request."
        session.Tell(new RunTurn("hello"));
        Assert.Equal("Replaced by a new prompt", ExpectMsg<TurnCanceled>().Reason);
        ExpectMsg<TurnStarted>();
        FishForMessage(m => m is TurnCompleted);
        session.Tell(new RunTurn("[hang]"));
        ExpectMsg<TurnStarted>();
        session.Tell(Interrupt.Instance);
        FishForMessage(m => m is TurnCanceled { Reason: "Interrupted" });
    }
}
