using System.Text.Json;
using Akka.Actor;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;
using Role = Paseo.Actors.RelayServer.RelayRoomProtocol.Role;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>Flow control and registration of clustered relay sockets, from `paseo.relay-server.cluster`.</summary>
/// <param name="Window">A phone's frames on their way to its daemon data socket before the phone is no longer read.</param>
/// <param name="AckEvery">A socket acknowledges a peer's frames by this many once written to its own socket.</param>
/// <param name="MaxUnacked">Frames a peer may leave unacknowledged before it is closed as too slow (1013), as on one node.</param>
/// <param name="RegisterRetry">How often a socket asks again while its room is being placed or rebuilt.</param>
/// <param name="RegisterTimeout">A new socket whose room cannot be reached for this long is closed (1013).</param>
public sealed record RelaySocketSettings(int Window, int AckEvery, int MaxUnacked, TimeSpan RegisterRetry, TimeSpan RegisterTimeout)
{
    public static readonly RelaySocketSettings Default = new(64, 16, 1024, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
}

/// <summary>
/// One relay socket of a clustered relay, on the node that accepted it: the only owner of its transport. It registers
/// with its room (<see cref="RelayRoomEntity"/>, through the shard region), learns its peers from it, and then sends its
/// frames straight to them, unread, so a phone's frame reaches the daemon's data socket in at most one node hop. Order is
/// kept per pair of sockets. Flow control is by acknowledgement: a phone stops being read while <see cref="RelaySocketSettings.Window"/>
/// of its frames are not yet written to its daemon's socket (back-pressure, as on one node); any other receiver that falls
/// <see cref="RelaySocketSettings.MaxUnacked"/> frames behind is closed as too slow. When its room is lost with its node,
/// the socket keeps its peers and registers again with what it is.
/// </summary>
public sealed class RelaySocketActor : ReceiveActor, IWithTimers
{
    private readonly RelayRoomId _room;
    private readonly Role _role;
    private string? _connectionId;
    private readonly IFrameTransport _transport;
    private readonly IActorRef _region;
    private readonly RelayLimits _limits;
    private readonly RelaySocketSettings _flow;
    private readonly TimeProvider _time;
    private readonly Action<WireFrame>? _tap;
    private readonly Dictionary<IActorRef, int> _peers = [];         // peer → my frames it has not acknowledged
    private readonly Dictionary<IActorRef, int> _written = [];       // sender → its frames written since my last ack
    private readonly Queue<(IActorRef From, WireFrame Frame)> _waiting = new(); // peers' frames waiting for room in my socket
    private readonly Queue<WireFrame> _buffer = new();               // a phone's frames before its daemon data socket exists
    private long _bufferBytes;
    private IActorRef? _roomRef;
    private bool _paused;
    private bool _reading;   // one read of the socket at a time
    private bool _draining;

    public ITimerScheduler Timers { get; set; } = null!;

    public RelaySocketActor(RelayRoomId room, Role role, string? connectionId, IFrameTransport transport, IActorRef region, RelayLimits limits,
        RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap)
    {
        _room = room;
        _role = role;
        _connectionId = connectionId;
        _transport = transport;
        _region = region;
        _limits = limits;
        _flow = flow;
        _time = time;
        _tap = tap;
        Registering();
    }

    public static Props Props(RelayRoomId room, Role role, string? connectionId, IFrameTransport transport, IActorRef region, RelayLimits limits,
        RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap = null) =>
        Akka.Actor.Props.Create(() => new RelaySocketActor(room, role, connectionId, transport, region, limits, flow, time, tap));

    /// <summary>A phone's socket paces itself by its daemon data socket's acknowledgements (v2 only; v1 forwards as on one node).</summary>
    private bool PacedByPeer => _room.Version == 2 && _role == Role.Client;

    /// <summary>A daemon data socket holds a phone's frames while its own socket is full, instead of closing the phone.</summary>
    private bool HoldsForPeers => _room.Version == 2 && _role == Role.Server && _connectionId is not null;

    private bool IsControl => _room.Version == 2 && _role == Role.Server && _connectionId is null;

    protected override void PreStart()
    {
        _transport.Closed.PipeTo(Self, success: _ => TransportEnded.Instance, failure: _ => TransportEnded.Instance);
        Register(rejoin: false);
        Timers.StartSingleTimer("register-timeout", RegisterTimedOut.Instance, _flow.RegisterTimeout);
    }

    protected override void PostStop() => _transport.Close(CloseCodes.GoingAway, "Relay stopping");

    // ---- registering ------------------------------------------------------------------------------------------

