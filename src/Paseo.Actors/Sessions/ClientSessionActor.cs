using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Agents;
using Paseo.Actors.Guardian;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions.Daemon;
using Paseo.Actors.Sessions.Terminals;
using Paseo.Actors.Sessions.Workspaces;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Files;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Sessions;

/// <summary>
/// One client session (`sessions/session-&lt;clientId&gt;`): answers the session messages of app-protocol.md §1.4 by
/// asking the agents, pushes every agent_stream event (only the focused agent's to a mobile client that said so), and
/// agent_update to a session that subscribed. Several sockets may share it; it outlives the last one by the reconnect
/// grace. Replies leave through <see cref="Outbound"/> to every attached connection.
/// <para>
/// Back-pressure: each <see cref="Inbound"/> is answered <see cref="InboundTaken"/> when this actor handles it (its
/// asynchronous work is bounded by the in-flight cap), and its connection reads nothing more from its socket until then.
/// Requests that wait for the agents or a provider count against `paseo.sessions.max-requests-in-flight`; beyond it a
/// request is refused at once (`too_many_requests`), never queued.
/// </para>
/// </summary>
public sealed class ClientSessionActor : ReceiveActor, IWithTimers, IWithStash
{
    /// <summary>The rpc_error code of a request refused because the session already waits on max-requests-in-flight answers.</summary>
    public const string TooManyRequestsCode = "too_many_requests";

    /// <summary>The rpc_error code of a request naming more agent ids than paseo.sessions.max-ids-per-request.</summary>
    public const string TooManyIdsCode = "too_many_ids";

    // Requests whose answer comes later, from the agents or a provider: each holds one of max-requests-in-flight until it is answered.
    private static readonly HashSet<string> AnsweredLater =
    [
        "fetch_agents_request", "fetch_agent_request", "create_agent_request", "send_agent_message_request", "archive_agent_request",
        "delete_agent_request", "close_items_request", "fetch_agent_timeline_request", "wait_for_finish_request", "set_agent_mode_request",
        "set_agent_model_request", "set_agent_thinking_request", "update_agent_request", "get_providers_snapshot_request",
        "list_provider_models_request", "agent_permission_response", "cancel_agent_request", "clear_agent_attention",
        "fetch_agent_history_request", "refresh_agent_request", "resume_agent_request", "import_agent_request", "list_commands_request",
    ];

