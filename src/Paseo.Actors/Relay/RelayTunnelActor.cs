using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Guardian;
using Paseo.Actors.Relay.Handshake;
using Paseo.Actors.Sessions;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;
using static Paseo.Actors.Relay.RelayTunnelProtocol;

namespace Paseo.Actors.Relay;

/// <summary>
/// `relay`: the daemon's outbound tunnel (relay-e2ee.md §1.4–§1.6). It keeps the control socket up (ping every 10 s,
/// reconnect when no message for 30 s or no first message within 8 s, backoff min(30 s, 1 s × attempt)), and for each
/// client connection the relay names (`sync`, `connected`) opens a data socket and hands it, as a
/// <see cref="RelayConnectionActor"/> with its <see cref="HandshakeFsm"/>, to the client sessions: a relayed phone ends
/// in the same ClientSessionActor as a direct socket. `disconnected` closes that data socket (1001). Data sockets send
/// WebSocket pings (Paseo's send none and drop after ~100 s idle). A reloaded identity reconnects everything.
/// <para>
/// A data socket has one owner at a time: this actor from its connect until it hands the socket to `sessions` inside
/// the connection's Props, then the <see cref="RelayConnectionActor"/> (`sessions/socket-N-relay`) made from them, which
/// reports in (<see cref="DataConnectionStarted"/>). From then on the tunnel holds only that actor's ref and ends the
/// connection by telling it <see cref="RelayConnectionActor.Disconnect"/>.
/// </para>
/// </summary>
public sealed class RelayTunnelActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RelayTunnelSettings _settings;
    private readonly IActorRef _guardian;
    private readonly IActorRef _sessions;
    private readonly IFrameConnector _connector;
    private readonly HandshakeSettings _handshake;
    private readonly TimeProvider _time;
    // The connection actors that own the data sockets, by the relay's connection id.
    private readonly Dictionary<string, IActorRef> _data = [];
    private readonly HashSet<string> _opening = [];
    private DaemonIdentity? _identity;
    private readonly IActorRef _clientKeys;
    private IFrameTransport? _control;
    // Unique across restarts of this actor, so a late result from an earlier instance never matches.
    private int _generation = Random.Shared.Next(1, int.MaxValue / 2);
    // Bumped by CloseAll: data sockets opened or attached for an earlier identity are closed when they report in.
    private int _epoch;
    private readonly HashSet<string> _cancelled = [];
    private int _attempt;
    private bool _ready;
    private DateTimeOffset _lastHeard;

    public ITimerScheduler Timers { get; set; } = null!;

    public RelayTunnelActor(RelayTunnelSettings settings, IActorRef guardian, IActorRef sessions, IActorRef clientKeys, IFrameConnector connector, HandshakeSettings handshake, TimeProvider time)
    {
        _settings = settings;
        _guardian = guardian;
        _sessions = sessions;
        _connector = connector;
        _handshake = handshake;
        _time = time;
        _clientKeys = clientKeys;

        Receive<DaemonIdentity>(identity =>
        {
            _identity = identity;
            ConnectControl();
        });
        Receive<Status.Failure>(_ =>
        {
            // The guardian did not answer with the identity: ask again shortly.
            if (_identity is null) Timers.StartSingleTimer("identity", AskIdentity.Instance, TimeSpan.FromSeconds(1));
        });
        Receive<AskIdentity>(_ => RequestIdentity());
        Receive<PaseoGuardianProtocol.IdentityChanged>(changed =>
        {
            _log.Info("Relay tunnel: identity changed, reconnecting as {0}", changed.Identity.ServerId);
            _identity = changed.Identity;
            // Connections made with the old keys and id end; the client key ledger starts anew for the new keypair by itself.
            CloseAll();
            ConnectControl();
        });
        Receive<ControlOpened>(opened =>
        {
            if (opened.Generation != _generation)
            {
                _ = opened.Transport.DisposeAsync();
                return;
            }
            _control = opened.Transport;
            _lastHeard = _time.GetUtcNow();
            _log.Info("Relay tunnel: control socket open to {0}", _settings.Endpoint);
            SendControl(new JsonObject { ["type"] = "ping", ["ts"] = _time.GetUtcNow().ToUnixTimeMilliseconds() });
            Timers.StartPeriodicTimer("ping", PingTick.Instance, _settings.PingInterval);
            Timers.StartSingleTimer("ready", new ReadyTimedOut(_generation), _settings.ReadyTimeout);
            ReadControl(opened.Generation, opened.Transport);
        });
        Receive<ControlFailed>(failed =>
        {
            if (failed.Generation != _generation) return;
            _log.Warning("Relay tunnel: cannot reach {0}: {1}", _settings.Endpoint, failed.Reason);
            ScheduleReconnect();
        });
        Receive<ControlFrame>(OnControlFrame);
        Receive<ControlEnded>(ended =>
        {
            if (ended.Generation != _generation) return;
            _log.Info("Relay tunnel: control socket closed; reconnecting");
            DropControl();
            ScheduleReconnect();
        });
        Receive<PingTick>(_ =>
        {
            if (_control is null) return;
            if (_time.GetUtcNow() - _lastHeard > _settings.StaleAfter)
            {
                _log.Warning("Relay tunnel: nothing heard for {0}; reconnecting", _settings.StaleAfter);
                DropControl();
                ScheduleReconnect();
                return;
            }
            SendControl(new JsonObject { ["type"] = "ping", ["ts"] = _time.GetUtcNow().ToUnixTimeMilliseconds() });
        });
        Receive<ReadyTimedOut>(timedOut =>
        {
            if (timedOut.Generation != _generation || _ready) return;
            _log.Warning("Relay tunnel: the relay said nothing within {0}; reconnecting", _settings.ReadyTimeout);
            DropControl();
            ScheduleReconnect();
        });
        Receive<Reconnect>(_ => ConnectControl());
        Receive<DataOpened>(OnDataOpened);
        Receive<DataFailed>(failed =>
        {
            if (failed.Epoch == _epoch) _opening.Remove(failed.ConnectionId);
            _cancelled.Remove(failed.ConnectionId);
            _log.Warning("Relay tunnel: data socket for {0} failed: {1}", failed.ConnectionId, failed.Reason);
        });
        Receive<DataConnectionStarted>(started =>
        {
            Timers.Cancel(("attach", started.ConnectionId));
            var current = started.Epoch == _epoch && _opening.Remove(started.ConnectionId);
            if (!current || _cancelled.Remove(started.ConnectionId))
            {
                // Opened for an earlier identity, or the phone left meanwhile: this connection must not live on.
                Sender.Tell(new RelayConnectionActor.Disconnect(CloseCodes.GoingAway, current ? "Client disconnected" : "Server restarting"));
                return;
            }
            _data[started.ConnectionId] = Sender;
            Context.WatchWith(Sender, new DataGone(started.ConnectionId, Sender));
        });
        // The manager's answer to Connect: the connection actor reports in by itself (DataConnectionStarted).
        Receive<ClientSessionManager.Connected>(_ => { });
        // It never did (sessions is gone, or the actor could not start): the phone's slot is freed, so it counts no more
        // against max-data-sockets and a later `connected` opens a new socket. The socket went with the Props.
        Receive<AttachOverdue>(overdue =>
        {
            if (overdue.Epoch != _epoch || !_opening.Remove(overdue.ConnectionId)) return;
            _cancelled.Remove(overdue.ConnectionId);
            _log.Warning("Relay tunnel: the connection for {0} did not start within {1}; its slot is freed", overdue.ConnectionId, AttachTimeout);
        });
        Receive<DataGone>(gone =>
        {
            if (_data.TryGetValue(gone.ConnectionId, out var connection) && connection.Equals(gone.Connection)) _data.Remove(gone.ConnectionId);
        });
        Receive<GetTunnelState>(_ => Sender.Tell(new TunnelState(_ready, _attempt, _data.Keys.Order().ToList())));
    }

    public static Props Props(RelayTunnelSettings settings, IActorRef guardian, IActorRef sessions, IActorRef clientKeys, IFrameConnector connector, HandshakeSettings handshake, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new RelayTunnelActor(settings, guardian, sessions, clientKeys, connector, handshake, time));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(PaseoGuardianProtocol.IdentityChanged));
        RequestIdentity();
    }

    private void RequestIdentity() =>
        _guardian.Ask<DaemonIdentity>(PaseoGuardianProtocol.GetIdentity.Instance, TimeSpan.FromSeconds(10)).PipeTo(Self);

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        CloseAll();
    }

    private void ConnectControl()
    {
        if (_identity is null) return;
        Timers.Cancel("reconnect");
        var generation = ++_generation;
        var url = _settings.Url(_identity.ServerId.Value, null);
        _connector.ConnectAsync(url, CancellationToken.None).PipeTo(Self,
            success: transport => new ControlOpened(generation, transport),
            failure: e => new ControlFailed(generation, e.GetBaseException().Message));
    }

    private void ScheduleReconnect()
    {
        _attempt++;
        var delay = TimeSpan.FromTicks(Math.Min(_settings.MaxBackoff.Ticks, _settings.BackoffStep.Ticks * _attempt));
        Timers.StartSingleTimer("reconnect", Reconnect.Instance, delay);
    }

    private void DropControl()
    {
        _generation++;
        _ready = false;
        Timers.Cancel("ping");
        Timers.Cancel("ready");
        if (_control is { } control) _ = control.DisposeAsync();
        _control = null;
    }

    /// <summary>Closes the control and every data socket (sessions see their channels close).</summary>
    private void CloseAll()
    {
        _epoch++;
        DropControl();
        foreach (var connection in _data.Values) connection.Tell(new RelayConnectionActor.Disconnect(CloseCodes.GoingAway, "Server restarting"));
        _data.Clear();
        _opening.Clear();
        _cancelled.Clear();
    }

    private void ReadControl(int generation, IFrameTransport transport) =>
        transport.Inbound.ReadAsync().AsTask().PipeTo(Self,
            success: frame => new ControlFrame(generation, frame),
            failure: _ => new ControlEnded(generation));

    private void SendControl(JsonObject message)
    {
        if (_control is not null && !_control.Outbound.TryWrite(new WireFrame.Text(message.ToJsonString())))
            _log.Warning("Relay tunnel: control socket full; message dropped");
    }

    private void OnControlFrame(ControlFrame frame)
    {
        if (frame.Generation != _generation || _control is null) return;
        ReadControl(frame.Generation, _control);
        if (frame.Frame is not WireFrame.Text text || Parse(text.Value) is not { } message) return;
        _lastHeard = _time.GetUtcNow();
        if (!_ready)
        {
            // The first parseable message (normally the relay's `sync`) makes the control ready (§1.6).
            _ready = true;
            _attempt = 0;
            Timers.Cancel("ready");
        }
        switch (message["type"] is JsonValue t && t.TryGetValue<string>(out var type) ? type : null)
        {
            case "sync":
                if (message["connectionIds"] is JsonArray ids)
                    foreach (var id in ids)
                        if (id is JsonValue v && v.TryGetValue<string>(out var connectionId) && connectionId.Trim().Length > 0) OpenData(connectionId.Trim());
                break;
            case "connected" when Str(message, "connectionId") is { } connected:
                OpenData(connected);
                break;
            case "disconnected" when Str(message, "connectionId") is { } disconnected:
                if (_data.Remove(disconnected, out var connection)) connection.Tell(new RelayConnectionActor.Disconnect(CloseCodes.GoingAway, "Client disconnected"));
                else if (_opening.Contains(disconnected)) _cancelled.Add(disconnected);
                break;
            case "ping":
                SendControl(new JsonObject { ["type"] = "pong", ["ts"] = _time.GetUtcNow().ToUnixTimeMilliseconds() });
                break;
        }
    }

    private static string? Str(JsonObject message, string key) =>
        message[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Trim().Length > 0 ? s.Trim() : null;

    private static JsonObject? Parse(string text)
    {
        try
        {
            return JsonNode.Parse(text) is JsonObject obj && obj["type"] is JsonValue ? obj : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private void OpenData(string connectionId)
    {
        if (_data.ContainsKey(connectionId) || _opening.Contains(connectionId) || _identity is null) return;
        if (_data.Count + _opening.Count >= _settings.MaxDataSockets)
        {
            _log.Warning("Relay tunnel: {0} client connections already; not opening {1}", _settings.MaxDataSockets, connectionId);
            return;
        }
        _opening.Add(connectionId);
        var keys = _identity.KeyPair;
        var epoch = _epoch;
        _connector.ConnectAsync(_settings.Url(_identity.ServerId.Value, connectionId), CancellationToken.None).PipeTo(Self,
            success: transport => new DataOpened(connectionId, transport, keys, epoch),
            failure: e => new DataFailed(connectionId, e.GetBaseException().Message, epoch));
    }

    private void OnDataOpened(DataOpened opened)
    {
        // Stays in _opening until attached, so a repeated `connected`/`sync` does not open a second socket.
        if (opened.Epoch != _epoch || _cancelled.Remove(opened.ConnectionId) || !_opening.Contains(opened.ConnectionId))
        {
            _opening.Remove(opened.ConnectionId);
            _ = opened.Transport.DisposeAsync();
            return;
        }
        // From here the socket belongs to the connection actor `sessions` makes from these Props (it reports in); the
        // tunnel forgets it. `sessions` always makes it; if it is gone, the daemon is stopping and the socket ends with it.
        var transport = opened.Transport;
        var keys = opened.Keys;
        var clientKeys = _clientKeys;
        var handshake = _handshake;
        var link = new RelayConnectionActor.TunnelLink(Self, opened.ConnectionId, opened.Epoch);
        _sessions.Tell(new ClientSessionManager.Connect(connection => RelayConnectionActor.Props(transport, keys, clientKeys, connection, handshake, link), "relay"));
        Timers.StartSingleTimer(("attach", opened.ConnectionId), new AttachOverdue(opened.ConnectionId, opened.Epoch), AttachTimeout);
    }

    private sealed record ControlOpened(int Generation, IFrameTransport Transport) : INoSerializationVerificationNeeded;
    private sealed record ControlFailed(int Generation, string Reason) : INoSerializationVerificationNeeded;
    private sealed record ControlFrame(int Generation, WireFrame Frame) : INoSerializationVerificationNeeded;
    private sealed record ControlEnded(int Generation) : INoSerializationVerificationNeeded;
    private sealed record ReadyTimedOut(int Generation) : INoSerializationVerificationNeeded;
    private sealed record DataOpened(string ConnectionId, IFrameTransport Transport, BoxKeyPair Keys, int Epoch) : INoSerializationVerificationNeeded;
    private sealed record DataFailed(string ConnectionId, string Reason, int Epoch) : INoSerializationVerificationNeeded;
    private sealed record DataGone(string ConnectionId, IActorRef Connection) : INoSerializationVerificationNeeded;
    private sealed record AttachOverdue(string ConnectionId, int Epoch) : INoSerializationVerificationNeeded;

    // How long a handed-over data socket's connection actor may take to report in.
    private static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(10);

    private sealed record PingTick : INoSerializationVerificationNeeded
    {
        public static readonly PingTick Instance = new();
    }

    private sealed record AskIdentity : INoSerializationVerificationNeeded
    {
        public static readonly AskIdentity Instance = new();
    }

    private sealed record Reconnect : INoSerializationVerificationNeeded
    {
        public static readonly Reconnect Instance = new();
    }
}
