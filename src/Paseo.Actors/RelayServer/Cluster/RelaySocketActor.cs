using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;
using Role = Paseo.Actors.RelayServer.RelayRoomProtocol.Role;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>Flow control and registration of clustered relay sockets, from `paseo.relay-server.cluster`.</summary>
/// <param name="Window">A phone's frames on their way to its daemon data socket before the phone is no longer read.</param>
/// <param name="WindowBytes">The same in bytes (a frame larger than this still goes, alone).</param>
/// <param name="AckEvery">A socket acknowledges a peer's frames at least every this many written to its own socket…</param>
/// <param name="AckBytes">…or every this many bytes.</param>
/// <param name="MaxUnacked">Frames a peer may leave unacknowledged before it is closed as too slow (1013), as on one node.</param>
/// <param name="MaxUnackedBytes">The same in bytes (checked before a frame is sent, so one frame of any size goes).</param>
/// <param name="AckTimeout">A paused phone asks its data socket for its count after this long without an ack (a lost ack).</param>
/// <param name="RegisterRetry">How often a socket asks again while its room is being placed or rebuilt.</param>
/// <param name="RegisterTimeout">A new socket whose room cannot be reached for this long is closed (1013).</param>
public sealed record RelaySocketSettings(
    int Window, long WindowBytes, int AckEvery, long AckBytes, int MaxUnacked, long MaxUnackedBytes, TimeSpan AckTimeout,
    TimeSpan RegisterRetry, TimeSpan RegisterTimeout)
{
    public static readonly RelaySocketSettings Default = new(64, 4 << 20, 16, 1 << 20, 1024, 32 << 20, TimeSpan.FromSeconds(5),
        TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
}

/// <summary>
/// One relay socket of a clustered relay, on the node that accepted it: the only owner of its transport. It registers
/// with its room (<see cref="RelayRoomEntity"/>, through the shard region), learns its peers from it, and then sends its
/// frames straight to them, unread, so a phone's frame reaches the daemon's data socket in at most one node hop. Order is
/// kept per pair of sockets.
/// <para>
/// Flow control is by cumulative acknowledgement (frames and bytes written from a sender so far), so a lost ack is
/// made good by the next one: a phone stops being read while <see cref="RelaySocketSettings.Window"/> frames or
/// <see cref="RelaySocketSettings.WindowBytes"/> of its frames are not yet written to its daemon's socket (back-pressure,
/// as on one node), and asks for the count when no ack comes; any other receiver that falls
/// <see cref="RelaySocketSettings.MaxUnacked"/> frames or <see cref="RelaySocketSettings.MaxUnackedBytes"/> behind is
/// closed as too slow. When its room is lost with its node, the socket keeps its peers and registers again.
/// </para>
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
    private readonly Dictionary<IActorRef, Credit> _peers = [];          // peer → what I sent it and what it acknowledged
    private readonly Dictionary<IActorRef, Written> _written = [];       // sender → what I wrote of its frames, and acknowledged
    private readonly Queue<(IActorRef From, WireFrame Frame)> _waiting = new(); // peers' frames waiting for room in my socket
    private readonly Queue<WireFrame> _buffer = new();                    // a phone's frames before its daemon data socket exists
    private long _bufferBytes;
    private IActorRef? _roomRef;
    private bool _paused;
    private bool _reading;   // one read of the socket at a time
    private bool _waitingForRoom;
    private bool _ended;     // the socket closed: what is left in its inbound queue is still forwarded, then the actor stops

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
        _transport.Closed.PipeTo(Self, success: _ => TransportClosed.Instance, failure: _ => TransportClosed.Instance);
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
        // Nothing was read yet and no room knows this socket: nothing to forward.
        Receive<TransportClosed>(_ => Context.Stop(Self));
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
        Receive<TransportClosed>(_ =>
        {
            // The peer's last frames may still be in the inbound queue: they go on as on one node, then the actor stops
            // (when the read that drains them fails).
            _ended = true;
            ReadNext();
        });
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
        Receive<InboundEnded>(_ => Context.Stop(Self));
        Receive<PeerFrame>(frame => OnPeerFrame(Sender, frame.Frame));
        Receive<Ack>(ack =>
        {
            if (!_peers.TryGetValue(Sender, out var credit)) return;
            // Cumulative: a later ack replaces an earlier one, lost or not.
            credit.AckedFrames = Math.Max(credit.AckedFrames, ack.Frames);
            credit.AckedBytes = Math.Max(credit.AckedBytes, ack.Bytes);
            ResumeIfCredit();
        });
        Receive<AckRequest>(_ => AckNow(Sender));
        Receive<AckOverdue>(_ =>
        {
            if (!_paused || _peers.Count == 0) return;
            var (peer, credit) = DataPeer();
            // A phone that stays paused is a stall worth seeing in the log (a daemon that does not read, or lost acks).
            Context.GetLogger().Warning("Relay socket {0}: paused for {1} with {2} frames / {3} bytes unacknowledged by {4}; asking for its count",
                _connectionId, _flow.AckTimeout, credit.UnackedFrames, credit.UnackedBytes, peer.Path);
            peer.Tell(AckRequest.Instance);
            Timers.StartSingleTimer("ack-overdue", AckOverdue.Instance, _flow.AckTimeout);
        });
        Receive<Link>(link =>
        {
            if (link.Exclusive)
                foreach (var other in _peers.Keys.Where(p => !p.Equals(link.Peer)).ToList()) Forget(other);
            AddPeer(link.Peer);
            if (PacedByPeer) FlushBuffer(link.Peer);
            ResumeIfCredit();
        });
        Receive<Unlink>(unlink => Forget(unlink.Peer));
        Receive<Say>(say => WriteControl(say.Json));
        Receive<CloseSocket>(close => CloseAndStop(close.Code, close.Reason));
        Receive<RoomForWaiting>(_ =>
        {
            _waitingForRoom = false;
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
            _written.Remove(terminated.ActorRef);
            if (!_peers.ContainsKey(terminated.ActorRef)) return;
            Forget(terminated.ActorRef);
            // The same rules as the room's. A phone whose data socket ended closes itself (its Terminated comes after
            // that socket's last frames). A data socket whose last phone ended closes itself only while it has no room to
            // tell it (the room's node was lost too); otherwise the room decides, as it knows of phones still joining.
            if (PacedByPeer) CloseAndStop(RelayRoomEntity.ServerDisconnected, "Server disconnected");
            else if (HoldsForPeers && _peers.Count == 0 && _roomRef is null) CloseAndStop(CloseCodes.GoingAway, "Client disconnected");
        });
    }

    private void AddPeer(IActorRef peer)
    {
        if (_peers.ContainsKey(peer)) return;
        _peers[peer] = new Credit();
        Context.Watch(peer);
    }

    private void Forget(IActorRef peer)
    {
        if (!_peers.Remove(peer)) return;
        Context.Unwatch(peer);
        _written.Remove(peer);
        if (PacedByPeer)
        {
            _paused = false;
            Timers.Cancel("ack-overdue");
            ReadNext();
        }
    }

    // ---- my socket's frames -----------------------------------------------------------------------------------

    private void OnInbound(WireFrame frame)
    {
        if (IsControl)
        {
            // The only thing the relay reads: a control ping, answered with a pong. Everything else is ignored.
            if (frame is WireFrame.Text text && RelayControlMessages.IsPing(text.Value)) WriteControl(RelayControlMessages.Pong(_time));
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
            var (data, credit) = DataPeer();
            Send(data, credit, frame);
            if (credit.Exhausted(_flow)) Pause();
            // Not while paused, unless the socket has closed: then what is left in its queue still goes.
            ReadNext();
            return;
        }
        // Daemon → phones (every phone of the connection; nothing is kept for absent ones, §1.5), or v1's one peer.
        List<IActorRef>? tooSlow = null;
        foreach (var (peer, credit) in _peers)
        {
            if (credit.UnackedFrames >= _flow.MaxUnacked || credit.UnackedBytes >= _flow.MaxUnackedBytes) (tooSlow ??= []).Add(peer);
            else Send(peer, credit, frame);
        }
        foreach (var peer in tooSlow ?? [])
        {
            peer.Tell(new CloseSocket(CloseCodes.TryAgainLater, "Too slow"));
            Forget(peer);
        }
        ReadNext();
    }

    private static void Send(IActorRef peer, Credit credit, WireFrame frame)
    {
        peer.Tell(new PeerFrame(frame));
        credit.SentFrames++;
        credit.SentBytes += frame.ByteLength;
    }

    /// <summary>A phone's one peer, its daemon data socket (links to a phone are exclusive). Without LINQ: once per frame.</summary>
    private (IActorRef Peer, Credit Credit) DataPeer()
    {
        foreach (var (peer, credit) in _peers) return (peer, credit);
        throw new InvalidOperationException("a phone without its data socket");
    }

    private void Pause()
    {
        _paused = true;
        Timers.StartSingleTimer("ack-overdue", AckOverdue.Instance, _flow.AckTimeout);
    }

    private void ResumeIfCredit()
    {
        if (!_paused || (_peers.Count > 0 && DataPeer().Credit.Exhausted(_flow))) return;
        _paused = false;
        Timers.Cancel("ack-overdue");
        ReadNext();
    }

    private void ReadNext()
    {
        if ((_paused && !_ended) || _reading) return;
        _reading = true;
        _transport.Inbound.ReadAsync().AsTask().PipeTo(Self, success: frame => new Inbound(frame), failure: _ => InboundEnded.Instance);
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
        var credit = _peers[data];
        while (_buffer.TryDequeue(out var frame)) Send(data, credit, frame);
        _bufferBytes = 0;
        if (credit.Exhausted(_flow)) Pause();
    }

    // ---- peers' frames ----------------------------------------------------------------------------------------

    private void OnPeerFrame(IActorRef from, WireFrame frame)
    {
        // A phone the room has linked may send before the room's Link reaches this data socket (they come from different
        // senders): it is a peer from its first frame, so the daemon's answer reaches it. Only room-linked sockets send.
        if (HoldsForPeers || _room.Version == 1) AddPeer(from);
        if (_waiting.Count > 0)
        {
            _waiting.Enqueue((from, frame));
            return;
        }
        if (_transport.Outbound.TryWrite(frame))
        {
            Wrote(from, frame);
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
            Wrote(next.From, next.Frame);
        }
    }

    private void WaitForRoom()
    {
        if (_waitingForRoom) return;
        _waitingForRoom = true;
        _transport.Outbound.WaitToWriteAsync().AsTask().PipeTo(Self, success: _ => RoomForWaiting.Instance, failure: _ => RoomForWaiting.Instance);
    }

    private void Wrote(IActorRef from, WireFrame frame)
    {
        if (!_written.TryGetValue(from, out var written))
        {
            _written[from] = written = new Written();
            // Its entry goes when it stops (the watch is shared with peers; a second Watch of the same ref is harmless).
            Context.Watch(from);
        }
        written.Frames++;
        written.Bytes += frame.ByteLength;
        if (written.Frames - written.AckedFrames >= _flow.AckEvery || written.Bytes - written.AckedBytes >= _flow.AckBytes) AckNow(from);
    }

    private void AckNow(IActorRef to)
    {
        if (!_written.TryGetValue(to, out var written)) return;
        written.AckedFrames = written.Frames;
        written.AckedBytes = written.Bytes;
        to.Tell(new Ack(written.Frames, written.Bytes));
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

    /// <summary>What this socket sent a peer, and what the peer acknowledged (cumulative).</summary>
    private sealed class Credit
    {
        public long SentFrames, SentBytes, AckedFrames, AckedBytes;
        public long UnackedFrames => SentFrames - AckedFrames;
        public long UnackedBytes => SentBytes - AckedBytes;
        public bool Exhausted(RelaySocketSettings flow) => UnackedFrames >= flow.Window || UnackedBytes >= flow.WindowBytes;
    }

    /// <summary>What this socket wrote of a sender's frames, and what it last acknowledged (cumulative).</summary>
    private sealed class Written
    {
        public long Frames, Bytes, AckedFrames, AckedBytes;
    }

    private sealed record Inbound(WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record InboundEnded : INoSerializationVerificationNeeded
    {
        public static readonly InboundEnded Instance = new();
    }

    private sealed record TransportClosed : INoSerializationVerificationNeeded
    {
        public static readonly TransportClosed Instance = new();
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

    private sealed record AckOverdue
    {
        public static readonly AckOverdue Instance = new();
    }
}