    // Below the clients' own timeouts (10 s for fetch/archive/delete), so they get an error rather than silence.
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(9);
    // send waits for the run to start (Paseo waits up to 15 s; its client, 15 s too).
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(14);
    private static readonly string[] SortKeys = ["status_priority", "created_at", "updated_at", "title"];

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClientSessionId _clientId;
    private readonly IActorRef _agents;
    private readonly IActorRef _guardian;
    private readonly IReadOnlyDictionary<string, IAgentProvider> _providers;
    private readonly SessionSettings _settings;
    private readonly HashSet<IActorRef> _connections = [];
    private readonly SessionServices? _workspaceRefs;
    // The workspace side (workspaces, projects, checkouts): a child that answers each request it is handed exactly once.
    private IActorRef? _workspaces;
    // Questions about the daemon itself (providers, config, editors): a child with the same once-per-request answer.
    private IActorRef _daemonRequests = ActorRefs.Nobody;
    // Terminals (requests, stream slots, frames): a child with the same once-per-request answer; none without a terminal service.
    private IActorRef? _terminals;
    private bool _reasoningMergeEnum;
    private AgentFilter? _subscription;
    // agent_update frames held while a subscribing fetch_agents_response is built: the newest per agent.
    private Dictionary<string, string>? _bufferedUpdates;
    private string? _mobileFocus;
    private string? _pushToken;
    private bool _mobile;
    // Requests started and not answered yet (see AnsweredLater), and the wait_for_finish requests among them by wait id.
    private int _inFlight;
    private readonly Dictionary<long, (string RequestId, IActorRef? Agent)> _waits = [];
    private long _nextWait;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public ClientSessionActor(ClientSessionId clientId, IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings,
        SessionServices? workspaces = null)
    {
        _workspaceRefs = workspaces;
        _clientId = clientId;
        _agents = agents;
        _guardian = guardian;
        _providers = providers;
        _settings = settings;

        Receive<Attach>(attach =>
        {
            _reasoningMergeEnum = attach.ReasoningMergeEnum;
            Context.WatchWith(attach.Connection, new Detached(attach.Connection));
            Timers.Cancel("grace");
            // server_info is the socket's first frame: it is told Attached (and sends requests) and joins the broadcasts
            // only once that is on its way, so no answer to an early request goes to a socket not listed yet.
            var connection = attach.Connection;
            _guardian.Ask<PaseoGuardianProtocol.ServerInfo>(PaseoGuardianProtocol.GetServerInfo.Instance, AskTimeout)
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
            if (_connections.Count == 0) Timers.StartSingleTimer("grace", GraceOver.Instance, _settings.ReconnectGrace);
        });
        Receive<GraceOver>(_ =>
        {
            // The manager stops this session, so that no reconnecting socket is handed to a session that is stopping.
            if (_connections.Count == 0) Context.Parent.Tell(new ClientSessionManager.SessionIdle(_clientId));
        });
        Receive<ProvidersChecked>(checkedProviders =>
        {
            _inFlight--;
            Broadcast(WsOutbound.Session("get_providers_snapshot_response", new JsonObject
            {
                ["entries"] = new JsonArray(_providers.Values.Select(p => (JsonNode)ProviderEntry(p)).ToArray()),
                ["generatedAt"] = IsoTime.Format(DateTimeOffset.UtcNow),
                ["requestId"] = checkedProviders.RequestId,
            }));
        });
        Receive<Reply>(reply =>
        {
            _inFlight--;
            if (reply.Json is not null) Broadcast(reply.Json);
            if (reply.FlushAfter) FlushBufferedUpdates();
        });
        Receive<FinishResult>(result => AnswerWait(result.WaitId, requestId => WsOutbound.Session("wait_for_finish_response", new JsonObject
        {
            ["requestId"] = requestId, ["status"] = result.Status, ["final"] = result.Final.ToJson(), ["error"] = result.Error, ["lastMessage"] = result.LastMessage,
        })));
        Receive<AgentNotFound>(notFound => AnswerWait(notFound.CorrelationId, requestId => WaitError(requestId, notFound.Error)));
        Receive<WaitForwarded>(forwarded =>
        {
            if (!_waits.TryGetValue(forwarded.WaitId, out var wait)) return; // already answered
            _waits[forwarded.WaitId] = (wait.RequestId, forwarded.Agent);
            Context.Watch(forwarded.Agent);
        });
        // Only agents are watched with Terminated (connections have their own message): an agent that stopped without
        // answering its waits (its mailbox dropped) ends them here.
        Receive<Terminated>(terminated =>
        {
            foreach (var waitId in _waits.Where(w => terminated.ActorRef.Equals(w.Value.Agent)).Select(w => w.Key).ToList())
                AnswerWait(waitId, requestId => WaitError(requestId, "The agent stopped before it finished"));
        });
        Receive<Inbound>(OnInbound);
        Receive<SessionWorkspacesActor.Answered>(answered =>
        {
            _inFlight--;
            if (answered.Json is not null) Broadcast(answered.Json);
        });
        Receive<SessionWorkspacesActor.Pushed>(pushed => Broadcast(pushed.Json));
        Receive<SessionTerminalsActor.PushedFrame>(pushed =>
        {
            foreach (var connection in _connections) connection.Tell(new OutboundBinary(pushed.Frame));
        });
        Receive<SessionProtocol.InboundFrame>(frame =>
        {
            frame.Connection.Tell(InboundTaken.Instance);
            _terminals?.Tell(new SessionTerminalsActor.InboundFrame(frame.Frame));
        });
        Receive<SessionWorkspacesActor.AnsweredFrames>(answered =>
        {
            _inFlight--;
            foreach (var frame in answered.Frames)
                foreach (var connection in _connections) connection.Tell(new OutboundBinary(frame));
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
        Receive<AgentStreamEvent>(stream =>
        {
            if (_mobile && _mobileFocus != stream.AgentId.Value) return;
            Broadcast(stream.Frame);
            if (stream.PermissionFrame is not null) Broadcast(stream.PermissionFrame);
        });
        Receive<AgentChanged>(OnAgentChanged);
        Receive<AgentRemoved>(removed =>
        {
            if (_subscription is null) return;
            var frame = RemoveFrame(removed.AgentId.Value);
            if (_bufferedUpdates is not null) _bufferedUpdates[removed.AgentId.Value] = frame;
            else Broadcast(frame);
        });
    }

    public static Props Props(ClientSessionId clientId, IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings,
        SessionServices? workspaces = null) =>
        Akka.Actor.Props.Create(() => new ClientSessionActor(clientId, agents, guardian, providers, settings, workspaces));

    protected override void PreStart()
    {
        if (_workspaceRefs is { } refs)
            _workspaces = Context.ActorOf(SessionWorkspacesActor.Props(_agents, refs.Registry, refs.Checkouts, refs.Worktrees, refs.Scripts, refs.SuggestionLimits, refs.UserHome, refs.FileLimits, refs.Downloads), "workspaces");
        _daemonRequests = Context.ActorOf(SessionDaemonRequestsActor.Props(_providers, _workspaceRefs?.ConfigJsonPath), "daemon");
        if (_workspaceRefs is { Terminals: { } terminals } services)
            _terminals = Context.ActorOf(SessionTerminalsActor.Props(terminals, services.TerminalSettings ?? Paseo.Transport.Terminals.TerminalSettings.Default), "terminals");
        Context.System.EventStream.Subscribe(Self, typeof(AgentStreamEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AgentChanged));
        Context.System.EventStream.Subscribe(Self, typeof(AgentRemoved));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Broadcast(string json)
    {
        foreach (var connection in _connections) connection.Tell(new Outbound(json));
    }

    private void OnInbound(Inbound inbound)
    {
        var requestId = inbound.RequestId;
        // Taken once dispatched (or refused): its connection may read the next frame from its socket.
        inbound.Connection.Tell(InboundTaken.Instance);
        if (_inFlight >= _settings.MaxRequestsInFlight && (AnsweredLater.Contains(inbound.Type)
                || (requestId is not null && (SessionWorkspacesActor.Kinds.Contains(inbound.Type) || SessionDaemonRequestsActor.Kinds.Contains(inbound.Type)
                    || SessionTerminalsActor.Kinds.Contains(inbound.Type)))))
        {
            var reason = $"Too many requests in flight: this session already waits for {_inFlight} answers (paseo.sessions.max-requests-in-flight); " +
                         "wait for some before sending more";
            _log.Warning("Session {0}: {1} refused, {2} requests in flight", _clientId, inbound.Type, _inFlight);
            Broadcast(requestId is not null ? WsOutbound.RpcError(requestId, inbound.Type, reason, TooManyRequestsCode) : WsOutbound.StatusError($"{inbound.Type}: {reason}"));
            return;
        }
        try
        {
            Dispatch(inbound.Type, requestId, RequestReader.Of(inbound.Message));
        }
        catch (RequestLimitException e)
        {
            if (requestId is not null) Broadcast(WsOutbound.RpcError(requestId, inbound.Type, e.Message, e.Code));
            else Broadcast(WsOutbound.StatusError($"{inbound.Type}: {e.Message}"));
        }
        catch (InvalidRequestException e)
        {
            _log.Info("Invalid {0}: {1}", inbound.Type, e.Message);
            if (requestId is not null) Broadcast(WsOutbound.RpcError(requestId, inbound.Type, "Unknown request schema", "unknown_schema"));
            else Broadcast(WsOutbound.StatusError($"Invalid message: {inbound.Type}: {e.Message}"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException)
        {
            // A handler bug or input it did not expect: the request fails, the session goes on.
            _log.Error(e, "Request {0} failed", inbound.Type);
            if (requestId is not null) Broadcast(WsOutbound.RpcError(requestId, inbound.Type, $"Request failed: {e.Message}", "handler_error"));
            else Broadcast(WsOutbound.StatusError($"Request failed: {inbound.Type}: {e.Message}"));
        }
    }

    private void Dispatch(string type, string? requestId, RequestReader request)
    {
        // Most requests need a requestId; the few that do not are listed first.
        switch (type)
        {
            case "client_heartbeat":
                _mobile = request.OneOf("deviceType", ["web", "mobile"], "web") == "mobile";
                _mobileFocus = request.RequiredNullableString("focusedAgentId");
                return;
            case "agent_permission_response":
                OnPermissionResponse(request);
                return;
            case "cancel_agent_request":
                OnCancel(requestId, request.RequiredString("agentId"));
                return;
            case "clear_agent_attention":
                OnClearAttention(requestId, request);
                return;
            case "register_push_token":
                // Kept for this client while its session lives; push delivery itself is not built yet.
                _pushToken = request.RequiredString("token");
                return;
            case "abort_request":
                // Voice mode's "stop speaking": there is no voice here, so nothing to abort.
                return;
            case "set_voice_mode" or "voice_audio_chunk" or "audio_played" or "dictation_stream_start" or "dictation_stream_chunk"
                or "dictation_stream_finish" or "dictation_stream_cancel":
                if (requestId is not null) Broadcast(WsOutbound.RpcError(requestId, type, "Voice and dictation are not supported by Paseo.NET", "not_supported"));
                else Broadcast(WsOutbound.StatusError($"{type}: voice and dictation are not supported by Paseo.NET"));
                return;
        }
        if (_terminals is not null && SessionTerminalsActor.Kinds.Contains(type) && (requestId is not null || SessionTerminalsActor.WithoutRequestId.Contains(type)))
        {
            Counted(_terminals, new SessionWorkspacesActor.Request(type, requestId, request.Message));
            return;
        }
        if (requestId is null && _workspaces is not null && SessionWorkspacesActor.WithoutRequestId.Contains(type))
        {
            Counted(_workspaces, new SessionWorkspacesActor.Request(type, null, request.Message));
            return;
        }
        if (requestId is null) throw new InvalidRequestException("requestId is required");
        if (SessionDaemonRequestsActor.Kinds.Contains(type))
        {
            Counted(_daemonRequests, new SessionWorkspacesActor.Request(type, requestId, request.Message));
            return;
        }
        if (_workspaces is not null && SessionWorkspacesActor.Kinds.Contains(type))
        {
            Counted(_workspaces, new SessionWorkspacesActor.Request(type, requestId, request.Message));
            return;
        }
        switch (type)
        {
            case "ping":
                var received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var pong = new JsonObject { ["requestId"] = requestId };
                if (request.OptionalInt("clientSentAt") is { } sent) pong["clientSentAt"] = sent;
                pong["serverReceivedAt"] = received;
                pong["serverSentAt"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Broadcast(WsOutbound.Session("pong", pong));
                break;
            case "fetch_agents_request":
                OnFetchAgents(requestId, request);
                break;
            case "fetch_agent_request":
                OnFetchAgent(requestId, request.RequiredString("agentId"));
                break;
            case "fetch_agent_history_request":
                OnFetchAgents(requestId, request, history: true);
                break;
            case "refresh_agent_request":
                OnRefresh(requestId, type, request.RequiredString("agentId"));
                break;
            case "resume_agent_request":
                OnResume(requestId, type, request);
                break;
            case "import_agent_request":
                OnResume(requestId, type, request);
                break;
            case "list_commands_request":
                OnListCommands(requestId, request);
                break;
            case "create_agent_request":
                OnCreateAgent(requestId, request);
                break;
            case "send_agent_message_request":
                OnSendMessage(requestId, request);
                break;
            case "archive_agent_request":
                AskAgent(request.RequiredString("agentId"), Archive.Instance, requestId, "archive_agent_request", (answer, _) => answer is Archived archived
                    ? WsOutbound.Session("agent_archived", new JsonObject { ["agentId"] = archived.AgentId.Value, ["archivedAt"] = IsoTime.Format(archived.ArchivedAt), ["requestId"] = requestId })
                    : null);
                break;
            case "delete_agent_request":
                var deleteId = request.RequiredString("agentId");
                AskAgent(deleteId, Delete.Instance, requestId, "delete_agent_request", (answer, _) => answer is Deleted deleted
                    ? WsOutbound.Session("agent_deleted", new JsonObject { ["agentId"] = deleted.AgentId.Value, ["requestId"] = requestId })
                    : null);
                break;
            case "close_items_request":
                OnCloseItems(requestId, request);
                break;
            case "fetch_agent_timeline_request":
                OnFetchTimeline(requestId, request);
                break;
            case "wait_for_finish_request":
                OnWaitForFinish(requestId, request);
                break;
            case "set_agent_mode_request":
                var modeAgent = request.RequiredString("agentId");
                var modeId = request.RequiredString("modeId");
                AskCommand(modeAgent, new SetAgentMode(modeId), requestId, "set_agent_mode_response");
                break;
            case "set_agent_model_request":
                AskCommand(request.RequiredString("agentId"), new SetAgentModel(request.OptionalString("modelId")), requestId, "set_agent_model_response");
                break;
            case "set_agent_thinking_request":
                AskCommand(request.RequiredString("agentId"), new SetAgentThinking(request.OptionalString("thinkingOptionId")), requestId, "set_agent_thinking_response");
                break;
            case "set_agent_feature_request":
                Broadcast(WsOutbound.Session("set_agent_feature_response", new JsonObject
                {
                    ["requestId"] = requestId,
                    ["agentId"] = request.OptionalString("agentId"),
                    ["accepted"] = false,
                    ["error"] = "Agent features are not supported by Paseo.NET",
                }));
                break;
            case "update_agent_request":
                var updateAgent = request.RequiredString("agentId");
                AskCommand(updateAgent, new UpdateAgent(request.OptionalString("name"), request.OptionalLabels("labels")), requestId, "update_agent_response");
                break;
            case "get_providers_snapshot_request":
                // Stale availability checks run again first (bounded by each probe's version-timeout), off this thread.
                Counted(Task.WhenAll(_providers.Values.Select(p => p.Availability.Refresh())).WaitAsync(AskTimeout))
                    .PipeTo(Self, success: _ => new ProvidersChecked(requestId), failure: _ => new ProvidersChecked(requestId));
                break;
            case "list_provider_models_request":
                OnListModels(requestId, request.RequiredString("provider"), request.OptionalString("cwd"));
                break;
            case "shutdown_server_request":
                Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "shutdown_requested", ["clientId"] = _clientId.Value, ["requestId"] = requestId }));
                // The reply must be on its way before the daemon starts closing sockets.
                foreach (var connection in _connections) connection.Tell(new AfterOutbound(new DaemonControlRequested("shutdown", null)));
                break;
            case "restart_server_request":
                var reason = request.OptionalString("reason");
                var restart = new JsonObject { ["status"] = "restart_requested", ["clientId"] = _clientId.Value };
                if (!string.IsNullOrWhiteSpace(reason)) restart["reason"] = reason;
                restart["requestId"] = requestId;
                Broadcast(WsOutbound.Status(restart));
                foreach (var connection in _connections) connection.Tell(new AfterOutbound(new DaemonControlRequested("restart", reason)));
                break;
            default:
                Broadcast(WsOutbound.RpcError(requestId, type, "Unknown request schema", "unknown_schema"));
                break;
        }
    }

    // ---- agents list and subscription ------------------------------------------------------------------------

    /// <summary>
    /// fetch_agents, and fetch_agent_history (app-workspaces.md §7: archived agents included unless the filter says
    /// otherwise, no scope, no subscription).
    /// </summary>
    private void OnFetchAgents(string requestId, RequestReader request, bool history = false)
    {
        var requestType = history ? "fetch_agent_history_request" : "fetch_agents_request";
        if (history && (request.Message.ContainsKey("scope") || request.Message.ContainsKey("subscribe")))
            throw new InvalidRequestException("fetch_agent_history_request takes no scope and no subscribe");
        var filter = AgentFilter.Read(request);
        if (history && request.OptionalObject("filter")?["includeArchived"] is null) filter = filter with { IncludeArchived = true };
        var sort = ReadSort(request);
        var page = request.OptionalObject("page");
        var limit = 200L;
        string? cursor = null;
        if (page is not null)
        {
            var pageReader = RequestReader.Of(page);
            limit = pageReader.OptionalInt("limit") ?? throw new InvalidRequestException("page.limit is required");
            if (limit is < 1 or > 200) throw new InvalidRequestException("page.limit must be from 1 to 200");
            cursor = pageReader.OptionalString("cursor");
        }
        var offset = 0;
        var sortKey = JsonSerializer.Serialize(sort.Select(s => $"{s.Key}:{s.Direction}"));
        if (cursor is not null && !TryReadCursor(cursor, sortKey, out offset))
        {
            Broadcast(WsOutbound.RpcError(requestId, requestType, "Invalid cursor", "invalid_cursor"));
            return;
        }
        string? subscriptionId = null;
        if (request.OptionalObject("subscribe") is { } subscribe)
        {
            subscriptionId = RequestReader.Of(subscribe).OptionalString("subscriptionId") ?? Guid.NewGuid().ToString("D");
            _subscription = filter;
            // Pushes wait until the response is out (then the newest per agent follows it), whatever the outcome.
            _bufferedUpdates ??= [];
        }
        var workspaces = DaemonWorkspaces.Get(Context.System);
        Counted(_agents.Ask<AgentList>(ListAgents.Instance, AskTimeout)).PipeTo(Self, success: list =>
        {
            var placements = workspaces.Current;
            var matching = Sort(list.Agents.Where(a => filter.Matches(a, placements)), sort).ToList();
            var pageItems = matching.Skip(offset).Take((int)limit).ToList();
            var hasMore = offset + pageItems.Count < matching.Count;
            var payload = new JsonObject { ["requestId"] = requestId };
            if (subscriptionId is not null) payload["subscriptionId"] = subscriptionId;
            payload["entries"] = new JsonArray(pageItems.Select(a => (JsonNode)new JsonObject { ["agent"] = a.ToJson(), ["project"] = placements.PlacementFor(a.Cwd) }).ToArray());
            payload["pageInfo"] = new JsonObject
            {
                ["nextCursor"] = hasMore ? WriteCursor(sortKey, offset + pageItems.Count) : null,
                ["prevCursor"] = cursor,
                ["hasMore"] = hasMore,
            };
            return new Reply(WsOutbound.Session(history ? "fetch_agent_history_response" : "fetch_agents_response", payload), FlushAfter: subscriptionId is not null);
        }, failure: e => new Reply(WsOutbound.RpcError(requestId, requestType, $"Request failed: {e.Message}", history ? "fetch_agent_history_failed" : "fetch_agents_failed"),
            FlushAfter: subscriptionId is not null));
    }

    private void OnAgentChanged(AgentChanged changed)
    {
        if (_subscription is null) return;
        // An agent that no longer matches the subscription's filter is sent as a remove.
        var frame = _subscription.Matches(changed.Agent, DaemonWorkspaces.Get(Context.System).Current) ? changed.UpsertFrame : RemoveFrame(changed.Agent.Id);
        if (_bufferedUpdates is not null) _bufferedUpdates[changed.Agent.Id] = frame;
        else Broadcast(frame);
    }

    private static string RemoveFrame(string agentId) =>
        WsOutbound.Session("agent_update", new JsonObject { ["kind"] = "remove", ["agentId"] = agentId });

    private void FlushBufferedUpdates()
    {
        var buffered = _bufferedUpdates;
        _bufferedUpdates = null;
        if (buffered is null) return;
        foreach (var frame in buffered.Values) Broadcast(frame);
    }

    private static List<(string Key, string Direction)> ReadSort(RequestReader request)
    {
        var result = new List<(string, string)>();
        if (request.OptionalArray("sort") is not { } sort) return [("updated_at", "desc")];
        foreach (var node in sort)
        {
            if (node is not JsonObject entry) throw new InvalidRequestException("sort entries must be objects");
            var reader = RequestReader.Of(entry);
            var key = reader.OneOf("key", SortKeys, "");
            var direction = reader.OneOf("direction", ["asc", "desc"], "");
            if (key.Length == 0 || direction.Length == 0) throw new InvalidRequestException("sort entries need key and direction");
            if (result.All(r => r.Item1 != key)) result.Add((key, direction));
        }
        return result.Count == 0 ? [("updated_at", "desc")] : result;
    }

    private static IEnumerable<AgentSnapshot> Sort(IEnumerable<AgentSnapshot> agents, List<(string Key, string Direction)> sort)
    {
        IOrderedEnumerable<AgentSnapshot>? ordered = null;
        foreach (var (key, direction) in sort)
        {
            Func<AgentSnapshot, IComparable> selector = key switch
            {
                "status_priority" => a => StatusPriority(a),
                "created_at" => a => a.CreatedAt,
                "title" => a => a.Title ?? "",
                _ => a => a.UpdatedAt,
            };
            var descending = direction == "desc";
            ordered = ordered is null
                ? descending ? agents.OrderByDescending(selector) : agents.OrderBy(selector)
                : descending ? ordered.ThenByDescending(selector) : ordered.ThenBy(selector);
        }
        return (ordered ?? agents.OrderBy(a => 0)).ThenBy(a => a.Id, StringComparer.Ordinal);
    }

    /// <summary>0 = waiting on a permission, 1 = error, 2 = running, 3 = initializing, 4 = the rest ("asc" = most urgent first).</summary>
    private static int StatusPriority(AgentSnapshot agent) =>
        agent.PendingPermissions.Count > 0 || agent.AttentionReason == "permission" ? 0
        : agent.Status == AgentStatus.Error || agent.AttentionReason == "error" ? 1
        : agent.Status == AgentStatus.Running ? 2
        : agent.Status == AgentStatus.Initializing ? 3
        : 4;

    private static string WriteCursor(string sortKey, int offset) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["sort"] = sortKey, ["offset"] = offset }.ToJsonString()))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryReadCursor(string cursor, string sortKey, out int offset)
    {
        offset = 0;
        try
        {
            var text = cursor.Replace('-', '+').Replace('_', '/');
            text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
            if (JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(text))) is not JsonObject obj) return false;
            if (WsInbound.Str(obj, "sort") != sortKey || obj["offset"] is not JsonValue value || !value.TryGetValue(out offset)) return false;
            return offset >= 0;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    // ---- single agents -------------------------------------------------------------------------------------------

