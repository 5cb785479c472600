using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;
using Role = Paseo.Actors.RelayServer.RelayRoomProtocol.Role;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>How many rooms live on this node: `max-rooms` is a per-node bound in a cluster, as it is on one node.</summary>
public sealed class LocalRoomCount
{
    private int _count;
    public int Value => Volatile.Read(ref _count);
    public int Increment() => Interlocked.Increment(ref _count);
    public void Decrement() => Interlocked.Decrement(ref _count);
}

/// <summary>
/// One relay room of a clustered relay (relay-e2ee.md §1.3–§1.7), as a sharded entity: it knows which socket is the
/// daemon's control socket, which data socket serves each connectionId and which phones belong to each connection, and it
/// tells sockets their peers. It never holds or reads a frame: the sockets (<see cref="RelaySocketActor"/>, each on the node
/// that accepted it) send frames to each other. It watches every socket, so a socket that ends, or whose node is lost,
/// departs with today's rules and close codes. Rebuilt after its node is lost: each surviving socket registers again.
/// </summary>
public sealed class RelayRoomEntity : ReceiveActor, IWithTimers
{
    private readonly RelayRoomId _id;
    private readonly RelayLimits _limits;
    private readonly LocalRoomCount _rooms;
    private readonly Dictionary<IActorRef, Member> _members = [];
    private readonly Dictionary<string, IActorRef> _data = [];
    private readonly Dictionary<string, List<IActorRef>> _clients = [];
    private IActorRef? _control;   // v2
    private IActorRef? _v1Server;  // v1
    private IActorRef? _v1Client;  // v1

    /// <summary>1012 (service restart): what Paseo's relay sends a phone whose daemon data socket went away.</summary>
    public const int ServerDisconnected = 1012;

    public ITimerScheduler Timers { get; set; } = null!;

