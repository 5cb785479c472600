using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Host.Tests.Support;

/// <summary>
/// The client-side validation rules of app-schemas.md, written from the spec (not from our DTOs): a frame that breaks
/// one of them is dropped whole by Paseo's clients, so these assertions are what "compatible" means.
/// </summary>
public static class WireShapes
{
    private const string IsoPattern = @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$";
    private static readonly string[] Statuses = ["initializing", "idle", "running", "error", "closed"];

    public static void Snapshot(JsonNode? node)
    {
        var agent = Assert.IsType<JsonObject>(node);
        foreach (var key in new[] { "id", "provider", "cwd", "createdAt", "updatedAt", "status" })
            Assert.Equal(JsonValueKind.String, Kind(agent, key));
        foreach (var key in new[] { "model", "lastUserMessageAt", "currentModeId", "persistence", "title" })
            Assert.True(agent.ContainsKey(key), $"snapshot key {key} must be present (null allowed)");
        Assert.Matches(IsoPattern, agent["createdAt"]!.GetValue<string>());
        Assert.Matches(IsoPattern, agent["updatedAt"]!.GetValue<string>());
        if (agent["lastUserMessageAt"] is { } lastUser) Assert.Matches(IsoPattern, lastUser.GetValue<string>());
        Assert.Contains(agent["status"]!.GetValue<string>(), Statuses);
        var caps = Assert.IsType<JsonObject>(agent["capabilities"]);
        foreach (var flag in new[] { "supportsStreaming", "supportsSessionPersistence", "supportsDynamicModes", "supportsMcpServers", "supportsReasoningStream", "supportsToolInvocations" })
            Assert.True(Kind(caps, flag) is JsonValueKind.True or JsonValueKind.False, $"capabilities.{flag} must be a boolean");
        foreach (var mode in Assert.IsType<JsonArray>(agent["availableModes"]))
        {
            Assert.Equal(JsonValueKind.String, Kind((JsonObject)mode!, "id"));
            Assert.Equal(JsonValueKind.String, Kind((JsonObject)mode!, "label"));
        }
        foreach (var permission in Assert.IsType<JsonArray>(agent["pendingPermissions"])) PermissionRequest(permission);
        // Optional keys that are not nullable: absent, never null.
        foreach (var key in new[] { "features", "runtimeInfo", "lastUsage", "lastError", "labels", "requiresAttention", "providerUnavailable" })
            Assert.False(agent.ContainsKey(key) && agent[key] is null, $"snapshot key {key} must be absent rather than null");
        if (agent["labels"] is JsonObject labels) foreach (var (_, v) in labels) Assert.Equal(JsonValueKind.String, v!.GetValueKind());
        if (agent["runtimeInfo"] is JsonObject runtime) Assert.True(runtime.ContainsKey("sessionId"), "runtimeInfo.sessionId is required");
        if (agent["persistence"] is JsonObject persistence)
        {
            Assert.Equal(JsonValueKind.String, Kind(persistence, "provider"));
            Assert.Equal(JsonValueKind.String, Kind(persistence, "sessionId"));
        }
        if (agent["attentionReason"] is { } reason) Assert.Contains(reason.GetValue<string>(), new[] { "finished", "error", "permission" });
        if (agent["archivedAt"] is { } archived) Assert.Matches(IsoPattern, archived.GetValue<string>());
    }

    /// <summary>ProjectPlacementPayload (app-schemas.md §C.2): NotGit ‖ GitPlain ‖ GitPaseoWorktree.</summary>
    public static void Placement(JsonNode? node)
    {
        var placement = Assert.IsType<JsonObject>(node);
        Assert.Equal(JsonValueKind.String, Kind(placement, "projectKey"));
        Assert.Equal(JsonValueKind.String, Kind(placement, "projectName"));
        var checkout = Assert.IsType<JsonObject>(placement["checkout"]);
        Assert.Equal(JsonValueKind.String, Kind(checkout, "cwd"));
        foreach (var key in new[] { "currentBranch", "remoteUrl" }) Assert.True(checkout.ContainsKey(key), $"checkout.{key} must be present");
        if (!checkout["isGit"]!.GetValue<bool>())
        {
            foreach (var key in new[] { "currentBranch", "remoteUrl", "mainRepoRoot" })
            {
                Assert.True(checkout.ContainsKey(key), $"checkout.{key} must be present");
                Assert.Null(checkout[key]);
            }
            Assert.Null(checkout["worktreeRoot"]);
            Assert.False(checkout["isPaseoOwnedWorktree"]!.GetValue<bool>());
            return;
        }
        Assert.True(Kind(checkout, "currentBranch") is JsonValueKind.String or JsonValueKind.Null);
        Assert.True(Kind(checkout, "remoteUrl") is JsonValueKind.String or JsonValueKind.Null);
        if (checkout.ContainsKey("worktreeRoot")) Assert.Equal(JsonValueKind.String, Kind(checkout, "worktreeRoot"));
        if (checkout["isPaseoOwnedWorktree"]!.GetValue<bool>()) Assert.Equal(JsonValueKind.String, Kind(checkout, "mainRepoRoot"));
        else Assert.True(!checkout.ContainsKey("mainRepoRoot") || Kind(checkout, "mainRepoRoot") is JsonValueKind.String or JsonValueKind.Null);
    }

