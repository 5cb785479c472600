using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Guardian;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions.Agents;
using Paseo.Actors.Sessions.Daemon;
using Paseo.Actors.Sessions.Terminals;
using Paseo.Actors.Sessions.Workspaces;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;

namespace Paseo.Actors.Sessions;

/// <summary>
/// One client session (`sessions/session-&lt;clientId&gt;`; app-protocol.md §1.4): it routes each session message to the
/// child that handles its family — `agents` (<see cref="SessionAgentsActor"/>), `workspaces`, `daemon`, `terminals` —
/// answers the few that concern the session itself (heartbeat, ping, shutdown/restart, voice refusals), and sends every
/// answer and push to all the sockets attached to it. Several sockets may share it; it outlives the last one by the
/// reconnect grace.
/// <para>
/// Back-pressure: each <see cref="Inbound"/> is answered <see cref="InboundTaken"/> when this actor has routed it, and
/// its connection reads nothing more from its socket until then. Every request handed to a child counts against
/// `paseo.sessions.max-requests-in-flight` until the child answers it (each child answers each request exactly once);
/// beyond the cap a request is refused at once (`too_many_requests`), never queued.
/// </para>
/// </summary>
public sealed class ClientSessionActor : ReceiveActor, IWithTimers, IWithStash
{
    /// <summary>The rpc_error code of a request refused because the session already waits on max-requests-in-flight answers.</summary>
    public const string TooManyRequestsCode = "too_many_requests";

    /// <summary>The rpc_error code of a request naming more agent ids than paseo.sessions.max-ids-per-request.</summary>
    public const string TooManyIdsCode = AgentRequests.TooManyIdsCode;

    private static readonly TimeSpan ServerInfoTimeout = TimeSpan.FromSeconds(9);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClientSessionId _clientId;
    private readonly IActorRef _agents;
    private readonly IActorRef _guardian;
    private readonly IReadOnlyDictionary<string, IAgentProvider> _providers;
    private readonly SessionSettings _settings;
    private readonly HashSet<IActorRef> _connections = [];
    private readonly SessionServices? _services;
    // The request children, one per family; each answers each request it is handed exactly once.
    private IActorRef _agentRequests = ActorRefs.Nobody;
    private IActorRef _daemonRequests = ActorRefs.Nobody;
    // None without the workspace services (a daemon built without them, in some specs), or without a terminal service.
    private IActorRef? _workspaces;
    private IActorRef? _terminals;
    private IActorRef? _chat;
    private IActorRef? _schedules;
    private IActorRef? _loops;
    private string? _pushToken;
    // Requests handed to a child and not answered yet.
    private int _inFlight;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public ClientSessionActor(ClientSessionId clientId, IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings,
        SessionServices? workspaces = null)
    {
        _services = workspaces;
        _clientId = clientId;
        _agents = agents;
        _guardian = guardian;
        _providers = providers;
        _settings = settings;

        Receive<Attach>(attach =>
        {
            _agentRequests.Tell(new SessionAgentsActor.ClientReadsReasoningMerge(attach.ReasoningMergeEnum));
            Context.WatchWith(attach.Connection, new Detached(attach.Connection));
            Timers.Cancel("grace");
            // server_info is the socket's first frame: it is told Attached (and sends requests) and joins the broadcasts
            // only once that is on its way, so no answer to an early request goes to a socket not listed yet.
            var connection = attach.Connection;
            _guardian.Ask<PaseoGuardianProtocol.ServerInfo>(PaseoGuardianProtocol.GetServerInfo.Instance, ServerInfoTimeout)
                .PipeTo(Self, success: info => new ServerInfoReady(connection, WsOutbound.Status(new JsonObject
                {
                    ["status"] = "server_info",
                    ["serverId"] = info.ServerId.Value,
                    ["hostname"] = info.Hostname,
                    ["version"] = info.Version,
                    ["features"] = new JsonObject { ["providersSnapshot"] = true },
                })), failure: _ => new ServerInfoReady(connection, null));
        });
        Receive<ServerInfoReady>(ready =>
        {
            if (ready.Json is null)
            {
                _log.Error("No server info for a new socket of {0}; closing it", _clientId);
                Context.Stop(ready.Connection);
                return;
            }
            ready.Connection.Tell(new Outbound(ready.Json));
            _connections.Add(ready.Connection);
            ready.Connection.Tell(new Attached(Self));
        });
        Receive<Detached>(detached =>
        {
            _connections.Remove(detached.Connection);
            if (_connections.Count > 0) return;
            Timers.StartSingleTimer("grace", GraceOver.Instance, _settings.ReconnectGrace);
            // A chat/wait ends with its client (the reply would have no socket to go to).
            _chat?.Tell(Chat.SessionChatActor.ClientGone.Instance);
        });
        Receive<GraceOver>(_ =>
        {
            // The manager stops this session, so that no reconnecting socket is handed to a session that is stopping.
            if (_connections.Count == 0) Context.Parent.Tell(new ClientSessionManager.SessionIdle(_clientId));
        });
        Receive<Inbound>(OnInbound);
        Receive<SessionProtocol.InboundFrame>(frame =>
        {
            frame.Connection.Tell(InboundTaken.Instance);
            _terminals?.Tell(new SessionTerminalsActor.InboundFrame(frame.Frame));
        });
        Receive<Answered>(answered =>
        {
            _inFlight--;
            if (answered.Json is not null) Broadcast(answered.Json);
        });
        Receive<AnsweredFrames>(answered =>
        {
            _inFlight--;
            foreach (var frame in answered.Frames)
                foreach (var connection in _connections) connection.Tell(new OutboundBinary(frame));
        });
        Receive<Pushed>(pushed => Broadcast(pushed.Json));
        Receive<SessionTerminalsActor.PushedFrame>(pushed =>
        {
            foreach (var connection in _connections) connection.Tell(new OutboundBinary(pushed.Frame));
        });
        Receive<HoldForTests>(hold =>
        {
            hold.Release.PipeTo(Self, success: () => Released.Instance, failure: _ => Released.Instance);
            var heldInbound = 0;
            BecomeStacked(() =>
            {
                Receive<Released>(_ =>
                {
                    hold.InboundHeld.TrySetResult(heldInbound);
                    UnbecomeStacked();
                    Stash.UnstashAll();
                });
                ReceiveAny(message =>
                {
                    if (message is Inbound) heldInbound++;
                    Stash.Stash();
                });
            });
        });
    }