    public RelayRoomEntity(RelayRoomId id, RelayLimits limits, LocalRoomCount rooms)
    {
        _id = id;
        _limits = limits;
        _rooms = rooms;
        Receive<Register>(OnRegister);
        Receive<Terminated>(terminated => Depart(terminated.ActorRef));
        Receive<NudgeDue>(OnNudge);
        Receive<ControlUnresponsive>(unresponsive =>
        {
            if (HasClient(unresponsive.ConnectionId) && !_data.ContainsKey(unresponsive.ConnectionId) && _control is { } control)
                Close(control, CloseCodes.InternalError, "Control unresponsive");
        });
        Receive<CloseOrphans>(orphans =>
        {
            if (_data.ContainsKey(orphans.ConnectionId) || !_clients.TryGetValue(orphans.ConnectionId, out var clients)) return;
            foreach (var client in clients.ToList()) Close(client, ServerDisconnected, "Server disconnected");
        });
        Receive<IdleTimeout>(_ =>
        {
            if (_members.Count == 0) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
    }

    public static Props Props(RelayRoomId id, RelayLimits limits, LocalRoomCount rooms) =>
        Akka.Actor.Props.Create(() => new RelayRoomEntity(id, limits, rooms));

    protected override void PreStart()
    {
        if (_rooms.Increment() > _limits.MaxRooms)
        {
            // Refuses what is already on its way, then goes (the first message is the Register that made it).
            Become(() =>
            {
                Receive<Register>(_ => Sender.Tell(new Refused(CloseCodes.TryAgainLater, "Relay full")));
                Receive<Full>(_ => Context.Parent.Tell(new Passivate(PoisonPill.Instance)));
            });
            Self.Tell(Full.Instance);
        }
        else ArmIdle();
    }

    /// <summary>
    /// The shard restarts a failed entity under the same ref: its sockets would never see it go. They are told to register
    /// again, so the new instance is rebuilt from them as after a lost node.
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        foreach (var socket in _members.Keys) socket.Tell(RegisterAgain.Instance);
        base.PreRestart(reason, message);
    }

    protected override void PostStop()
    {
        _rooms.Decrement();
    }

    // ---- joining ----------------------------------------------------------------------------------------------

    private void OnRegister(Register register)
    {
        var socket = Sender;
        if (_members.TryGetValue(socket, out var known))
        {
            // A repeated registration (the socket's retry crossed our answer): the same answer, the same links.
            socket.Tell(new Registered(known.ConnectionId));
            Relink(socket, known);
            return;
        }
        if (register.Role == Role.Client && _members.Values.Count(m => m.Role == Role.Client) >= _limits.MaxClientsPerServer)
        {
            socket.Tell(new Refused(CloseCodes.TryAgainLater, "Too many clients"));
            return;
        }
        Timers.Cancel("idle");
        if (_id.Version == 1)
        {
            JoinV1(socket, register.Role);
            return;
        }
        var connectionId = register.ConnectionId;
        if (register.Role == Role.Client) connectionId ??= "conn_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        if (register.Rejoin && register.Role == Role.Server && (connectionId is null ? _control : _data.GetValueOrDefault(connectionId)) is not null)
        {
            // A late registration of a socket the daemon has replaced meanwhile (its retry or its rejoin crossed the new
            // one): it does not take the place back.
            socket.Tell(new Refused(CloseCodes.PolicyViolation, "Replaced by new connection"));
            ArmIdle();
            return;
        }
        var member = new Member(register.Role, connectionId);
        _members[socket] = member;
        Context.Watch(socket);
        socket.Tell(new Registered(connectionId));

        if (register.Role == Role.Server && connectionId is null)
        {
            if (_control is { } old) Close(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _control = socket;
            Say(Sync());
        }
        else if (register.Role == Role.Server)
        {
            if (_data.TryGetValue(connectionId!, out var old) && !old.Equals(socket)) Close(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _data[connectionId!] = socket;
            Relink(socket, member);
        }
        else
        {
            if (!_clients.TryGetValue(connectionId!, out var list)) _clients[connectionId!] = list = [];
            list.Add(socket);
            // A phone registering again after its room was lost, whose data socket is back already, needs no `connected`:
            // the daemon serves that connection.
            if (!(register.Rejoin && _data.ContainsKey(connectionId!))) Say(new JsonObject { ["type"] = "connected", ["connectionId"] = connectionId });
            if (_data.ContainsKey(connectionId!)) Relink(socket, member);
            // Half-open detection: a daemon that never opens the data socket is nudged, then its control is closed.
            else Timers.StartSingleTimer(("nudge", socket), new NudgeDue(connectionId!, socket), _limits.NudgeAfter);
        }
    }

    /// <summary>Tells a data socket all its phones and each phone its data socket (idempotent on both ends).</summary>
    private void Relink(IActorRef socket, Member member)
    {
        if (member.ConnectionId is not { } connectionId || !_data.TryGetValue(connectionId, out var data)) return;
        var clients = _clients.GetValueOrDefault(connectionId) ?? [];
        if (member.Role == Role.Server)
            foreach (var client in clients)
            {
                client.Tell(new Link(data, Exclusive: true));
                data.Tell(new Link(client, Exclusive: false));
            }
        else
        {
            socket.Tell(new Link(data, Exclusive: true));
            data.Tell(new Link(socket, Exclusive: false));
        }
    }

    private void JoinV1(IActorRef socket, Role role)
    {
        _members[socket] = new Member(role, null);
        Context.Watch(socket);
        socket.Tell(new Registered(null));
        if (role == Role.Server)
        {
            if (_v1Server is { } old && !old.Equals(socket)) Close(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _v1Server = socket;
        }
        else
        {
            if (_v1Client is { } old && !old.Equals(socket)) Close(old, CloseCodes.PolicyViolation, "Replaced by new connection");
            _v1Client = socket;
        }
        if (_v1Server is { } server && _v1Client is { } client)
        {
            server.Tell(new Link(client, Exclusive: true));
            client.Tell(new Link(server, Exclusive: true));
        }
    }

    // ---- control messages -------------------------------------------------------------------------------------

    private JsonObject Sync() => RelayControlMessages.Sync(_clients.Keys);

    private void Say(JsonObject message) => _control?.Tell(new Say(RelayControlMessages.Json(message)));

    private void OnNudge(NudgeDue nudge)
    {
        if (!_members.ContainsKey(nudge.Socket) || _data.ContainsKey(nudge.ConnectionId)) return;
        Say(Sync());
        Timers.StartSingleTimer(("unresponsive", nudge.Socket), new ControlUnresponsive(nudge.ConnectionId), _limits.ControlUnresponsiveAfter);
    }

    private bool HasClient(string connectionId) => _clients.TryGetValue(connectionId, out var list) && list.Count > 0;

    // ---- departures -------------------------------------------------------------------------------------------

    private void Close(IActorRef socket, int code, string reason)
    {
        socket.Tell(new CloseSocket(code, reason));
        Depart(socket);
    }

    private void Depart(IActorRef socket)
    {
        if (!_members.Remove(socket, out var member)) return;
        Context.Unwatch(socket);
        Timers.Cancel(("nudge", socket));
        Timers.Cancel(("unresponsive", socket));
        if (_id.Version == 1)
        {
            if (socket.Equals(_v1Server)) _v1Server = null;
            if (socket.Equals(_v1Client)) _v1Client = null;
        }
        else if (socket.Equals(_control))
        {
            // Data sockets stay up: sessions go on while the daemon reconnects its control.
            _control = null;
        }
        else if (member.Role == Role.Server)
        {
            if (_data.TryGetValue(member.ConnectionId!, out var current) && current.Equals(socket))
            {
                _data.Remove(member.ConnectionId!);
                // Its phones close with 1012, as on one node. Linked phones do it themselves when they see it end, which
                // comes after its last frames to them; a close from here could overtake those frames, so it only follows
                // for phones still here after a moment (not yet linked, or their watch lost with a node).
                if (HasClient(member.ConnectionId!))
                    Timers.StartSingleTimer(("orphans", member.ConnectionId!), new CloseOrphans(member.ConnectionId!), OrphanGrace);
            }
        }
        else if (_clients.TryGetValue(member.ConnectionId!, out var list))
        {
            list.Remove(socket);
            if (list.Count == 0)
            {
                _clients.Remove(member.ConnectionId!);
                Say(new JsonObject { ["type"] = "disconnected", ["connectionId"] = member.ConnectionId });
                if (_data.TryGetValue(member.ConnectionId!, out var data)) Close(data, CloseCodes.GoingAway, "Client disconnected");
            }
            else if (_data.TryGetValue(member.ConnectionId!, out var data)) data.Tell(new Unlink(socket));
        }
        ArmIdle();
    }

    private void ArmIdle()
    {
        if (_members.Count == 0) Timers.StartSingleTimer("idle", IdleTimeout.Instance, _limits.IdleRoomTimeout);
    }

    private sealed record Member(Role Role, string? ConnectionId);

    /// <summary>How long the phones of a lost data socket have to close themselves before the room closes them.</summary>
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(1);

    private sealed record CloseOrphans(string ConnectionId);

    private sealed record NudgeDue(string ConnectionId, IActorRef Socket);

    private sealed record ControlUnresponsive(string ConnectionId);

    private sealed record IdleTimeout
    {
        public static readonly IdleTimeout Instance = new();
    }

    private sealed record Full
    {
        public static readonly Full Instance = new();
    }
}