    private void Registering()
    {
        Receive<Registered>(registered =>
        {
            Joined(registered);
            Timers.Cancel("register-timeout");
            Become(Live);
            ReadNext();
        });
        Receive<Refused>(refused => CloseAndStop(refused.Code, refused.Reason));
        Receive<RegisterTimedOut>(_ => CloseAndStop(CloseCodes.TryAgainLater, "Relay unavailable"));
        Receive<RetryRegister>(_ => Register(rejoin: false));
        Receive<TransportEnded>(_ => Context.Stop(Self));
        // A room may link a socket and its peers may send before its own Registered arrives (different senders).
        CommonToBoth();
    }

    private void Register(bool rejoin)
    {
        _region.Tell(new Register(_room, _role, _connectionId, rejoin));
        Timers.StartSingleTimer("register-again", RetryRegister.Instance, _flow.RegisterRetry);
    }

    private void Joined(Registered registered)
    {
        _connectionId ??= registered.ConnectionId;
        if (_roomRef is { } old && !old.Equals(Sender)) Context.Unwatch(old);
        _roomRef = Sender;
        Context.Watch(Sender);
        Timers.Cancel("register-again");
    }

    // ---- live -------------------------------------------------------------------------------------------------

    private void Live()
    {
        Receive<TransportEnded>(_ => Context.Stop(Self));
        Receive<Registered>(Joined);
        Receive<Refused>(refused => CloseAndStop(refused.Code, refused.Reason));
        Receive<RetryRegister>(_ => { if (_roomRef is null) Register(rejoin: true); });
        Receive<RegisterAgain>(_ =>
        {
            // Our room restarted empty after a failure (the same ref, so no Terminated): as if it were lost.
            if (!Sender.Equals(_roomRef)) return;
            Context.Unwatch(Sender);
            _roomRef = null;
            Register(rejoin: true);
        });
        CommonToBoth();
    }

    private void CommonToBoth()
    {
        Receive<Inbound>(inbound =>
        {
            _reading = false;
            OnInbound(inbound.Frame);
        });
        Receive<PeerFrame>(frame => OnPeerFrame(Sender, frame.Frame));
        Receive<Ack>(ack =>
        {
            if (!_peers.TryGetValue(Sender, out var unacked)) return;
            _peers[Sender] = Math.Max(0, unacked - ack.Count);
            ResumeIfCredit();
        });
        Receive<Link>(link =>
        {
            if (link.Exclusive)
                foreach (var other in _peers.Keys.Where(p => !p.Equals(link.Peer)).ToList()) Forget(other);
            if (_peers.TryAdd(link.Peer, 0)) Context.Watch(link.Peer);
            if (PacedByPeer) FlushBuffer(link.Peer);
            ResumeIfCredit();
        });
        Receive<Unlink>(unlink => Forget(unlink.Peer));
        Receive<Say>(say => WriteControl(say.Json));
        Receive<CloseSocket>(close => CloseAndStop(close.Code, close.Reason));
        Receive<RoomForWaiting>(_ =>
        {
            _draining = false;
            Drain();
        });
        Receive<Terminated>(terminated =>
        {
            if (terminated.ActorRef.Equals(_roomRef))
            {
                // The room's node is gone or handed it over: its successor learns this socket again, links stay as they are.
                _roomRef = null;
                Register(rejoin: true);
                return;
            }
            if (!_peers.ContainsKey(terminated.ActorRef)) return;
            Forget(terminated.ActorRef);
            // The same rules as the room's, for when the room went with the peer's node.
            if (PacedByPeer) CloseAndStop(RelayRoomEntity.ServerDisconnected, "Server disconnected");
            else if (HoldsForPeers && _peers.Count == 0) CloseAndStop(CloseCodes.GoingAway, "Client disconnected");
        });
    }

    private void Forget(IActorRef peer)
    {
        if (!_peers.Remove(peer)) return;
        Context.Unwatch(peer);
        if (PacedByPeer)
        {
            _paused = false;
            ReadNext();
        }
    }

    // ---- my socket's frames -----------------------------------------------------------------------------------

