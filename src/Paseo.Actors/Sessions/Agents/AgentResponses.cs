using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Workspaces;
using Paseo.Actors.Agents;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Sessions.Agents;

/// <summary>
/// The wire shapes of the answers to agent requests (app-schemas.md §F), each built from the request record and the
/// agents' immutable answer: pure functions, so they may run on the thread a PipeTo continuation runs on.
/// </summary>
internal static class AgentResponses
{
    /// <summary>A create that failed with one of the codes of app-workspaces.md §4.4 (a worktree that could not be made).</summary>
    public sealed record CreateFailedWithCode(string Error, string Code);

    public static string Removed(string agentId) => WsOutbound.Session("agent_update", new JsonObject { ["kind"] = "remove", ["agentId"] = agentId });

    public static string AgentsPage(FetchAgentsRequest fetch, IReadOnlyList<AgentSnapshot> agents, WorkspaceRegistry placements, int offset, string sortKey, string? subscriptionId)
    {
        var matching = AgentListing.Sort(agents.Where(a => fetch.Filter.Matches(a, placements)), fetch.Sort).ToList();
        var pageItems = matching.Skip(offset).Take(fetch.Limit).ToList();
        var hasMore = offset + pageItems.Count < matching.Count;
        var payload = new JsonObject { ["requestId"] = fetch.Id };
        if (subscriptionId is not null) payload["subscriptionId"] = subscriptionId;
        payload["entries"] = new JsonArray([.. pageItems.Select(a => (JsonNode)new JsonObject { ["agent"] = a.ToJson(), ["project"] = placements.PlacementFor(a.Cwd) })]);
        payload["pageInfo"] = new JsonObject
        {
            ["nextCursor"] = hasMore ? AgentListing.WriteCursor(sortKey, offset + pageItems.Count) : null,
            ["prevCursor"] = fetch.Cursor,
            ["hasMore"] = hasMore,
        };
        return WsOutbound.Session(fetch.History ? "fetch_agent_history_response" : "fetch_agents_response", payload);
    }

    public static string FetchAgent(FetchAgentRequest fetch, object answer, WorkspaceRegistry placements) => answer switch
    {
        AgentSnapshot agent => WsOutbound.Session("fetch_agent_response", new JsonObject
        {
            ["requestId"] = fetch.Id, ["agent"] = agent.ToJson(), ["project"] = placements.PlacementFor(agent.Cwd), ["error"] = null,
        }),
        AgentNotFound notFound => WsOutbound.Session("fetch_agent_response", new JsonObject
        {
            ["requestId"] = fetch.Id, ["agent"] = null, ["project"] = null, ["error"] = notFound.Error,
        }),
        _ => WsOutbound.RpcError(fetch.Id, fetch.Type, "Request failed: unexpected answer", "handler_error"),
    };

    /// <summary>
    /// refresh_agent: status agent_refreshed. Paseo answers a failure with an activity_log only (the app waits 15 s);
    /// Paseo.NET answers rpc_error with the reason, which the app shows at once.
    /// </summary>
    public static string Refreshed(RefreshAgentRequest refresh, object answer) => answer switch
    {
        AgentRefreshed refreshed => WsOutbound.Status(new JsonObject
        {
            ["status"] = "agent_refreshed", ["agentId"] = refreshed.Agent.Id, ["requestId"] = refresh.Id, ["timelineSize"] = refreshed.TimelineSize,
        }),
        CommandResult result => WsOutbound.RpcError(refresh.Id, refresh.Type, result.Error ?? "Refresh failed", "refresh_agent_failed"),
        AgentNotFound notFound => WsOutbound.RpcError(refresh.Id, refresh.Type, notFound.Error, "refresh_agent_failed"),
        _ => WsOutbound.RpcError(refresh.Id, refresh.Type, "Unexpected answer", "refresh_agent_failed"),
    };

    public static string CreateFailed(string requestId, string error) =>
        WsOutbound.Status(new JsonObject { ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = error });

