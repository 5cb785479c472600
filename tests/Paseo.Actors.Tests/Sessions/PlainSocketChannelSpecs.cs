using Akka.TestKit;
using Paseo.Actors.Sessions;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Channels;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Tests.Sessions;

/// <summary>A direct socket's channel over the in-memory transport: one message with its client at a time, the socket unread meanwhile.</summary>
public sealed class PlainSocketChannelSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private const int SocketQueue = 4;

    [Fact]
    public void The_next_frame_is_read_only_when_the_client_took_the_last_so_a_busy_client_leaves_the_socket_full()
    {
        var (peer, daemonEnd) = InMemoryFrameTransport.CreatePair(capacity: SocketQueue);
        var client = CreateTestProbe();
        var channel = Sys.ActorOf(PlainSocketChannel.Props(daemonEnd, client.Ref));
        client.ExpectMsg<ChannelOpened>();

        // The peer writes until the socket's queue is full; the channel takes one frame and gives it to its client...
        var written = 0;
        while (peer.Outbound.TryWrite(new WireFrame.Text($"{{\"n\":{written}}}"))) written++;
        Assert.Equal("{\"n\":0}", client.ExpectMsg<MessageReceived>().Message.Text);
        // ...and reads nothing more: once the peer has filled the slot that frame freed, the queue stays full.
        while (peer.Outbound.TryWrite(new WireFrame.Text($"{{\"n\":{written}}}"))) written++;
        Assert.Equal(SocketQueue + 1, written);
        client.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(SocketQueue, daemonEnd.Inbound.Count);
        Assert.False(peer.Outbound.TryWrite(new WireFrame.Text("one too many"))); // the peer is held back, not buffered

        // Each MessageTaken lets exactly one more frame through, in order.
        for (var n = 1; n < written; n++)
        {
            channel.Tell(MessageTaken.Instance, client.Ref);
            Assert.Equal($"{{\"n\":{n}}}", client.ExpectMsg<MessageReceived>().Message.Text);
            client.ExpectNoMsg(TimeSpan.Zero);
        }
    }

    [Fact]
    public void The_peer_closing_while_a_message_is_with_the_client_still_ends_the_channel()
    {
        var (peer, daemonEnd) = InMemoryFrameTransport.CreatePair(capacity: SocketQueue);
        var client = CreateTestProbe();
        var channel = Sys.ActorOf(PlainSocketChannel.Props(daemonEnd, client.Ref));
        client.ExpectMsg<ChannelOpened>();
        Watch(channel);
        peer.Outbound.TryWrite(new WireFrame.Text("{\"type\":\"ping\"}"));
        client.ExpectMsg<MessageReceived>();

        peer.Close(CloseCodes.GoingAway, "bye");
        channel.Tell(MessageTaken.Instance, client.Ref);

        Assert.Equal(CloseCodes.GoingAway, client.ExpectMsg<ChannelClosed>().Code);
        ExpectTerminated(channel);
    }
}