    /// <summary>The Workspace descriptor (app-workspaces.md §2.4), with the mistakes §8 lists as dropping the frame.</summary>
    public static void Workspace(JsonNode? node)
    {
        var w = Assert.IsType<JsonObject>(node);
        foreach (var key in new[] { "id", "projectId", "projectDisplayName", "projectRootPath", "name" }) Assert.Equal(JsonValueKind.String, Kind(w, key));
        if (w.ContainsKey("workspaceDirectory")) Assert.Equal(JsonValueKind.String, Kind(w, "workspaceDirectory"));
        Assert.Contains(w["projectKind"]!.GetValue<string>(), new[] { "git", "non_git", "directory" });
        Assert.Contains(w["workspaceKind"]!.GetValue<string>(), new[] { "directory", "local_checkout", "checkout", "worktree" });
        Assert.Contains(w["status"]!.GetValue<string>(), new[] { "needs_input", "failed", "running", "attention", "done" });
        Assert.True(w.ContainsKey("activityAt"), "activityAt is required (null allowed)");
        if (w["activityAt"] is { } activity) Assert.Matches(IsoPattern, activity.GetValue<string>());
        if (w["archivingAt"] is { } archiving) Assert.Matches(IsoPattern, archiving.GetValue<string>());
        if (w["diffStat"] is JsonObject diff) { Assert.Equal(JsonValueKind.Number, Kind(diff, "additions")); Assert.Equal(JsonValueKind.Number, Kind(diff, "deletions")); }
        foreach (var script in w["scripts"]?.AsArray() ?? [])
        {
            var sc = Assert.IsType<JsonObject>(script);
            Assert.True(sc.ContainsKey("port") && sc.ContainsKey("health"), "a script needs port and health");
            if (sc["port"] is { } port) Assert.True(port.GetValue<long>() > 0);
        }
        if (w.ContainsKey("project")) Placement(w["project"]);
        if (w["gitRuntime"] is JsonObject runtime && runtime["aheadBehind"] is JsonObject ab) { Assert.Equal(JsonValueKind.Number, Kind(ab, "ahead")); Assert.Equal(JsonValueKind.Number, Kind(ab, "behind")); }
    }

    /// <summary>CheckoutStatus (app-workspaces.md §3.2): NotGit ‖ GitPlain ‖ GitPaseo, every key present.</summary>
    public static void CheckoutStatus(JsonNode? node)
    {
        var s = Assert.IsType<JsonObject>(node);
        Assert.Equal(JsonValueKind.String, Kind(s, "cwd"));
        Assert.Equal(JsonValueKind.String, Kind(s, "requestId"));
        Assert.True(s.ContainsKey("error"), "error is required (null allowed)");
        if (s["error"] is JsonObject error) Assert.Contains(error["code"]!.GetValue<string>(), new[] { "NOT_GIT_REPO", "NOT_ALLOWED", "MERGE_CONFLICT", "UNKNOWN" });
        foreach (var key in new[] { "isGit", "isPaseoOwnedWorktree", "repoRoot", "currentBranch", "isDirty", "baseRef", "aheadBehind", "aheadOfOrigin", "behindOfOrigin", "hasRemote", "remoteUrl" })
            Assert.True(s.ContainsKey(key), $"checkout status key {key} is required");
        if (!s["isGit"]!.GetValue<bool>())
        {
            Assert.False(s["isPaseoOwnedWorktree"]!.GetValue<bool>());
            foreach (var key in new[] { "repoRoot", "currentBranch", "isDirty", "baseRef", "aheadBehind", "aheadOfOrigin", "behindOfOrigin", "remoteUrl" }) Assert.Null(s[key]);
            return;
        }
        Assert.Equal(JsonValueKind.String, Kind(s, "repoRoot"));
        Assert.True(Kind(s, "isDirty") is JsonValueKind.True or JsonValueKind.False);
        if (s["isPaseoOwnedWorktree"]!.GetValue<bool>())
        {
            Assert.Equal(JsonValueKind.String, Kind(s, "baseRef"));
            Assert.Equal(JsonValueKind.String, Kind(s, "mainRepoRoot"));
        }
    }