    /// <summary>resume_agent / import_agent: status agent_resumed, or agent_create_failed with the reason.</summary>
    public static string Resumed(string requestId, object answer) => answer switch
    {
        AgentRefreshed resumed => WsOutbound.Status(new JsonObject
        {
            ["status"] = "agent_resumed", ["agentId"] = resumed.Agent.Id, ["requestId"] = requestId, ["agent"] = resumed.Agent.ToJson(), ["timelineSize"] = resumed.TimelineSize,
        }),
        AgentCreateFailed failed => CreateFailed(requestId, failed.Error),
        CommandResult result => CreateFailed(requestId, result.Error ?? "Resume failed"),
        _ => CreateFailed(requestId, "Unexpected answer"),
    };

    public static string Created(string requestId, object answer) => answer switch
    {
        AgentCreated created => WsOutbound.Status(new JsonObject
        {
            ["status"] = "agent_created", ["agentId"] = created.Agent.Id, ["requestId"] = requestId, ["agent"] = created.Agent.ToJson(),
        }),
        AgentCreateFailed failed => CreateFailed(requestId, failed.Error),
        CreateFailedWithCode failed => WsOutbound.Status(new JsonObject
        {
            ["status"] = "agent_create_failed", ["requestId"] = requestId, ["error"] = failed.Error, ["errorCode"] = failed.Code,
        }),
        _ => CreateFailed(requestId, "Unexpected answer"),
    };

    /// <summary>
    /// list_commands: no provider here reports its slash commands yet (the spec names no source for them beyond ACP's
    /// available_commands_update, which our ACP stand-ins do not send), so the answer is always Paseo's words for that.
    /// </summary>
    public static string Commands(ListCommandsRequest list, string error) => WsOutbound.Session("list_commands_response", new JsonObject
    {
        ["agentId"] = list.AgentId, ["commands"] = new JsonArray(), ["error"] = error, ["requestId"] = list.Id,
    });

    public static string Sent(SendAgentMessageRequest send, object answer) => answer switch
    {
        MessageAccepted accepted => Sent(send.Id, accepted.AgentId.Value, true, null),
        CommandResult result => Sent(send.Id, result.AgentId.Value, result.Accepted, result.Error),
        AgentNotFound notFound => Sent(send.Id, send.AgentId, false, notFound.Error),
        _ => Sent(send.Id, send.AgentId, false, "Unexpected answer"),
    };

