using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Relay;

/// <summary>
/// One relay data socket (one client connection): owns the socket's <see cref="IFrameTransport"/> and its
/// <see cref="HandshakeFsm"/> child (`handshake`). Inbound frames go to the FSM one at a time (the next is read only
/// when the FSM has handled the last, so nothing piles up in a mailbox); frames the FSM emits go to the bounded
/// outbound channel, and a peer that does not keep up is disconnected. The actor stops once the FSM has closed the connection.
/// </summary>
public sealed class RelayConnectionActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IFrameTransport _transport;
    private readonly IActorRef _handshake;
    private bool _closing;

    public RelayConnectionActor(IFrameTransport transport, BoxKeyPair daemonKeys, IActorRef session, HandshakeSettings settings)
    {
        _transport = transport;
        _handshake = Context.ActorOf(HandshakeFsm.Props(daemonKeys, Self, session, settings), "handshake");

        Receive<InboundRead>(read => _handshake.Tell(new FrameReceived(read.Frame)));
        Receive<FrameHandled>(_ => ReadNext());
        Receive<InboundEnded>(_ => OnInboundEnded());
        Receive<SendFrame>(send =>
        {
            if (_closing) return;
            if (!_transport.Outbound.TryWrite(send.Frame))
            {
                _log.Warning("Relay connection: the peer does not keep up; closing");
                CloseSocket(CloseCodes.TryAgainLater, "Outbound buffer full");
                _handshake.Tell(new PeerClosed(CloseCodes.TryAgainLater, "Outbound buffer full"));
            }
        });
        // The FSM decides every end (it has told the session by then): close the socket and stop.
        Receive<HandshakeProtocol.CloseSocket>(close =>
        {
            CloseSocket(close.Code, close.Reason);
            Context.Stop(Self);
        });
    }

    public static Props Props(IFrameTransport transport, BoxKeyPair daemonKeys, IActorRef session, HandshakeSettings settings) =>
        Akka.Actor.Props.Create(() => new RelayConnectionActor(transport, daemonKeys, session, settings));

    protected override void PreStart()
    {
        ReadNext();
    }

    protected override void PostStop()
    {
        CloseSocket(CloseCodes.GoingAway, "");
    }

    private void ReadNext() =>
        _transport.Inbound.ReadAsync().AsTask().PipeTo(Self,
            success: frame => new InboundRead(frame),
            failure: _ => InboundEnded.Instance);

    private void OnInboundEnded()
    {
        // Tell the FSM (so the session learns the channel closed); it answers with CloseSocket, which is then a no-op.
        var closure = _transport.Closed.IsCompletedSuccessfully ? _transport.Closed.Result : new TransportClosure(CloseCodes.Abnormal, "", true);
        _handshake.Tell(new PeerClosed(closure.Code, closure.Reason));
    }

    private void CloseSocket(int code, string reason)
    {
        if (_closing) return;
        _closing = true;
        _transport.Close(code, reason);
    }

    private sealed record InboundRead(WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record InboundEnded : INoSerializationVerificationNeeded
    {
        public static readonly InboundEnded Instance = new();
    }
}