    public static void PageInfo(JsonNode? node)
    {
        var page = Assert.IsType<JsonObject>(node);
        foreach (var key in new[] { "nextCursor", "prevCursor", "hasMore" }) Assert.True(page.ContainsKey(key), $"pageInfo.{key} is required");
    }

    public static void PermissionRequest(JsonNode? node)
    {
        var request = Assert.IsType<JsonObject>(node);
        foreach (var key in new[] { "id", "provider", "name" }) Assert.Equal(JsonValueKind.String, Kind(request, key));
        Assert.Contains(request["kind"]!.GetValue<string>(), new[] { "tool", "plan", "question", "mode", "other" });
    }

    public static void TimelineItem(JsonNode? node)
    {
        var item = Assert.IsType<JsonObject>(node);
        var type = item["type"]!.GetValue<string>();
        switch (type)
        {
            case "user_message" or "assistant_message" or "reasoning":
                Assert.Equal(JsonValueKind.String, Kind(item, "text"));
                break;
            case "error":
                Assert.Equal(JsonValueKind.String, Kind(item, "message"));
                break;
            case "tool_call":
                // STRICT: these 7 keys only; error present, non-null exactly when failed.
                Assert.Empty(item.Select(p => p.Key).Except(["type", "callId", "name", "detail", "metadata", "status", "error"]));
                Assert.True(item.ContainsKey("error"), "tool_call.error must be present");
                var status = item["status"]!.GetValue<string>();
                Assert.Contains(status, new[] { "running", "completed", "failed", "canceled" });
                Assert.Equal(status == "failed", item["error"] is not null);
                Assert.Contains(item["detail"]!["type"]!.GetValue<string>(), new[] { "shell", "read", "edit", "write", "search", "fetch", "sub_agent", "plain_text", "plan", "worktree_setup", "unknown" });
                break;
            default:
                Assert.Contains(type, new[] { "todo", "compaction" });
                break;
        }
    }

    public static void StreamPayload(JsonObject payload)
    {
        Assert.Equal(JsonValueKind.String, Kind(payload, "agentId"));
        Assert.Matches(IsoPattern, payload["timestamp"]!.GetValue<string>());
        var streamEvent = Assert.IsType<JsonObject>(payload["event"]);
        var type = streamEvent["type"]!.GetValue<string>();
        Assert.Contains(type, new[] { "thread_started", "turn_started", "turn_completed", "turn_failed", "turn_canceled", "timeline", "permission_requested", "permission_resolved", "attention_required" });
        Assert.Equal(JsonValueKind.String, Kind(streamEvent, "provider"));
        if (type == "timeline")
        {
            TimelineItem(streamEvent["item"]);
            Assert.True(payload["seq"]!.GetValue<long>() >= 1);
            Assert.Equal(JsonValueKind.String, Kind(payload, "epoch"));
        }
        else
        {
            Assert.False(payload.ContainsKey("seq") || payload.ContainsKey("epoch"), "only timeline events carry seq and epoch");
        }
        if (type == "turn_canceled") Assert.Equal(JsonValueKind.String, Kind(streamEvent, "reason"));
        if (type == "turn_failed") Assert.Equal(JsonValueKind.String, Kind(streamEvent, "error"));
        if (type == "thread_started") Assert.Equal(JsonValueKind.String, Kind(streamEvent, "sessionId"));
        if (type == "permission_resolved")
        {
            Assert.Equal(JsonValueKind.String, Kind(streamEvent, "requestId"));
            Assert.Contains(streamEvent["resolution"]!["behavior"]!.GetValue<string>(), new[] { "allow", "deny" });
        }
        if (type == "attention_required") Assert.True(Kind(streamEvent, "shouldNotify") is JsonValueKind.True or JsonValueKind.False);
        if (type == "permission_requested") PermissionRequest(streamEvent["request"]);
    }

    private static JsonValueKind? Kind(JsonObject obj, string key) => obj.ContainsKey(key) ? obj[key]?.GetValueKind() ?? JsonValueKind.Null : null;
}