    public static Props Props(ClientSessionId clientId, IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings,
        SessionServices? workspaces = null) =>
        Akka.Actor.Props.Create(() => new ClientSessionActor(clientId, agents, guardian, providers, settings, workspaces));

    protected override void PreStart()
    {
        _agentRequests = Context.ActorOf(SessionAgentsActor.Props(_agents, _services), "agents");
        if (_services is { } refs)
            _workspaces = Context.ActorOf(SessionWorkspacesActor.Props(_agents, refs.Registry, refs.Checkouts, refs.Worktrees, refs.Scripts, refs.SuggestionLimits, refs.UserHome, refs.FileLimits, refs.Downloads), "workspaces");
        _daemonRequests = Context.ActorOf(SessionDaemonRequestsActor.Props(_providers, _services?.ConfigJsonPath, _settings.ModelListTimeout), "daemon");
        if (_services is { Terminals: { } terminals } services)
            _terminals = Context.ActorOf(SessionTerminalsActor.Props(terminals, services.TerminalSettings ?? Paseo.Transport.Terminals.TerminalSettings.Default), "terminals");
        if (_services?.Chat is { } chat) _chat = Context.ActorOf(Chat.SessionChatActor.Props(chat, _clientId.Value), "chat");
        if (_services?.Schedules is { } schedules) _schedules = Context.ActorOf(Schedules.SessionSchedulesActor.Props(schedules), "schedules");
        if (_services?.Loops is { } loops) _loops = Context.ActorOf(Loops.SessionLoopsActor.Props(loops), "loops");
    }

    // A request child that throws is resumed: a restart would forget the waits, the subscriptions, the terminal stream
    // slots and the answers it owes, so the session's count of requests in flight would never come down. Its handlers
    // answer a request they fail on, so one bad request costs only itself.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Resume));

    private void Broadcast(string json)
    {
        foreach (var connection in _connections) connection.Tell(new Outbound(json));
    }

