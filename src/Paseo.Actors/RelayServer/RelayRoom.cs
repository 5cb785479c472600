using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.RelayRoomProtocol;

namespace Paseo.Actors.RelayServer;

/// <summary>
/// One relay room (relay-e2ee.md §1.3–§1.7): the daemon's control socket, its data socket per connectionId, the client
/// sockets, the per-connection buffers and the nudge timers, for one serverId and protocol version. It owns every
/// socket of the room and reads each one frame at a time. Frames are forwarded as they are (text stays text, binary
/// stays binary) and never read beyond a control socket's `ping`: the relay sees ciphertext only.
/// </summary>
public sealed class RelayRoom : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RelayRoomId _id;
    private readonly RelayLimits _limits;
    private readonly TimeProvider _time;
    private readonly Dictionary<int, Socket> _sockets = [];
    private readonly Dictionary<string, Socket> _data = [];
    private readonly Dictionary<string, List<Socket>> _clients = [];
    private readonly Dictionary<string, ConnectionBuffer> _buffers = [];
    private readonly HashSet<int> _held = [];   // phones not read until their daemon socket has room
    private Socket? _control;   // v2
    private Socket? _v1Server;  // v1
    private Socket? _v1Client;  // v1
    private int _nextSocket;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>1012 (service restart): what Paseo's relay sends a phone whose daemon data socket went away.</summary>
    private const int ServerDisconnected = 1012;

    private readonly Action<WireFrame>? _tap;

    public RelayRoom(RelayRoomId id, RelayLimits limits, TimeProvider time, Action<WireFrame>? tap = null)
    {
        _tap = tap;
        _id = id;
        _limits = limits;
        _time = time;
        Receive<Join>(OnJoin);
        Receive<FrameIn>(OnFrame);
        Receive<SocketEnded>(ended => { if (_sockets.TryGetValue(ended.Socket, out var socket)) Depart(socket); });
        Receive<NudgeDue>(OnNudge);
        Receive<DaemonHasRoom>(room =>
        {
            _held.Remove(room.Phone);
            if (!_sockets.TryGetValue(room.Phone, out var phone)) return;
            if (_sockets.TryGetValue(room.Daemon, out var daemon) && _data.GetValueOrDefault(phone.ConnectionId!) == daemon)
                OnFrame(new FrameIn(room.Phone, room.Frame));
            else ReadNext(phone);
        });
        Receive<ControlUnresponsive>(unresponsive =>
        {
            if (HasClient(unresponsive.ConnectionId) && !_data.ContainsKey(unresponsive.ConnectionId) && _control is { } control)
                CloseSocket(control, CloseCodes.InternalError, "Control unresponsive");
        });
        Receive<InspectRoom>(_ => Sender.Tell(new RoomState(
            _sockets.Count,
            _control is not null,
            _data.ToDictionary(d => d.Key, d => d.Value.Id),
            _clients.ToDictionary(c => c.Key, c => c.Value.Count),
            _buffers.ToDictionary(b => b.Key, b => b.Value.Frames.Count),
            _buffers.ToDictionary(b => b.Key, b => b.Value.Dropped),
            _held.Count)));
        Receive<IdleTimeout>(_ =>
        {
            // The parent forgets the room first, so no new socket is sent to a room that is stopping.
            if (_sockets.Count == 0) Context.Parent.Tell(new RelayRooms.RoomIdle(_id));
        });
    }

    public static Props Props(RelayRoomId id, RelayLimits limits, TimeProvider time, Action<WireFrame>? tap = null) =>
        Akka.Actor.Props.Create(() => new RelayRoom(id, limits, time, tap));

    protected override void PostStop()
    {
        foreach (var socket in _sockets.Values.ToList()) socket.Transport.Close(CloseCodes.GoingAway, "Relay stopping");
    }

    // ---- joining ----------------------------------------------------------------------------------------------

    private void OnJoin(Join join)
    {
        Timers.Cancel("idle");
        if (join.Role == Role.Client && _sockets.Values.Count(s => s.Role == Role.Client) >= _limits.MaxClientsPerServer)
        {
            Sender.Tell(new Refused(CloseCodes.TryAgainLater, "Too many clients"));
            ArmIdle();
            return;
        }
        if (_id.Version == 1)
        {
            JoinV1(join);
            return;
        }
        var connectionId = join.ConnectionId;
        if (join.Role == Role.Client) connectionId ??= "conn_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var socket = Add(join.Role, connectionId, join.Transport);
        Sender.Tell(new Joined(connectionId));

        if (join.Role == Role.Server && connectionId is null)
        {
            if (_control is { } old) CloseSocket(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _control = socket;
            Send(socket, Control(RelayControlMessages.Sync(_clients.Keys)));
        }
        else if (join.Role == Role.Server)
        {
            if (_data.TryGetValue(connectionId!, out var old)) CloseSocket(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _data[connectionId!] = socket;
            FlushBuffer(connectionId!, socket);
        }
        else
        {
            if (!_clients.TryGetValue(connectionId!, out var list)) _clients[connectionId!] = list = [];
            list.Add(socket);
            NotifyControl(new JsonObject { ["type"] = "connected", ["connectionId"] = connectionId });
            // Half-open detection: a daemon that never opens the data socket is nudged, then its control is closed.
            Timers.StartSingleTimer(("nudge", socket.Id), new NudgeDue(connectionId!, socket.Id), _limits.NudgeAfter);
        }
        ReadNext(socket);
    }

    private void JoinV1(Join join)
    {
        var socket = Add(join.Role, null, join.Transport);
        Sender.Tell(new Joined(null));
        if (join.Role == Role.Server)
        {
            if (_v1Server is { } old) CloseSocket(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _v1Server = socket;
        }
        else
        {
            if (_v1Client is { } old) CloseSocket(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _v1Client = socket;
        }
        ReadNext(socket);
    }

    private Socket Add(Role role, string? connectionId, IFrameTransport transport)
    {
        var socket = new Socket(++_nextSocket, role, connectionId, transport);
        _sockets[socket.Id] = socket;
        return socket;
    }

    // ---- frames -----------------------------------------------------------------------------------------------

    private void OnFrame(FrameIn frame)
    {
        if (!_sockets.TryGetValue(frame.Socket, out var from)) return;
        if (from != _control) _tap?.Invoke(frame.Frame);
        if (_id.Version == 1)
        {
            var to = from == _v1Server ? _v1Client : _v1Server;
            if (to is not null) Send(to, frame.Frame);
        }
        else if (from == _control)
        {
            // The only thing the relay reads: a control ping, answered with a pong. Everything else is ignored.
            if (frame.Frame is WireFrame.Text text && RelayControlMessages.IsPing(text.Value))
                Send(from, new WireFrame.Text(RelayControlMessages.Pong(_time)));
        }
        else if (from.Role == Role.Client)
        {
            if (_data.TryGetValue(from.ConnectionId!, out var data))
            {
                if (!data.Transport.Outbound.TryWrite(frame.Frame) && !data.Transport.Closed.IsCompleted)
                {
                    // Back-pressure, not a disconnect: the phone is not read again until the daemon's socket has room.
                    var (phone, daemon, held) = (from.Id, data.Id, frame.Frame);
                    _held.Add(phone);
                    data.Transport.Outbound.WaitToWriteAsync().AsTask().PipeTo(Self,
                        success: _ => new DaemonHasRoom(phone, daemon, held), failure: _ => new DaemonHasRoom(phone, daemon, held));
                    return;
                }
            }
            else Buffer(from.ConnectionId!, frame.Frame);
        }
        else if (from.ConnectionId is { } connectionId && _clients.TryGetValue(connectionId, out var clients))
        {
            // Daemon → clients: every client socket of the connection; nothing is buffered for absent clients (§1.5).
            foreach (var client in clients.ToList()) Send(client, frame.Frame);
        }
        ReadNext(from);
    }

    /// <summary>Frames from a client whose daemon data socket is not there yet: bounded in frames and bytes, oldest dropped.</summary>
    private void Buffer(string connectionId, WireFrame frame)
    {
        if (!_buffers.TryGetValue(connectionId, out var buffer)) _buffers[connectionId] = buffer = new ConnectionBuffer();
        buffer.Frames.Enqueue(frame);
        buffer.Bytes += frame.ByteLength;
        while (buffer.Frames.Count > _limits.BufferFrames || buffer.Bytes > _limits.BufferBytes)
        {
            var dropped = buffer.Frames.Dequeue();
            buffer.Bytes -= dropped.ByteLength;
            buffer.Dropped++;
        }
    }

    private void FlushBuffer(string connectionId, Socket data)
    {
        if (!_buffers.Remove(connectionId, out var buffer)) return;
        if (buffer.Dropped > 0) _log.Info("Room {0}: {1} frames for {2} were dropped while no daemon socket was there", _id, buffer.Dropped, connectionId);
        while (buffer.Frames.TryDequeue(out var frame))
        {
            if (data.Transport.Outbound.TryWrite(frame)) continue;
            // The data socket is full already: the rest waits for the next data socket, as Paseo re-buffers on error.
            var rest = new ConnectionBuffer();
            rest.Frames.Enqueue(frame);
            foreach (var left in buffer.Frames) rest.Frames.Enqueue(left);
            rest.Bytes = rest.Frames.Sum(f => (long)f.ByteLength);
            _buffers[connectionId] = rest;
            return;
        }
    }

    private void Send(Socket to, WireFrame frame)
    {
        if (to.Transport.Outbound.TryWrite(frame)) return;
        if (to.Transport.Closed.IsCompleted) return;
        // A peer that does not read its bounded queue is dropped, not buffered without end.
        if (to == _control) CloseSocket(to, CloseCodes.InternalError, "Control send failed");
        else CloseSocket(to, CloseCodes.TryAgainLater, "Too slow");
    }

    private void NotifyControl(JsonObject message)
    {
        if (_control is { } control) Send(control, Control(message));
    }

    private static WireFrame Control(JsonObject message) => RelayControlMessages.Frame(message);

    // ---- nudges ------------------------------------------------------------------------------------------------

    private void OnNudge(NudgeDue nudge)
    {
        if (!_sockets.ContainsKey(nudge.Socket) || _data.ContainsKey(nudge.ConnectionId)) return;
        NotifyControl(RelayControlMessages.Sync(_clients.Keys));
        Timers.StartSingleTimer(("unresponsive", nudge.Socket), new ControlUnresponsive(nudge.ConnectionId), _limits.ControlUnresponsiveAfter);
    }

    private bool HasClient(string connectionId) => _clients.TryGetValue(connectionId, out var list) && list.Count > 0;

    // ---- departures -------------------------------------------------------------------------------------------

    private void CloseSocket(Socket socket, int code, string reason)
    {
        socket.Transport.Close(code, reason);
        Depart(socket);
    }

    private void Depart(Socket socket)
    {
        if (!_sockets.Remove(socket.Id)) return;
        Timers.Cancel(("nudge", socket.Id));
        Timers.Cancel(("unresponsive", socket.Id));
        if (_id.Version == 1)
        {
            if (_v1Server == socket) _v1Server = null;
            if (_v1Client == socket) _v1Client = null;
        }
        else if (socket == _control)
        {
            // Data sockets stay up: sessions go on while the daemon reconnects its control.
            _control = null;
        }
        else if (socket.Role == Role.Server)
        {
            if (_data.TryGetValue(socket.ConnectionId!, out var current) && current == socket)
            {
                _data.Remove(socket.ConnectionId!);
                if (_clients.TryGetValue(socket.ConnectionId!, out var clients))
                    foreach (var client in clients.ToList()) CloseSocket(client, ServerDisconnected, "Server disconnected");
            }
        }
        else if (_clients.TryGetValue(socket.ConnectionId!, out var list))
        {
            list.Remove(socket);
            if (list.Count == 0)
            {
                _clients.Remove(socket.ConnectionId!);
                _buffers.Remove(socket.ConnectionId!);
                NotifyControl(new JsonObject { ["type"] = "disconnected", ["connectionId"] = socket.ConnectionId });
                if (_data.TryGetValue(socket.ConnectionId!, out var data)) CloseSocket(data, CloseCodes.GoingAway, "Client disconnected");
            }
        }
        ArmIdle();
    }

    private void ArmIdle()
    {
        if (_sockets.Count == 0) Timers.StartSingleTimer("idle", IdleTimeout.Instance, _limits.IdleRoomTimeout);
    }

    private void ReadNext(Socket socket)
    {
        var id = socket.Id;
        socket.Transport.Inbound.ReadAsync().AsTask().PipeTo(Self,
            success: frame => new FrameIn(id, frame),
            failure: _ => new SocketEnded(id));
    }

    private sealed record Socket(int Id, Role Role, string? ConnectionId, IFrameTransport Transport);

    private sealed class ConnectionBuffer
    {
        public Queue<WireFrame> Frames { get; } = new();
        public long Bytes { get; set; }
        public long Dropped { get; set; }
    }

    private sealed record FrameIn(int Socket, WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record SocketEnded(int Socket) : INoSerializationVerificationNeeded;

    /// <summary>The daemon's data socket can take frames again: the held frame goes first, then the phone is read again.</summary>
    private sealed record DaemonHasRoom(int Phone, int Daemon, WireFrame Frame) : INoSerializationVerificationNeeded;

    private sealed record NudgeDue(string ConnectionId, int Socket) : INoSerializationVerificationNeeded;

    private sealed record ControlUnresponsive(string ConnectionId) : INoSerializationVerificationNeeded;

    private sealed record IdleTimeout : INoSerializationVerificationNeeded
    {
        public static readonly IdleTimeout Instance = new();
    }
}