    private void OnFetchAgent(string requestId, string agentId)
    {
        var system = Context.System;
        Counted(_agents.Ask<object>(new ToAgent(agentId, GetSnapshot.Instance), AskTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            AgentSnapshot agent => WsOutbound.Session("fetch_agent_response", new JsonObject
            {
                ["requestId"] = requestId, ["agent"] = agent.ToJson(), ["project"] = DaemonWorkspaces.Get(system).Current.PlacementFor(agent.Cwd), ["error"] = null,
            }),
            AgentNotFound notFound => WsOutbound.Session("fetch_agent_response", new JsonObject
            {
                ["requestId"] = requestId, ["agent"] = null, ["project"] = null, ["error"] = notFound.Error,
            }),
            _ => WsOutbound.RpcError(requestId, "fetch_agent_request", "Request failed: unexpected answer", "handler_error"),
        }), failure: e => new Reply(WsOutbound.RpcError(requestId, "fetch_agent_request", $"Request failed: {e.Message}", "handler_error")));
    }

    /// <summary>
    /// refresh_agent: status agent_refreshed. Paseo answers a failure with an activity_log only (the app waits 15 s);
    /// Paseo.NET answers rpc_error with the reason, which the app shows at once.
    /// </summary>
    private void OnRefresh(string requestId, string requestType, string agentId)
    {
        Counted(_agents.Ask<object>(new ToAgent(agentId, RefreshAgent.Instance), AskTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            AgentRefreshed refreshed => WsOutbound.Status(new JsonObject
            {
                ["status"] = "agent_refreshed", ["agentId"] = refreshed.Agent.Id, ["requestId"] = requestId, ["timelineSize"] = refreshed.TimelineSize,
            }),
            CommandResult result => WsOutbound.RpcError(requestId, requestType, result.Error ?? "Refresh failed", "refresh_agent_failed"),
            AgentNotFound notFound => WsOutbound.RpcError(requestId, requestType, notFound.Error, "refresh_agent_failed"),
            _ => WsOutbound.RpcError(requestId, requestType, "Unexpected answer", "refresh_agent_failed"),
        }), failure: e => new Reply(WsOutbound.RpcError(requestId, requestType, e.Message, "refresh_agent_failed")));
    }

    /// <summary>resume_agent (`handle`) and import_agent (`provider`, `sessionId`): status agent_resumed, or agent_create_failed with the reason.</summary>
    private void OnResume(string requestId, string requestType, RequestReader request)
    {
        string provider, sessionId;
        string? cwd;
        IReadOnlyDictionary<string, string>? labels = null;
        if (requestType == "resume_agent_request")
        {
            if (!request.Message.ContainsKey("handle")) throw new InvalidRequestException("handle is required (null allowed)");
            var handle = request.OptionalObject("handle");
            if (handle is null)
            {
                Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = "resume_agent_request needs a persistence handle" }));
                return;
            }
            var reader = RequestReader.Of(handle);
            provider = reader.RequiredString("provider");
            sessionId = reader.RequiredString("sessionId");
            cwd = (handle["metadata"] as JsonObject)?["cwd"] is JsonValue v && v.TryGetValue<string>(out var c) ? c : null;
            if (request.OptionalObject("overrides") is { } overrides && RequestReader.Of(overrides).OptionalString("cwd") is { } overrideCwd) cwd = overrideCwd;
        }
        else
        {
            provider = request.RequiredString("provider");
            sessionId = request.RequiredString("sessionId");
            cwd = request.OptionalString("cwd");
            labels = request.OptionalLabels("labels");
        }
        Counted(_agents.Ask<object>(new ResumeSession(provider, sessionId, cwd, labels), AskTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            AgentRefreshed resumed => WsOutbound.Status(new JsonObject
            {
                ["status"] = "agent_resumed", ["agentId"] = resumed.Agent.Id, ["requestId"] = requestId, ["agent"] = resumed.Agent.ToJson(), ["timelineSize"] = resumed.TimelineSize,
            }),
            AgentCreateFailed failed => WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = failed.Error }),
            CommandResult result => WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = result.Error ?? "Resume failed" }),
            _ => WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = "Unexpected answer" }),
        }), failure: e => new Reply(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = e.Message })));
    }

    /// <summary>
    /// list_commands: no provider here reports its slash commands yet (the spec names no source for them beyond ACP's
    /// available_commands_update, which our ACP stand-ins do not send), so a live agent answers Paseo's own words for that.
    /// </summary>
    private void OnListCommands(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        static string Reply(string requestId, string agentId, string? error) => WsOutbound.Session("list_commands_response", new JsonObject
        {
            ["agentId"] = agentId, ["commands"] = new JsonArray(), ["error"] = error, ["requestId"] = requestId,
        });
        if (agentId.Length == 0)
        {
            Broadcast(Reply(requestId, agentId, request.OptionalObject("draftConfig") is null ? "Agent not found: " : "Agent does not support listing commands"));
            return;
        }
        Counted(_agents.Ask<object>(new ToAgent(agentId, GetSnapshot.Instance), AskTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            AgentSnapshot { Live: true } => Reply(requestId, agentId, "Agent does not support listing commands"),
            AgentSnapshot => Reply(requestId, agentId, $"Agent not found: {agentId}"),
            AgentNotFound notFound => Reply(requestId, agentId, notFound.Error),
            _ => Reply(requestId, agentId, "Unexpected answer"),
        }), failure: e => new Reply(Reply(requestId, agentId, e.Message)));
    }

    private void OnCreateAgent(string requestId, RequestReader request)
    {
        var configJson = request.OptionalObject("config") ?? throw new InvalidRequestException("config is required");
        var config = RequestReader.Of(configJson);
        var title = config.OptionalString("title");
        if (title is not null)
        {
            title = title.Trim();
            if (title.Length is 0 or > 200) throw new InvalidRequestException("config.title must have 1 to 200 characters");
        }
        IReadOnlyList<ProviderProtocol.PromptImage>? images;
        try
        {
            images = ReadImages(request);
        }
        catch (InvalidRequestException e)
        {
            // A well-formed request with an image the daemon cannot take: said plainly, not as an unknown schema.
            Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = e.Message }));
            return;
        }
        var create = new CreateAgent(
            new AgentConfig(config.RequiredString("provider"), config.RequiredString("cwd"), config.OptionalString("modeId"), config.OptionalString("model"),
                config.OptionalString("thinkingOptionId"), title, config.OptionalString("systemPrompt")),
            request.OptionalString("initialPrompt"),
            request.OptionalString("clientMessageId"),
            request.OptionalLabels("labels") ?? new Dictionary<string, string>(),
            images);
        var workspaceId = request.OptionalString("workspaceId");
        if (workspaceId is not null && _workspaceRefs is not null && !DaemonWorkspaces.Get(Context.System).Current.Workspaces.ContainsKey(workspaceId))
        {
            Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = $"Workspace not found: {workspaceId}" }));
            return;
        }
        var git = GitIntent.Read(request);
        if (git.Error is { } gitError)
        {
            Broadcast(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = gitError }));
            return;
        }
        // The agent's directory gets its workspace first (app-workspaces.md §2.3), so the app can open the agent from its first update;
        // with a worktree, the worktree is made first and becomes the agent's directory (§4.4).
        var agents = _agents;
        var refs = _workspaceRefs;
        var gitRunner = DaemonWorkspaces.Get(Context.System).Git;
        async Task<object> Create()
        {
            var toCreate = create;
            if (git.CreateWorktree)
            {
                if (refs is null) return new AgentCreateFailed("Worktrees are not available on this daemon");
                var made = await refs.Worktrees.Ask<WorktreesActor.WorktreeCreated>(new WorktreesActor.CreateWorktree(create.Config.Cwd, git.Slug, git.BaseBranch, "branch-off",
                    git.BranchNamed ? null : create.InitialPrompt, null, DeferSetup: true), TimeSpan.FromSeconds(55));
                if (made.Worktree is not { } worktree || made.Workspace is not { } workspace)
                    return new CreateFailedWithCode(made.Error ?? "Could not create the worktree", made.ErrorCode ?? "unknown");
                toCreate = create with { Config = create.Config with { Cwd = worktree.Path } };
                var answer = await agents.Ask<object>(toCreate, TimeSpan.FromSeconds(60));
                // Its setup runs once the agent exists, as rows of its timeline.
                if (answer is AgentCreated created) refs.Worktrees.Tell(new WorktreesActor.RunAgentSetup(worktree, workspace.WorkspaceId, created.Agent.Id));
                return answer;
            }
            else if (git.NewBranch is { } branch)
            {
                try { await new CheckoutOperations(gitRunner).CreateBranchAsync(create.Config.Cwd, branch, git.BaseBranch); }
                catch (CheckoutFailure e) { return new CreateFailedWithCode(e.Message, "unknown"); }
            }
            else if (git.BaseBranch is { } baseBranch)
            {
                try { await new CheckoutOperations(gitRunner).SwitchBranchAsync(create.Config.Cwd, baseBranch); }
                catch (CheckoutFailure e) { return new CreateFailedWithCode(e.Message, "unknown"); }
            }
            if (refs is not null) await refs.Registry.Ask<AgentWorkspaceReady>(new EnsureAgentWorkspace(toCreate.Config.Cwd), AskTimeout);
            return await agents.Ask<object>(toCreate, TimeSpan.FromSeconds(60));
        }
        Counted(Create()).PipeTo(Self, success: answer => new Reply(answer switch
        {
            AgentCreated created => WsOutbound.Status(new JsonObject
            {
                ["status"] = "agent_created", ["agentId"] = created.Agent.Id, ["requestId"] = requestId, ["agent"] = created.Agent.ToJson(),
            }),
            AgentCreateFailed failed => WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = failed.Error }),
            CreateFailedWithCode failed => WsOutbound.Status(new JsonObject
            {
                ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = failed.Error, ["errorCode"] = failed.Code,
            }),
            _ => WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = "Unexpected answer" }),
        }), failure: e => new Reply(WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = e.Message })));
    }

    private sealed record CreateFailedWithCode(string Error, string Code);

    /// <summary>create_agent_request's `git` (or the legacy `worktreeName`), normalised as app-workspaces.md §4.4 says.</summary>
    private sealed record GitIntent(bool CreateWorktree, string? Slug, string? NewBranch, string? BaseBranch, string? Error, bool BranchNamed = false)
    {
        public static GitIntent Read(RequestReader request)
        {
            if (request.OptionalString("worktreeName") is { Length: > 0 } legacy)
            {
                var slug = WorktreeNames.Slugify(legacy);
                return new GitIntent(true, slug, null, null, null, BranchNamed: true);
            }
            if (request.OptionalObject("git") is not { } git) return new GitIntent(false, null, null, null, null);
            var reader = RequestReader.Of(git);
            var baseBranch = reader.OptionalString("baseBranch")?.Trim() is { Length: > 0 } b ? b : null;
            var refName = reader.OptionalString("refName")?.Trim() is { Length: > 0 } r ? r : null;
            baseBranch ??= refName;
            var newBranch = reader.OptionalString("newBranchName") is { } n && WorktreeNames.Slugify(n) is { Length: > 0 } slugged ? slugged : null;
            var worktreeSlug = reader.OptionalString("worktreeSlug") is { } w && WorktreeNames.Slugify(w) is { Length: > 0 } ws ? ws : null;
            var createNewBranch = reader.OptionalBool("createNewBranch") ?? false;
            var createWorktree = reader.OptionalBool("createWorktree") ?? false;
            if (baseBranch is not null && !CheckoutOperations.IsValidBranch(baseBranch)) return new GitIntent(false, null, null, null, $"Invalid base branch: {baseBranch}");
            if (createNewBranch && newBranch is null) return new GitIntent(false, null, null, null, "New branch name is required");
            if (createNewBranch && WorktreeNames.Invalid(newBranch!) is { } invalid) return new GitIntent(false, null, null, null, $"Invalid branch name: {invalid}");
            return new GitIntent(createWorktree, createWorktree ? newBranch ?? worktreeSlug : worktreeSlug, createNewBranch && !createWorktree ? newBranch : null, baseBranch, null,
                BranchNamed: newBranch is not null);
        }
    }

    private void OnSendMessage(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var text = request.RequiredString("text");
        var messageId = request.OptionalString("messageId");
        IReadOnlyList<ProviderProtocol.PromptImage>? images;
        try
        {
            images = ReadImages(request);
        }
        catch (InvalidRequestException e)
        {
            Broadcast(SendResponse(requestId, agentId, false, e.Message));
            return;
        }
        Counted(_agents.Ask<object>(new ToAgent(agentId, new SendMessage(text, messageId, images)), SendTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            MessageAccepted accepted => SendResponse(requestId, accepted.AgentId.Value, true, null),
            CommandResult result => SendResponse(requestId, result.AgentId.Value, result.Accepted, result.Error),
            AgentNotFound notFound => SendResponse(requestId, agentId, false, notFound.Error),
            _ => SendResponse(requestId, agentId, false, "Unexpected answer"),
        }), failure: e => new Reply(SendResponse(requestId, agentId, false, e is AskTimeoutException ? "Timed out waiting for the run to start" : e.Message)));
    }

    private static readonly string[] ImageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    /// <summary>`images:[{data, mimeType}]` of create_agent / send_agent_message: base64 images of the types CLIs take.</summary>
    private static IReadOnlyList<ProviderProtocol.PromptImage>? ReadImages(RequestReader request)
    {
        if (request.OptionalArray("images") is not { Count: > 0 } list) return null;
        var images = new List<ProviderProtocol.PromptImage>(list.Count);
        foreach (var node in list)
        {
            var image = node as JsonObject ?? throw new InvalidRequestException("images[] must be objects {data, mimeType}");
            var reader = RequestReader.Of(image);
            var mimeType = reader.RequiredString("mimeType");
            if (!ImageTypes.Contains(mimeType))
                throw new InvalidRequestException($"images[].mimeType {mimeType} is not supported ({string.Join(", ", ImageTypes)})");
            var data = reader.RequiredString("data");
            if (data.Length == 0 || !System.Buffers.Text.Base64.IsValid(data))
                throw new InvalidRequestException("images[].data must be base64");
            images.Add(new ProviderProtocol.PromptImage(mimeType, data));
        }
        return images;
    }

    private static string SendResponse(string requestId, string agentId, bool accepted, string? error) =>
        WsOutbound.Session("send_agent_message_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = accepted, ["error"] = error });

    private void OnCancel(string? requestId, string agentId)
    {
        // No requestId, no reply (Paseo); errors only reach the log.
        Counted(_agents.Ask<object>(new ToAgent(agentId, Cancel.Instance), AskTimeout)).PipeTo(Self, success: answer =>
        {
            if (requestId is null) return Reply.None;
            return answer switch
            {
                AgentSnapshot agent => new Reply(WsOutbound.Session("cancel_agent_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agent.Id, ["agent"] = agent.ToJson() })),
                _ => new Reply(WsOutbound.Session("cancel_agent_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["agent"] = null })),
            };
        }, failure: _ => Reply.None);
    }

    private void OnCloseItems(string requestId, RequestReader request)
    {
        var agentIds = Ids((request.OptionalArray("agentIds") ?? []).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException("agentIds must be strings")));
        var terminalIds = Ids((request.OptionalArray("terminalIds") ?? []).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException("terminalIds must be strings")));
        var asks = agentIds.Select(id => _agents.Ask<object>(new ToAgent(id, Archive.Instance), AskTimeout)).ToList();
        // Terminals are killed as kill_terminal does (success whether or not it existed); without a terminal service, none is.
        var terminalsService = _workspaceRefs?.Terminals;
        var kills = terminalIds.Select(id => terminalsService is null ? Task.FromResult(false)
            : terminalsService.Ask<Paseo.Actors.Terminals.TerminalProtocol.Killed>(new Paseo.Actors.Terminals.TerminalProtocol.KillTerminal(id), AskTimeout)
                .ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default)).ToList();
        var work = Task.WhenAll(Task.WhenAll(asks.Select(a => a.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default))), Task.WhenAll(kills));
        Counted(work.ContinueWith(_ => (Agents: asks.Select(a => a.IsCompletedSuccessfully ? a.Result : null).ToList(), Killed: kills.Select(k => k.Result).ToList()), TaskScheduler.Default)).PipeTo(Self, success: answers => new Reply(
            WsOutbound.Session("close_items_response", new JsonObject
            {
                ["agents"] = new JsonArray(answers.Agents.OfType<Archived>().Select(a => (JsonNode)new JsonObject { ["agentId"] = a.AgentId.Value, ["archivedAt"] = IsoTime.Format(a.ArchivedAt) }).ToArray()),
                ["terminals"] = new JsonArray(terminalIds.Select((t, i) => (JsonNode)new JsonObject { ["terminalId"] = t, ["success"] = answers.Killed[i] }).ToArray()),
                ["requestId"] = requestId,
            })), failure: e => new Reply(WsOutbound.RpcError(requestId, "close_items_request", $"Request failed: {e.Message}", "handler_error")));
    }

    private void OnFetchTimeline(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var direction = request.OptionalString("direction");
        if (direction is not null and not ("tail" or "before" or "after")) throw new InvalidRequestException("direction must be tail, before or after");
        TimelineCursor? cursor = null;
        if (request.OptionalObject("cursor") is { } cursorJson)
        {
            var reader = RequestReader.Of(cursorJson);
            var seq = reader.OptionalInt("seq") ?? throw new InvalidRequestException("cursor.seq is required");
            if (seq < 0) throw new InvalidRequestException("cursor.seq must be ≥ 0");
            cursor = new TimelineCursor(reader.RequiredString("epoch"), seq);
        }
        var limit = request.OptionalInt("limit");
        if (limit < 0) throw new InvalidRequestException("limit must be ≥ 0");
        var projection = request.OneOf("projection", ["projected", "canonical"], "projected");
        var query = new TimelineQuery(direction, cursor, limit, projection);
        Counted(_agents.Ask<object>(new ToAgent(agentId, new FetchTimeline(query, _reasoningMergeEnum)), AskTimeout)).PipeTo(Self, success: answer =>
        {
            var payload = new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId };
            if (answer is TimelinePage page)
            {
                payload["agent"] = page.Agent.ToJson();
                foreach (var (key, value) in page.Fields) payload[key] = value?.DeepClone();
                payload["error"] = null;
            }
            else
            {
                payload["agent"] = null;
                payload["direction"] = direction ?? "tail";
                payload["projection"] = projection;
                payload["epoch"] = "";
                payload["reset"] = false;
                payload["staleCursor"] = false;
                payload["gap"] = false;
                payload["window"] = new JsonObject { ["minSeq"] = 0, ["maxSeq"] = 0, ["nextSeq"] = 0 };
                payload["startCursor"] = null;
                payload["endCursor"] = null;
                payload["hasOlder"] = false;
                payload["hasNewer"] = false;
                payload["entries"] = new JsonArray();
                payload["error"] = answer is AgentNotFound notFound ? notFound.Error : "Unexpected answer";
            }
            return new Reply(WsOutbound.Session("fetch_agent_timeline_response", payload));
        }, failure: e => new Reply(WsOutbound.RpcError(requestId, "fetch_agent_timeline_request", $"Request failed: {e.Message}", "handler_error")));
    }

    /// <summary>
    /// wait_for_finish: told to the agent (not asked), with a wait id it answers with — by the timeout when one is given,
    /// when the turn ends, or when a permission is asked — so a wait without a timeout holds no ask and no timer here. It
    /// holds one of max-requests-in-flight until answered. The agent answers every waiter when it stops.
    /// </summary>
    private void OnWaitForFinish(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var timeoutMs = request.OptionalInt("timeoutMs");
        if (timeoutMs is <= 0) throw new InvalidRequestException("timeoutMs must be > 0");
        TimeSpan? timeout = timeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;
        var waitId = ++_nextWait;
        _waits[waitId] = (requestId, null);
        _inFlight++;
        _agents.Tell(new ToAgent(agentId, new WaitForFinish(timeout, waitId)));
    }

    private void AnswerWait(long waitId, Func<string, string> response)
    {
        if (!_waits.Remove(waitId, out var wait)) return;
        _inFlight--;
        if (wait.Agent is { } agent && _waits.Values.All(w => !agent.Equals(w.Agent))) Context.Unwatch(agent);
        Broadcast(response(wait.RequestId));
    }

    private static string WaitError(string requestId, string error) => WsOutbound.Session("wait_for_finish_response", new JsonObject
    {
        ["requestId"] = requestId, ["status"] = "error", ["final"] = null, ["error"] = error, ["lastMessage"] = null,
    });

    private void OnPermissionResponse(RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var permissionId = request.RequiredString("requestId");
        var response = request.OptionalObject("response") ?? throw new InvalidRequestException("response is required");
        ValidateResolution(response);
        Counted(_agents.Ask<object>(new ToAgent(agentId, new RespondToPermission(permissionId, (JsonObject)response.DeepClone())), AskTimeout)).PipeTo(Self, success: answer => answer switch
        {
            CommandResult { Accepted: true } => Reply.None,
            CommandResult result => new Reply(WsOutbound.RpcError(permissionId, "agent_permission_response", $"Request failed: {result.Error}", "handler_error")),
            AgentNotFound notFound => new Reply(WsOutbound.RpcError(permissionId, "agent_permission_response", $"Request failed: {notFound.Error}", "handler_error")),
            _ => Reply.None,
        }, failure: e => new Reply(WsOutbound.RpcError(permissionId, "agent_permission_response", $"Request failed: {e.Message}", "handler_error")));
    }

    /// <summary>Allow ‖ Deny (app-schemas.md §E.2): the resolution is echoed to every client, so a bad one is refused here.</summary>
    private static void ValidateResolution(JsonObject response)
    {
        var reader = RequestReader.Of(response);
        var behavior = reader.OneOf("behavior", ["allow", "deny"], "");
        if (behavior.Length == 0) throw new InvalidRequestException("response.behavior must be allow or deny");
        reader.OptionalString("selectedActionId");
        if (behavior == "allow")
        {
            reader.OptionalObject("updatedInput");
            if (reader.OptionalArray("updatedPermissions") is { } permissions && permissions.Any(p => p is not JsonObject))
                throw new InvalidRequestException("response.updatedPermissions must be objects");
        }
        else
        {
            reader.OptionalString("message");
            reader.OptionalBool("interrupt");
        }
    }

    private void OnClearAttention(string? requestId, RequestReader request)
    {
        var raw = request.Message["agentId"];
        List<string> ids = raw switch
        {
            JsonValue v when v.TryGetValue<string>(out var one) => [one],
            JsonArray many => Ids(many.Select(n => n is JsonValue mv && mv.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException("agentId must be strings"))),
            _ => throw new InvalidRequestException("agentId must be a string or an array of strings"),
        };
        var echo = raw!.DeepClone();
        var asks = ids.Select(id => _agents.Ask<object>(new ToAgent(id, ClearAttention.Instance), AskTimeout)).ToList();
        Counted(Task.WhenAll(asks)).PipeTo(Self, success: answers => requestId is null || answers.Any(a => a is not AgentSnapshot) ? Reply.None : new Reply(
            WsOutbound.Session("clear_agent_attention_response", new JsonObject
            {
                ["requestId"] = requestId,
                ["agentId"] = echo,
                ["agents"] = new JsonArray(answers.OfType<AgentSnapshot>().Select(a => (JsonNode)a.ToJson()).ToArray()),
            })), failure: _ => Reply.None);
    }

    /// <summary>The ids a request names, each once; at most paseo.sessions.max-ids-per-request of them (one ask each).</summary>
    private List<string> Ids(IEnumerable<string> ids)
    {
        var distinct = ids.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count <= _settings.MaxIdsPerRequest ? distinct
            : throw new RequestLimitException(TooManyIdsCode, $"Too many ids: at most {_settings.MaxIdsPerRequest} per request (paseo.sessions.max-ids-per-request)");
    }

    /// <summary>Sends a command to an agent and answers with <paramref name="build"/>; a missing agent becomes an rpc_error.</summary>
    private void AskAgent(string agentId, IAgentCommand command, string requestId, string requestType, Func<object, string, string?> build)
    {
        Counted(_agents.Ask<object>(new ToAgent(agentId, command), AskTimeout)).PipeTo(Self, success: answer =>
            build(answer, requestId) is { } json
                ? new Reply(json)
                : new Reply(WsOutbound.RpcError(requestId, requestType, $"Request failed: {(answer as AgentNotFound)?.Error ?? "unexpected answer"}", "handler_error")),
            failure: e => new Reply(WsOutbound.RpcError(requestId, requestType, $"Request failed: {e.Message}", "handler_error")));
    }

    /// <summary>The set_*/update replies: `{requestId, agentId, accepted, error}` under payload.</summary>
    private void AskCommand(string agentId, IAgentCommand command, string requestId, string responseType)
    {
        Counted(_agents.Ask<object>(new ToAgent(agentId, command), AskTimeout)).PipeTo(Self, success: answer => new Reply(answer switch
        {
            CommandResult result => WsOutbound.Session(responseType, new JsonObject { ["requestId"] = requestId, ["agentId"] = result.AgentId.Value, ["accepted"] = result.Accepted, ["error"] = result.Error }),
            AgentNotFound notFound => WsOutbound.Session(responseType, new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = false, ["error"] = notFound.Error }),
            _ => WsOutbound.Session(responseType, new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = false, ["error"] = "Unexpected answer" }),
        }), failure: e => new Reply(WsOutbound.Session(responseType, new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = false, ["error"] = e.Message })));
    }

    internal static JsonObject ProviderEntry(IAgentProvider provider)
    {
        var d = provider.Description;
        // Checked once at start-up, off the actor's thread: "loading" until `<cli> --version` has answered.
        var availability = provider.Availability.Current is { IsCompletedSuccessfully: true } probe ? probe.Result : null;
        var entry = new JsonObject
        {
            ["provider"] = d.Id,
            ["status"] = availability?.Status ?? "loading",
            ["enabled"] = availability?.Error != ProviderAvailability.Disabled.Error,
            ["models"] = new JsonArray(d.Models.Select(m => (JsonNode)m.DeepClone()).ToArray()),
            ["modes"] = new JsonArray(d.Modes.Select(m => (JsonNode)m.ToJson()).ToArray()),
            ["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow),
            ["label"] = d.Label,
            ["description"] = d.Description,
            ["defaultModeId"] = d.DefaultModeId,
        };
        if (availability?.Error is { } error) entry["error"] = error;
        // Beyond Paseo's shape (clients drop unknown keys): what `<cli> --version` said, for `paseo provider ls`.
        if (availability?.Version is { } version) entry["version"] = version;
        return entry;
    }

    /// <summary>A request handed to a child that answers it once (<see cref="SessionWorkspacesActor.Answered"/>): it holds one of max-requests-in-flight until then.</summary>
    private void Counted(IActorRef child, object request)
    {
        _inFlight++;
        child.Tell(request);
    }

    /// <summary>A request's asynchronous part: it holds one of max-requests-in-flight until its <see cref="Reply"/> (or ProvidersChecked) arrives.</summary>
    private Task<T> Counted<T>(Task<T> work)
    {
        _inFlight++;
        return work;
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

    /// <summary>A reply computed off the actor's thread; <see cref="FlushAfter"/> releases buffered agent_update pushes after it.</summary>
    private sealed record ProvidersChecked(string RequestId);

    /// <summary>
    /// list_provider_models: what the provider says (OpenCode asks its server, off this thread, starting it if needed),
    /// bounded by paseo.sessions.list-models-timeout (Paseo's clients wait 45 s); when it cannot say, the configured models
    /// with the reason.
    /// </summary>
    private void OnListModels(string requestId, string providerId, string? cwd)
    {
        static string Response(string requestId, string providerId, IEnumerable<JsonObject>? models, string? error)
        {
            var payload = new JsonObject { ["provider"] = providerId };
            if (models is not null) payload["models"] = new JsonArray([.. models.Select(m => (JsonNode)m.DeepClone())]); // `models?`: absent, not null
            payload["error"] = error;
            payload["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow);
            payload["requestId"] = requestId;
            return WsOutbound.Session("list_provider_models_response", payload);
        }
        if (!_providers.TryGetValue(providerId, out var provider))
        {
            Broadcast(Response(requestId, providerId, null, $"Unknown provider: {providerId}"));
            return;
        }
        // The token stops the listing itself (e.g. a short-lived CLI that does not answer), not only the wait for it.
        var limit = _settings.ModelListTimeout;
        var timeout = new CancellationTokenSource(limit);
        Counted(provider.ListModelsAsync(cwd, Context.System, timeout.Token).WaitAsync(limit)
            .ContinueWith(t => { timeout.Dispose(); return t; }, TaskScheduler.Default).Unwrap()).PipeTo(Self,
            success: models => new Reply(Response(requestId, providerId, models, null)),
            failure: e => new Reply(Response(requestId, providerId, provider.Description.Models,
                $"{providerId}: could not list its models ({e.GetBaseException().Message}); the known ones instead")));
    }

    private sealed record Reply(string? Json, bool FlushAfter = false) : INoSerializationVerificationNeeded
    {
        public static readonly Reply None = new((string?)null);
    }

    private sealed record GraceOver : INoSerializationVerificationNeeded
    {
        public static readonly GraceOver Instance = new();
    }
}
