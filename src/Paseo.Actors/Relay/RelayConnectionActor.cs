using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Relay;

/// <summary>
/// One relay data socket (one client connection): owns the socket's <see cref="IFrameTransport"/> and its
/// <see cref="HandshakeFsm"/> child (`handshake`). Inbound frames go to the FSM one at a time: the next is read only
/// when the FSM has handled the last — for a message, once the session took it — so nothing piles up in a mailbox and a
/// busy session slows the peer down through its socket; frames the FSM emits go to the bounded
/// outbound channel, and a peer that does not keep up is disconnected. The actor stops once the FSM has closed the connection.
/// <para>
/// It is the socket's one owner from the moment it is made: only it reads, writes, closes and disposes the transport.
/// The tunnel that opened the socket hands it over in these Props and keeps nothing but this actor's ref (told by
/// <see cref="RelayTunnelProtocol.DataConnectionStarted"/>); to end the connection it sends <see cref="Disconnect"/>.
/// </para>
/// </summary>
public sealed class RelayConnectionActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IFrameTransport _transport;
    private readonly IActorRef _handshake;
    private readonly IActorRef _session;
    private readonly TunnelLink? _tunnel;
    private bool _closing;

    public RelayConnectionActor(IFrameTransport transport, BoxKeyPair daemonKeys, IActorRef clientKeys, IActorRef session, HandshakeSettings settings, TunnelLink? tunnel)
    {
        _transport = transport;
        _session = session;
        _tunnel = tunnel;
        _handshake = Context.ActorOf(HandshakeFsm.Props(daemonKeys, clientKeys, Self, session, settings), "handshake");
        Context.WatchWith(_handshake, HandshakeDied.Instance);

        Receive<InboundRead>(read => _handshake.Tell(new FrameReceived(read.Frame)));
        Receive<FrameHandled>(_ => ReadNext());
        // The inbound side ended: wait for how the transport closed, then tell the FSM (which tells the session).
        Receive<InboundEnded>(_ => _transport.Closed.PipeTo(Self, success: closure => new TransportClosed(closure),
            failure: _ => new TransportClosed(new TransportClosure(CloseCodes.Abnormal, "", true))));
        Receive<TransportClosed>(closed => _handshake.Tell(new PeerClosed(closed.Closure.Code, closed.Closure.Reason)));
        // The tunnel ends this connection (the phone left, or the daemon's identity changed): as if the peer closed.
        Receive<Disconnect>(disconnect =>
        {
            CloseSocket(disconnect.Code, disconnect.Reason);
            _handshake.Tell(new PeerClosed(disconnect.Code, disconnect.Reason));
        });
        Receive<SendFrame>(send =>
        {
            if (_closing || _transport.Outbound.TryWrite(send.Frame)) return;
            // A completed writer means the socket is already closing (the peer left): that end arrives as TransportClosed.
            if (_transport.Closed.IsCompleted) return;
            _log.Warning("Relay connection: the peer does not keep up; closing");
            CloseSocket(CloseCodes.TryAgainLater, "Outbound buffer full");
            _handshake.Tell(new PeerClosed(CloseCodes.TryAgainLater, "Outbound buffer full"));
        });
        // The FSM threw (a bug, not a peer's fault): it is stopped, never restarted with fresh state, and the connection ends.
        Receive<HandshakeDied>(_ =>
        {
            if (_closing) return;
            _log.Error("Relay connection: the handshake actor failed; closing the connection");
            _session.Tell(new ChannelClosed(CloseCodes.InternalError, "Internal error"));
            CloseSocket(CloseCodes.InternalError, "Internal error");
            Context.Stop(Self);
        });
        // The FSM decides every end (it has told the session by then): close the socket and stop.
        Receive<HandshakeProtocol.CloseSocket>(close =>
        {
            CloseSocket(close.Code, close.Reason);
            Context.Stop(Self);
        });
    }

    /// <param name="tunnel">The tunnel that opened the socket, told once this actor owns it; none in specs that drive the actor alone.</param>
    public static Props Props(IFrameTransport transport, BoxKeyPair daemonKeys, IActorRef clientKeys, IActorRef session, HandshakeSettings settings, TunnelLink? tunnel = null) =>
        Akka.Actor.Props.Create(() => new RelayConnectionActor(transport, daemonKeys, clientKeys, session, settings, tunnel));

    /// <summary>Whom to tell that this actor now owns the data socket the relay named <paramref name="ConnectionId"/> (opened in tunnel epoch <paramref name="Epoch"/>).</summary>
    public sealed record TunnelLink(IActorRef Tunnel, string ConnectionId, int Epoch);

    /// <summary>From the tunnel: close the socket with this code and end the connection (the session is told, as for a peer's close).</summary>
    public sealed record Disconnect(int Code, string Reason);

    // Restarting the FSM would put a live connection back in AwaitingHello with an empty nonce ledger: stop it instead.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    protected override void PreStart()
    {
        _tunnel?.Tunnel.Tell(new RelayTunnelProtocol.DataConnectionStarted(_tunnel.ConnectionId, _tunnel.Epoch));
        ReadNext();
    }

    protected override void PostStop()
    {
        CloseSocket(CloseCodes.GoingAway, "");
        // The socket is released once its close handshake is done (bounded by the transport's close timeout).
        _ = _transport.DisposeAsync();
    }

    private void ReadNext() =>
        _transport.Inbound.ReadAsync().AsTask().PipeTo(Self,
            success: frame => new InboundRead(frame),
            failure: _ => InboundEnded.Instance);

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

    private sealed record TransportClosed(TransportClosure Closure) : INoSerializationVerificationNeeded;

    private sealed record HandshakeDied : INoSerializationVerificationNeeded, IDeadLetterSuppression
    {
        public static readonly HandshakeDied Instance = new();
    }
}
