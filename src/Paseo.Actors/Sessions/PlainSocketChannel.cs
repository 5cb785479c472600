using Akka.Actor;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Sessions;

/// <summary>
/// A direct (unencrypted, already authenticated) WebSocket seen through the same messages as the relay's
/// <see cref="Relay.Handshake.HandshakeFsm"/>: ChannelOpened, MessageReceived and ChannelClosed to its client, Send and
/// CloseChannel from it. So a client connection does not care whether its socket is direct or relayed. One frame is read
/// at a time, and the next only when the client has taken the last (<see cref="MessageTaken"/>): a busy session leaves
/// the socket unread, so its peer is slowed by its TCP window instead of filling the daemon's mailboxes. A client that
/// does not read its bounded outbound buffer is disconnected (1013), never buffered without end.
/// </summary>
public sealed class PlainSocketChannel : ReceiveActor
{
    private readonly IFrameTransport _transport;
    private readonly IActorRef _client;
    private bool _closed;

    public PlainSocketChannel(IFrameTransport transport, IActorRef client)
    {
        _transport = transport;
        _client = client;

        Receive<Read>(read =>
        {
            _client.Tell(new MessageReceived(read.Frame switch
            {
                WireFrame.Text text => E2eeMessage.FromText(text.Value),
                WireFrame.Binary binary => E2eeMessage.FromBytes(binary.Value),
                _ => E2eeMessage.FromBytes(ReadOnlyMemory<byte>.Empty),
            }));
        });
        Receive<MessageTaken>(_ =>
        {
            if (!_closed) ReadNext();
        });
        Receive<Ended>(_ => _transport.Closed.PipeTo(Self, success: c => new TransportClosed(c), failure: _ => new TransportClosed(new TransportClosure(CloseCodes.Abnormal, "", true))));
        Receive<TransportClosed>(closed => End(closed.Closure.Code, closed.Closure.Reason, closeSocket: false));
        Receive<Send>(send =>
        {
            if (_closed) return;
            WireFrame frame = send.Message.IsText ? new WireFrame.Text(send.Message.Text) : new WireFrame.Binary(send.Message.Bytes);
            if (_transport.Outbound.TryWrite(frame) || _transport.Closed.IsCompleted) return;
            End(CloseCodes.TryAgainLater, "Outbound buffer full", closeSocket: true);
        });
        Receive<CloseChannel>(close => End(close.Code, close.Reason, closeSocket: true));
        // The client connection is gone (it failed): nobody would read this socket, so it closes.
        Receive<Terminated>(t => End(CloseCodes.InternalError, "Internal error", closeSocket: true));
        // Every Send before it is in the transport's queue now, and the transport sends its queue before any close.
        Receive<ChannelBarrier>(barrier => Context.System.EventStream.Publish(barrier.Event));
    }

    public static Props Props(IFrameTransport transport, IActorRef client) => Akka.Actor.Props.Create(() => new PlainSocketChannel(transport, client));

    protected override void PreStart()
    {
        Context.Watch(_client);
        _client.Tell(new ChannelOpened(Self));
        ReadNext();
    }

    protected override void PostStop()
    {
        if (!_closed) _transport.Close(CloseCodes.GoingAway, "");
    }

    private void ReadNext() =>
        _transport.Inbound.ReadAsync().AsTask().PipeTo(Self, success: f => new Read(f), failure: _ => Ended.Instance);

    private void End(int code, string reason, bool closeSocket)
    {
        if (_closed) return;
        _closed = true;
        if (closeSocket) _transport.Close(code, reason);
        _client.Tell(new ChannelClosed(code, reason));
        Context.Stop(Self);
    }

    private sealed record Read(WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record Ended : INoSerializationVerificationNeeded
    {
        public static readonly Ended Instance = new();
    }

    private sealed record TransportClosed(TransportClosure Closure) : INoSerializationVerificationNeeded;
}