    private void OnInbound(Inbound inbound)
    {
        var (type, requestId) = (inbound.Type, inbound.RequestId);
        // Taken once routed (or refused): its connection may read the next frame from its socket.
        inbound.Connection.Tell(InboundTaken.Instance);
        try
        {
            if (AnsweredHere(type, requestId, RequestReader.Of(inbound.Message))) return;
            if (Route(type, requestId) is not { } child)
            {
                if (requestId is null) throw new InvalidRequestException("requestId is required");
                Broadcast(WsOutbound.RpcError(requestId, type, "Unknown request schema", "unknown_schema"));
                return;
            }
            if (_inFlight >= _settings.MaxRequestsInFlight)
            {
                var reason = $"Too many requests in flight: this session already waits for {_inFlight} answers (paseo.sessions.max-requests-in-flight); " +
                             "wait for some before sending more";
                _log.Warning("Session {0}: {1} refused, {2} requests in flight", _clientId, type, _inFlight);
                Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, type, reason, TooManyRequestsCode) : WsOutbound.StatusError($"{type}: {reason}"));
                return;
            }
            // Agent requests are read into their records here; the other families read their own (the message moves with the request).
            object request = child.Equals(_agentRequests)
                ? AgentRequests.Parse(type, requestId, inbound.Message, _settings.MaxIdsPerRequest)
                : new Request(type, requestId, inbound.Message);
            _inFlight++;
            child.Tell(request);
        }
        catch (RequestLimitException e)
        {
            Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, type, e.Message, e.Code) : WsOutbound.StatusError($"{type}: {e.Message}"));
        }
        catch (InvalidRequestException e)
        {
            _log.Info("Invalid {0}: {1}", type, e.Message);
            Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, type, "Unknown request schema", "unknown_schema")
                : WsOutbound.StatusError($"Invalid message: {type}: {e.Message}"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException or OverflowException)
        {
            // A reader bug or input it did not expect: the request fails, the session (and its sockets) go on.
            _log.Error(e, "Request {0} failed", type);
            Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, type, $"Request failed: {e.Message}", "handler_error")
                : WsOutbound.StatusError($"Request failed: {type}: {e.Message}"));
        }
    }

    /// <summary>The child that handles requests of <paramref name="type"/> (with or without a requestId, as its family allows); null if none.</summary>
    private IActorRef? Route(string type, string? requestId)
    {
        if (AgentRequests.Kinds.Contains(type)) return _agentRequests;
        if (_terminals is not null && SessionTerminalsActor.Kinds.Contains(type) && (requestId is not null || SessionTerminalsActor.WithoutRequestId.Contains(type))) return _terminals;
        if (_workspaces is not null && SessionWorkspacesActor.Kinds.Contains(type) && (requestId is not null || SessionWorkspacesActor.WithoutRequestId.Contains(type))) return _workspaces;
        if (requestId is not null && SessionDaemonRequestsActor.Kinds.Contains(type)) return _daemonRequests;
        if (_chat is not null && requestId is not null && Chat.SessionChatActor.Kinds.Contains(type)) return _chat;
        if (_schedules is not null && requestId is not null && Schedules.SessionSchedulesActor.Kinds.Contains(type)) return _schedules;
        if (_loops is not null && requestId is not null && Loops.SessionLoopsActor.Kinds.Contains(type)) return _loops;
        return null;
    }

    /// <summary>The messages about this session itself, answered at once; false for any other.</summary>
    private bool AnsweredHere(string type, string? requestId, RequestReader request)
    {
        switch (type)
        {
            case "client_heartbeat":
                _agentRequests.Tell(new SessionAgentsActor.ClientFocus(request.OneOf("deviceType", ["web", "mobile"], "web") == "mobile",
                    request.RequiredNullableString("focusedAgentId")));
                return true;
            case "register_push_token":
                // Kept for this client while its session lives; push delivery itself is not built yet.
                _pushToken = request.RequiredString("token");
                return true;
            case "abort_request":
                // Voice mode's "stop speaking": there is no voice here, so nothing to abort.
                return true;
            case "set_voice_mode" or "voice_audio_chunk" or "audio_played" or "dictation_stream_start" or "dictation_stream_chunk"
                or "dictation_stream_finish" or "dictation_stream_cancel":
                Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, type, "Voice and dictation are not supported by Paseo.NET", "not_supported")
                    : WsOutbound.StatusError($"{type}: voice and dictation are not supported by Paseo.NET"));
                return true;
        }
        if (requestId is null) return false;
        switch (type)
        {
            case "ping":
                var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var pong = new JsonObject { ["requestId"] = requestId };
                if (request.OptionalInt("clientSentAt") is { } sent) pong["clientSentAt"] = sent;
                pong["serverReceivedAt"] = received;
                pong["serverSentAt"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Broadcast(WsOutbound.Session("pong", pong));
                return true;
            case "shutdown_server_request":
                Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "shutdown_requested", ["clientId"] = _clientId.Value, ["requestId"] = requestId }));
                // The reply must be on its way before the daemon starts closing sockets.
                foreach (var connection in _connections) connection.Tell(new AfterOutbound(new DaemonControlRequested("shutdown", null)));
                return true;
            case "restart_server_request":
                var reason = request.OptionalString("reason");
                var restart = new JsonObject { ["status"] = "restart_requested", ["clientId"] = _clientId.Value };
                if (!string.IsNullOrWhiteSpace(reason)) restart["reason"] = reason;
                restart["requestId"] = requestId;
                Broadcast(WsOutbound.Status(restart));
                foreach (var connection in _connections) connection.Tell(new AfterOutbound(new DaemonControlRequested("restart", reason)));
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Test hook: the session is busy (as one working through a costly request would be) until <paramref name="Release"/>
    /// completes; whatever it is sent meanwhile waits, in order, and its connections' messages are not taken. On release,
    /// <paramref name="InboundHeld"/> says how many client messages had reached it meanwhile (back-pressure keeps that at
    /// one per socket).
    /// </summary>
    internal sealed record HoldForTests(Task Release, TaskCompletionSource<int> InboundHeld) : INoSerializationVerificationNeeded;

    private sealed record Released : INoSerializationVerificationNeeded
    {
        public static readonly Released Instance = new();
    }

    private sealed record Detached(IActorRef Connection) : INoSerializationVerificationNeeded;

    private sealed record ServerInfoReady(IActorRef Connection, string? Json) : INoSerializationVerificationNeeded;

    private sealed record GraceOver : INoSerializationVerificationNeeded
    {
        public static readonly GraceOver Instance = new();
    }
}