    private void OnInbound(WireFrame frame)
    {
        if (IsControl)
        {
            // The only thing the relay reads: a control ping, answered with a pong. Everything else is ignored.
            if (frame is WireFrame.Text text && IsPing(text.Value))
                WriteControl($"{{\"type\":\"pong\",\"ts\":{_time.GetUtcNow().ToUnixTimeMilliseconds()}}}");
            ReadNext();
            return;
        }
        _tap?.Invoke(frame);
        if (PacedByPeer)
        {
            if (_peers.Count == 0)
            {
                Buffer(frame);
                ReadNext();
                return;
            }
            var (data, unacked) = _peers.First();
            data.Tell(new PeerFrame(frame));
            _peers[data] = unacked + 1;
            if (unacked + 1 < _flow.Window) ReadNext();
            else _paused = true;
            return;
        }
        // Daemon → phones (every phone of the connection; nothing is kept for absent ones, §1.5), or v1's one peer.
        foreach (var (peer, unacked) in _peers.ToList())
        {
            if (unacked >= _flow.MaxUnacked)
            {
                peer.Tell(new CloseSocket(CloseCodes.TryAgainLater, "Too slow"));
                Forget(peer);
                continue;
            }
            peer.Tell(new PeerFrame(frame));
            _peers[peer] = unacked + 1;
        }
        ReadNext();
    }

    private void ResumeIfCredit()
    {
        if (!_paused || (_peers.Count > 0 && _peers.First().Value >= _flow.Window)) return;
        _paused = false;
        ReadNext();
    }

    private void ReadNext()
    {
        if (_paused || _reading) return;
        _reading = true;
        _transport.Inbound.ReadAsync().AsTask().PipeTo(Self, success: frame => new Inbound(frame), failure: _ => TransportEnded.Instance);
    }

    /// <summary>A phone's frames while its daemon has no data socket yet: bounded in frames and bytes, oldest dropped (§1.5).</summary>
    private void Buffer(WireFrame frame)
    {
        _buffer.Enqueue(frame);
        _bufferBytes += frame.ByteLength;
        while (_buffer.Count > _limits.BufferFrames || _bufferBytes > _limits.BufferBytes)
            _bufferBytes -= _buffer.Dequeue().ByteLength;
    }

    private void FlushBuffer(IActorRef data)
    {
        while (_buffer.TryDequeue(out var frame))
        {
            data.Tell(new PeerFrame(frame));
            _peers[data] = _peers.GetValueOrDefault(data) + 1;
        }
        _bufferBytes = 0;
        if (_peers.GetValueOrDefault(data) >= _flow.Window) _paused = true;
    }

    // ---- peers' frames ----------------------------------------------------------------------------------------

    private void OnPeerFrame(IActorRef from, WireFrame frame)
    {
        if (_waiting.Count > 0)
        {
            _waiting.Enqueue((from, frame));
            return;
        }
        if (_transport.Outbound.TryWrite(frame))
        {
            Written(from);
            return;
        }
        if (_transport.Closed.IsCompleted) return;
        if (HoldsForPeers)
        {
            // Back-pressure, not a disconnect: the phone's frame waits here and the phone, out of credit, is not read.
            _waiting.Enqueue((from, frame));
            WaitForRoom();
        }
        else CloseAndStop(CloseCodes.TryAgainLater, "Too slow");
    }

    private void Drain()
    {
        while (_waiting.TryPeek(out var next))
        {
            if (!_transport.Outbound.TryWrite(next.Frame))
            {
                if (_transport.Closed.IsCompleted) _waiting.Clear();
                else WaitForRoom();
                return;
            }
            _waiting.Dequeue();
            Written(next.From);
        }
    }

    private void WaitForRoom()
    {
        if (_draining) return;
        _draining = true;
        _transport.Outbound.WaitToWriteAsync().AsTask().PipeTo(Self, success: _ => RoomForWaiting.Instance, failure: _ => RoomForWaiting.Instance);
    }

    private void Written(IActorRef from)
    {
        var count = _written.GetValueOrDefault(from) + 1;
        if (count < _flow.AckEvery)
        {
            _written[from] = count;
            return;
        }
        _written.Remove(from);
        from.Tell(new Ack(count));
    }

    private void WriteControl(string json)
    {
        if (_transport.Outbound.TryWrite(new WireFrame.Text(json)) || _transport.Closed.IsCompleted) return;
        CloseAndStop(CloseCodes.InternalError, "Control send failed");
    }

    private void CloseAndStop(int code, string reason)
    {
        _transport.Close(code, reason);
        Context.Stop(Self);
    }

    private static bool IsPing(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var type)
                   && type.ValueKind == JsonValueKind.String && type.GetString() == "ping";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed record Inbound(WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record TransportEnded : INoSerializationVerificationNeeded
    {
        public static readonly TransportEnded Instance = new();
    }

    private sealed record RoomForWaiting : INoSerializationVerificationNeeded
    {
        public static readonly RoomForWaiting Instance = new();
    }

    private sealed record RegisterTimedOut
    {
        public static readonly RegisterTimedOut Instance = new();
    }

    private sealed record RetryRegister
    {
        public static readonly RetryRegister Instance = new();
    }
}
