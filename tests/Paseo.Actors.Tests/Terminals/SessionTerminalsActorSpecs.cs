using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Sessions.Terminals;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Paseo.Transport.Terminals;
using Xunit.Abstractions;
using static Paseo.Actors.Terminals.TerminalProtocol;
using Answered = Paseo.Actors.Sessions.SessionRequestProtocol.Answered;
using Pushed = Paseo.Actors.Sessions.SessionRequestProtocol.Pushed;
using Request = Paseo.Actors.Sessions.SessionRequestProtocol.Request;

namespace Paseo.Actors.Tests.Terminals;

/// <summary>
/// One session's stream slots and frames, with the test actor as its session and a probe as the daemon's terminals:
/// slots round-robin up to 256, the reply before the snapshot, output cut to bounded frames, exits freeing slots.
/// </summary>
public sealed class SessionTerminalsActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static readonly TerminalSettings Settings = TerminalSettings.Default with { MaxOutputFrameBytes = 1024 };

    private static Request Subscribe(string id, string requestId) => new("subscribe_terminal_request", requestId, new JsonObject { ["terminalId"] = id });

    private static JsonObject Payload(Answered answered) => JsonNode.Parse(answered.Json!)!["message"]!["payload"]!.AsObject();

    /// <summary>Subscribes and plays the terminal's side: attached at once. Returns the slot the reply names.</summary>
    private int Attach(IActorRef session, Akka.TestKit.TestProbe terminals, string id)
    {
        session.Tell(Subscribe(id, "r-" + id));
        var attach = terminals.ExpectMsg<AttachStream>();
        Assert.Equal(id, attach.TerminalId);
        attach.Subscriber.Tell(new StreamAttached(id, terminals.Ref));
        var payload = Payload(ExpectMsg<Answered>());
        Assert.Null(payload["error"]);
        return payload["slot"]!.GetValue<int>();
    }

    [Fact]
    public void Slots_are_handed_out_round_robin_and_the_257th_terminal_is_refused_with_the_specs_error()
    {
        var terminals = CreateTestProbe();
        var session = ChildActorOf(SessionTerminalsActor.Props(terminals.Ref, Settings));
        for (var i = 0; i < 256; i++) Assert.Equal(i, Attach(session, terminals, $"t{i}"));

        session.Tell(Subscribe("t256", "full"));
        var refused = Payload(ExpectMsg<Answered>());
        Assert.Equal(("No terminal stream slots available", "t256"), (refused["error"]!.GetValue<string>(), refused["terminalId"]!.GetValue<string>()));
        Assert.False(refused.ContainsKey("slot"));

        // Unsubscribing frees slot 5 (no reply but the request's done); the next terminal gets it.
        session.Tell(new Request("unsubscribe_terminal_request", null, new JsonObject { ["terminalId"] = "t5" }));
        Assert.Null(ExpectMsg<Answered>().Json);
        Assert.Equal("t5", terminals.ExpectMsg<DetachStream>().TerminalId);
        Assert.Equal(5, Attach(session, terminals, "t-new"));
        // Subscribing again to an attached terminal keeps its slot.
        Assert.Equal(7, Attach(session, terminals, "t7"));
    }

    [Fact]
    public void The_snapshot_follows_the_reply_and_output_is_coalesced_into_bounded_frames()
    {
        var terminals = CreateTestProbe();
        var session = ChildActorOf(SessionTerminalsActor.Props(terminals.Ref, Settings));
        var slot = (byte)Attach(session, terminals, "t");
        session.Tell(new TerminalSnapshot("t", "{\"rows\":1}"u8.ToArray()));
        var snapshot = ExpectMsg<SessionTerminalsActor.PushedFrame>().Frame;
        Assert.Equal([BinaryFrames.Snapshot, slot, .. "{\"rows\":1}"u8.ToArray()], snapshot);

        // Output is sent on the actor's next turn: what was queued together goes out together, in order.
        foreach (var part in new[] { "a", "b", "c" }) session.Tell(new TerminalOutput("t", Encoding.ASCII.GetBytes(part)));
        var coalesced = new List<byte>();
        while (coalesced.Count < 3)
        {
            var frame = ExpectMsg<SessionTerminalsActor.PushedFrame>().Frame;
            Assert.Equal((BinaryFrames.Output, slot), (frame[0], frame[1]));
            coalesced.AddRange(frame.Skip(2));
        }
        Assert.Equal("abc"u8.ToArray(), coalesced);

        // 2.5 KiB at once: two full frames straight away, the rest on the next turn; nothing lost, nothing reordered.
        var big = Enumerable.Range(0, 2560).Select(i => (byte)('a' + i % 26)).ToArray();
        session.Tell(new TerminalOutput("t", big));
        var frames = new[] { ExpectMsg<SessionTerminalsActor.PushedFrame>(), ExpectMsg<SessionTerminalsActor.PushedFrame>(), ExpectMsg<SessionTerminalsActor.PushedFrame>() };
        Assert.Equal([1026, 1026, 514], frames.Select(f => f.Frame.Length));
        Assert.Equal(big, frames.SelectMany(f => f.Frame.Skip(2)).ToArray());
    }

    [Fact]
    public void An_exit_flushes_the_output_ends_the_stream_and_frees_the_slot_and_input_goes_to_the_attached_terminal()
    {
        var terminals = CreateTestProbe();
        var session = ChildActorOf(SessionTerminalsActor.Props(terminals.Ref, Settings));
        var slot = (byte)Attach(session, terminals, "t");

        session.Tell(new SessionTerminalsActor.InboundFrame(BinaryFrames.Terminal(BinaryFrames.Input, slot, "ls\r"u8)));
        Assert.Equal("ls\r"u8.ToArray(), terminals.ExpectMsg<TerminalInput>().Bytes);
        session.Tell(new SessionTerminalsActor.InboundFrame(BinaryFrames.Terminal(BinaryFrames.Resize, slot, "{\"rows\":40,\"cols\":120}"u8)));
        Assert.Equal(new TerminalResize("t", 40, 120, true), terminals.ExpectMsg<TerminalResize>());

        session.Tell(new TerminalOutput("t", "bye"u8.ToArray()));
        session.Tell(new TerminalExited("t"));
        Assert.Equal([BinaryFrames.Output, slot, .. "bye"u8.ToArray()], ExpectMsg<SessionTerminalsActor.PushedFrame>().Frame);
        Assert.Contains("\"terminal_stream_exit\"", ExpectMsg<Pushed>().Json);
        // The slot is free: the next terminal gets the next one round-robin, and the old slot's frames go nowhere.
        Assert.Equal(slot + 1, Attach(session, terminals, "u"));
        session.Tell(new SessionTerminalsActor.InboundFrame(BinaryFrames.Terminal(BinaryFrames.Input, slot, "x"u8)));
        session.Tell(new SessionTerminalsActor.InboundFrame(BinaryFrames.Terminal(BinaryFrames.Input, (byte)(slot + 1), "y"u8)));
        Assert.Equal("y"u8.ToArray(), terminals.ExpectMsg<TerminalInput>().Bytes);
    }

    [Fact]
    public void A_terminal_that_cannot_attach_answers_the_subscribe_with_its_reason()
    {
        var terminals = CreateTestProbe();
        var session = ChildActorOf(SessionTerminalsActor.Props(terminals.Ref, Settings));
        session.Tell(Subscribe("gone", "r"));
        terminals.ExpectMsg<AttachStream>().Subscriber.Tell(new AttachFailed("gone", "Terminal not found"));
        var payload = Payload(ExpectMsg<Answered>());
        Assert.Equal(["terminalId", "error", "requestId"], payload.Select(p => p.Key));
        Assert.Equal("Terminal not found", payload["error"]!.GetValue<string>());
    }
}
