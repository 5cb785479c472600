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

namespace Paseo.Actors.Tests.Agents;

/// <summary>
/// How an agent hands its timeline rows to the store (paseo.agents.timeline-write-delay): streamed text rows wait for
/// the ones after them and go in one write; any other row, a turn's end and the agent's stop write what waits at once,
/// in order; a deleted agent's waiting rows are dropped with its files. And how deltas become rows
/// (paseo.agents.stream-merge-window): without a window, only deltas already waiting merge; with one, deltas within it do.
/// </summary>
public sealed class AgentTimelineWriteSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private sealed class ScriptedProvider : IAgentProvider
    {
        public ProviderDescription Description { get; } = new MockProvider().Description;

        public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new ScriptedSession());
    }

    private sealed record Say(ProviderEvent Event);

    /// <summary>Asks the agent through the session, so the answer comes after everything the session said before.</summary>
    private sealed record AskAgent(object Message, IActorRef ReplyTo);

    private sealed class ScriptedSession : ReceiveActor
    {
        public ScriptedSession()
        {
            Receive<Say>(say => Context.Parent.Tell(say.Event));
            Receive<AskAgent>(ask => Context.Parent.Tell(ask.Message, ask.ReplyTo));
            ReceiveAny(_ => { });
        }
    }

    private (IActorRef Agent, TestProbe Store, IActorRef Session) NewAgent(TimeSpan writeDelay, TimeSpan mergeWindow = default)
    {
        var store = CreateTestProbe();
        var now = DateTimeOffset.UtcNow;
        var record = new AgentRecord
        {
            Id = AgentId.New().Value, Provider = MockProvider.Id, Cwd = "/tmp", CreatedAt = now, UpdatedAt = now, LastStatus = AgentStatus.Idle, LastModeId = "default",
        };
        var limits = AgentLimits.Default with { TimelineWriteDelay = writeDelay, StreamMergeWindow = mergeWindow };
        var agent = Sys.ActorOf(AgentActor.Props(record, [], new ScriptedProvider(), store.Ref, TimeProvider.System, limits, isNew: true));
        // The new agent's session, found through the agent's children.
        var session = AwaitSession(agent);
        return (agent, store, session);
    }

    private IActorRef AwaitSession(IActorRef agent)
    {
        IActorRef? session = null;
        AwaitAssert(() =>
        {
            session = Sys.ActorSelection(agent.Path / "*").ResolveOne(TimeSpan.FromSeconds(3)).Result;
        });
        return session!;
    }

    /// <summary>Returns once the agent has taken everything the session said so far (its mailbox is FIFO per sender).</summary>
    private void Taken(IActorRef session)
    {
        session.Tell(new AskAgent(GetSnapshot.Instance, TestActor));
        ExpectMsg<AgentSnapshot>();
    }

    private static Say Text(string type, string text) => new(new Timeline(type == "reasoning" ? TimelineItems.Reasoning(text) : TimelineItems.AssistantMessage(text)));

    /// <summary>The rows the store is given, message by message, skipping the record saves.</summary>
    private AgentStoreProtocol.AppendRows NextRows(TestProbe store) =>
        store.FishForMessage<AgentStoreProtocol.AppendRows>(m => m is AgentStoreProtocol.AppendRows, TimeSpan.FromSeconds(10));

    private static string[] Texts(AgentStoreProtocol.AppendRows rows) => rows.Rows.Select(r => WsInbound.Str(r.Item, "text") ?? WsInbound.Str(r.Item, "type")!).ToArray();

    [Fact]
    public void Streamed_rows_wait_and_the_turns_end_writes_them_in_one_message_in_order()
    {
        var (agent, store, session) = NewAgent(TimeSpan.FromHours(1)); // the timer never fires here
        session.Tell(new Say(TurnStarted.Instance));
        // Alternating types make separate rows (consecutive deltas of one type merge into one).
        session.Tell(Text("assistant", "a"));
        session.Tell(Text("reasoning", "b"));
        session.Tell(Text("assistant", "c"));
        session.Tell(new Say(new TurnCompleted(null)));
        var rows = NextRows(store);
        Assert.Equal(["a", "b", "c"], Texts(rows));
        Assert.Equal([1L, 2L, 3L], rows.Rows.Select(r => r.Seq));
    }

    [Fact]
    public void Another_kind_of_row_writes_the_waiting_ones_with_it()
    {
        var (_, store, session) = NewAgent(TimeSpan.FromHours(1));
        session.Tell(new Say(TurnStarted.Instance));
        session.Tell(Text("assistant", "a"));
        session.Tell(new Say(new Timeline(TimelineItems.Error("tool broke"))));
        var rows = NextRows(store);
        Assert.Equal(2, rows.Rows.Count);
        Assert.Equal("a", WsInbound.Str(rows.Rows[0].Item, "text"));
        Assert.Equal("error", WsInbound.Str(rows.Rows[1].Item, "type"));
    }

    [Fact]
    public void Waiting_rows_are_written_when_the_delay_is_over_without_the_turn_ending()
    {
        var (_, store, session) = NewAgent(TimeSpan.FromMilliseconds(50));
        session.Tell(new Say(TurnStarted.Instance));
        session.Tell(Text("assistant", "a"));
        Assert.Equal(["a"], Texts(NextRows(store)));
    }

    [Fact]
    public void A_stopped_agent_writes_what_waits_and_a_deleted_one_drops_it_after_the_delete()
    {
        var (agent, store, session) = NewAgent(TimeSpan.FromHours(1));
        session.Tell(new Say(TurnStarted.Instance));
        session.Tell(Text("assistant", "kept"));
        Taken(session);
        Watch(agent);
        agent.Tell(PoisonPill.Instance);
        ExpectTerminated(agent);
        Assert.Equal(["kept"], Texts(NextRows(store)));

        var (deleted, deletedStore, deletedSession) = NewAgent(TimeSpan.FromHours(1));
        deletedSession.Tell(new Say(TurnStarted.Instance));
        deletedSession.Tell(Text("assistant", "gone"));
        Taken(deletedSession);
        Watch(deleted);
        deleted.Tell(Delete.Instance, TestActor);
        ExpectTerminated(deleted);
        // The delete was the store's last message about this agent: nothing after it would bring the file back.
        // (everything it told the store was sent before it stopped, so it is all in the probe by now)
        var messages = new List<object>();
        while (deletedStore.HasMessages) messages.Add(deletedStore.ReceiveOne(TimeSpan.Zero)!);
        var delete = messages.FindIndex(m => m is AgentStoreProtocol.DeleteAgent);
        Assert.True(delete >= 0);
        Assert.DoesNotContain(messages.Skip(delete + 1), m => m is AgentStoreProtocol.AppendRows);
        Assert.DoesNotContain(messages, m => m is AgentStoreProtocol.AppendRows a && Texts(a).Contains("gone"));
    }

    [Theory]
    [InlineData(0, new[] { "a", "b" })]
    [InlineData(3_600_000, new[] { "ab" })]
    public void Deltas_apart_in_time_are_one_row_only_within_a_merge_window(int windowMs, string[] rows)
    {
        var (agent, store, session) = NewAgent(TimeSpan.Zero, TimeSpan.FromMilliseconds(windowMs));
        session.Tell(new Say(TurnStarted.Instance));
        session.Tell(Text("assistant", "a"));
        Taken(session); // "a" (and, without a window, its flush marker) before "b" is said
        session.Tell(Text("assistant", "b"));
        session.Tell(new Say(new TurnCompleted(null)));
        var written = new List<string>();
        while (written.Count < rows.Length) written.AddRange(Texts(NextRows(store)));
        Assert.Equal(rows, written);
    }
}