    public static string Sent(string requestId, string agentId, bool accepted, string? error) =>
        WsOutbound.Session("send_agent_message_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = accepted, ["error"] = error });

    public static string Archived(ArchiveAgentRequest archive, object answer) => answer is AgentProtocol.Archived archived
        ? WsOutbound.Session("agent_archived", new JsonObject { ["agentId"] = archived.AgentId.Value, ["archivedAt"] = IsoTime.Format(archived.ArchivedAt), ["requestId"] = archive.Id })
        : NotDone(archive, answer);

    public static string Deleted(DeleteAgentRequest delete, object answer) => answer is AgentProtocol.Deleted deleted
        ? WsOutbound.Session("agent_deleted", new JsonObject { ["agentId"] = deleted.AgentId.Value, ["requestId"] = delete.Id })
        : NotDone(delete, answer);

    private static string NotDone(AgentRequest request, object answer) =>
        WsOutbound.RpcError(request.RequestId!, request.Type, $"Request failed: {(answer as AgentNotFound)?.Error ?? "unexpected answer"}", "handler_error");

    public static string ItemsClosed(CloseItemsRequest close, IEnumerable<AgentProtocol.Archived> archived, IReadOnlyList<bool> killed) =>
        WsOutbound.Session("close_items_response", new JsonObject
        {
            ["agents"] = new JsonArray([.. archived.Select(a => (JsonNode)new JsonObject { ["agentId"] = a.AgentId.Value, ["archivedAt"] = IsoTime.Format(a.ArchivedAt) })]),
            ["terminals"] = new JsonArray([.. close.TerminalIds.Select((t, i) => (JsonNode)new JsonObject { ["terminalId"] = t, ["success"] = killed[i] })]),
            ["requestId"] = close.Id,
        });

    public static string Timeline(FetchAgentTimelineRequest fetch, object answer)
    {
        var payload = new JsonObject { ["requestId"] = fetch.Id, ["agentId"] = fetch.AgentId };
        if (answer is TimelinePage page)
        {
            payload["agent"] = page.Agent.ToJson();
            foreach (var (key, value) in page.Fields) payload[key] = value?.DeepClone();
            payload["error"] = null;
        }
        else
        {
            // No such agent: the full shape with an empty window, so a client reads it like any page.
            payload["agent"] = null;
            payload["direction"] = fetch.Query.Direction ?? "tail";
            payload["projection"] = fetch.Query.Projection;
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
        return WsOutbound.Session("fetch_agent_timeline_response", payload);
    }

    public static string WaitFinished(string requestId, FinishResult result) => WsOutbound.Session("wait_for_finish_response", new JsonObject
    {
        ["requestId"] = requestId, ["status"] = result.Status, ["final"] = result.Final.ToJson(), ["error"] = result.Error, ["lastMessage"] = result.LastMessage,
    });

    public static string WaitError(string requestId, string error) => WsOutbound.Session("wait_for_finish_response", new JsonObject
    {
        ["requestId"] = requestId, ["status"] = "error", ["final"] = null, ["error"] = error, ["lastMessage"] = null,
    });

    /// <summary>The set_*/update replies: `{requestId, agentId, accepted, error}` under payload.</summary>
    public static string CommandAnswered(string responseType, string requestId, string agentId, object answer) => answer switch
    {
        CommandResult result => CommandReply(responseType, requestId, result.AgentId.Value, result.Accepted, result.Error),
        AgentNotFound notFound => CommandReply(responseType, requestId, agentId, false, notFound.Error),
        _ => CommandReply(responseType, requestId, agentId, false, "Unexpected answer"),
    };

    public static string CommandReply(string responseType, string requestId, string agentId, bool accepted, string? error) =>
        WsOutbound.Session(responseType, new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["accepted"] = accepted, ["error"] = error });

    public static string FeatureRefused(SetAgentFeatureRequest feature) => WsOutbound.Session("set_agent_feature_response", new JsonObject
    {
        ["requestId"] = feature.Id, ["agentId"] = feature.AgentId, ["accepted"] = false, ["error"] = "Agent features are not supported by Paseo.NET",
    });

    /// <summary>An accepted resolution is echoed to every client by the agent (agent_permission_resolved); only a refusal is answered here.</summary>
    public static string? PermissionAnswered(AgentPermissionResponse permission, object answer) => answer switch
    {
        CommandResult { Accepted: true } => null,
        CommandResult result => WsOutbound.RpcError(permission.PermissionId, permission.Type, $"Request failed: {result.Error}", "handler_error"),
        AgentNotFound notFound => WsOutbound.RpcError(permission.PermissionId, permission.Type, $"Request failed: {notFound.Error}", "handler_error"),
        _ => null,
    };

    public static string Canceled(string requestId, string agentId, object answer) => answer switch
    {
        AgentSnapshot agent => WsOutbound.Session("cancel_agent_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agent.Id, ["agent"] = agent.ToJson() }),
        _ => WsOutbound.Session("cancel_agent_response", new JsonObject { ["requestId"] = requestId, ["agentId"] = agentId, ["agent"] = null }),
    };

    public static string AttentionCleared(string requestId, JsonElement echo, IEnumerable<AgentSnapshot> agents) =>
        WsOutbound.Session("clear_agent_attention_response", new JsonObject
        {
            ["requestId"] = requestId,
            ["agentId"] = JsonSerializer.SerializeToNode(echo),
            ["agents"] = new JsonArray([.. agents.Select(a => (JsonNode)a.ToJson())]),
        });
}
