using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Git;

namespace Paseo.Transport.Protocol.Requests;

/// <summary>
/// One session request about agents (app-schemas.md §F), read and checked: what the session's agent handler acts on.
/// Every record is immutable, so it may cross actors; <see cref="AgentRequests.Parse"/> is the one place that knows
/// each wire shape.
/// </summary>
public abstract record AgentRequest(string Type, string? RequestId);

/// <summary>fetch_agents_request, or fetch_agent_history_request (<paramref name="History"/>: archived included unless the filter says otherwise, no subscription).</summary>
public sealed record FetchAgentsRequest(string Id, bool History, AgentFilter Filter, IReadOnlyList<AgentSort> Sort, int Limit, string? Cursor, bool Subscribe,
    string? SubscriptionId) : AgentRequest(History ? "fetch_agent_history_request" : "fetch_agents_request", Id);

/// <summary>One `sort` entry of fetch_agents_request: key status_priority, created_at, updated_at or title; direction asc or desc.</summary>
public sealed record AgentSort(string Key, string Direction);

public sealed record FetchAgentRequest(string Id, string AgentId) : AgentRequest("fetch_agent_request", Id);

public sealed record RefreshAgentRequest(string Id, string AgentId) : AgentRequest("refresh_agent_request", Id);

/// <summary>
/// resume_agent_request (its `handle`) or import_agent_request (`provider`, `sessionId`): the provider session to take up.
/// A resume whose handle is null has no <paramref name="Provider"/>: it is answered agent_create_failed.
/// </summary>
public sealed record ResumeAgentRequest(string Kind, string Id, string? Provider, string? SessionId, string? Cwd, IReadOnlyDictionary<string, string>? Labels)
    : AgentRequest(Kind, Id);

public sealed record ListCommandsRequest(string Id, string AgentId, bool HasDraftConfig) : AgentRequest("list_commands_request", Id);

/// <summary>
/// create_agent_request. <paramref name="Problem"/> is a well-formed request the daemon cannot take (an image of a type
/// CLIs do not read, a bad branch name): answered agent_create_failed with it, not as an unknown schema.
/// </summary>
public sealed record CreateAgentRequest(string Id, string Provider, string Cwd, string? ModeId, string? Model, string? ThinkingOptionId, string? Title, string? SystemPrompt,
    string? InitialPrompt, string? ClientMessageId, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<PromptImage>? Images, string? WorkspaceId, GitIntent Git,
    string? Problem) : AgentRequest("create_agent_request", Id);

/// <summary>send_agent_message_request; <paramref name="Problem"/> as for create (an image it cannot take).</summary>
public sealed record SendAgentMessageRequest(string Id, string AgentId, string Text, string? MessageId, IReadOnlyList<PromptImage>? Images, string? Problem)
    : AgentRequest("send_agent_message_request", Id);

public sealed record ArchiveAgentRequest(string Id, string AgentId) : AgentRequest("archive_agent_request", Id);

public sealed record DeleteAgentRequest(string Id, string AgentId) : AgentRequest("delete_agent_request", Id);

/// <summary>close_items_request: agents archived, terminals killed; each id once.</summary>
public sealed record CloseItemsRequest(string Id, IReadOnlyList<string> AgentIds, IReadOnlyList<string> TerminalIds) : AgentRequest("close_items_request", Id);

public sealed record FetchAgentTimelineRequest(string Id, string AgentId, TimelineQuery Query) : AgentRequest("fetch_agent_timeline_request", Id);

/// <summary>wait_for_finish_request: answered when the turn ends, a permission is asked, or the timeout passes (none: no timeout).</summary>
public sealed record WaitForFinishRequest(string Id, string AgentId, TimeSpan? Timeout) : AgentRequest("wait_for_finish_request", Id);

public sealed record SetAgentModeRequest(string Id, string AgentId, string ModeId) : AgentRequest("set_agent_mode_request", Id);

public sealed record SetAgentModelRequest(string Id, string AgentId, string? ModelId) : AgentRequest("set_agent_model_request", Id);

public sealed record SetAgentThinkingRequest(string Id, string AgentId, string? ThinkingOptionId) : AgentRequest("set_agent_thinking_request", Id);

public sealed record SetAgentFeatureRequest(string Id, string? AgentId) : AgentRequest("set_agent_feature_request", Id);

public sealed record UpdateAgentRequest(string Id, string AgentId, string? Name, IReadOnlyDictionary<string, string>? Labels) : AgentRequest("update_agent_request", Id);

/// <summary>
/// agent_permission_response: the answer to the agent's permission request <paramref name="PermissionId"/> (the message's
/// `requestId`); <paramref name="Resolution"/> is the checked Allow ‖ Deny object (app-schemas.md §E.2), immutable.
/// </summary>
public sealed record AgentPermissionResponse(string AgentId, string PermissionId, JsonElement Resolution) : AgentRequest("agent_permission_response", null);

/// <summary>cancel_agent_request: without a requestId nothing is answered (Paseo).</summary>
public sealed record CancelAgentRequest(string? Id, string AgentId) : AgentRequest("cancel_agent_request", Id);

/// <summary>
/// clear_agent_attention: <paramref name="AgentIds"/> each once; the response echoes the `agentId` as it came
/// (<paramref name="Echo"/>: a string or an array of strings).
/// </summary>
public sealed record ClearAgentAttentionRequest(string? Id, IReadOnlyList<string> AgentIds, JsonElement Echo) : AgentRequest("clear_agent_attention", Id);

/// <summary>create_agent_request's `git` (or the legacy `worktreeName`), normalised as app-workspaces.md §4.4 says.</summary>
/// <param name="BranchNamed">The client named the branch (otherwise a worktree's branch may be named from the prompt).</param>
public sealed record GitIntent(bool CreateWorktree, string? Slug, string? NewBranch, string? BaseBranch, string? Error, bool BranchNamed = false)
{
    public static readonly GitIntent None = new(false, null, null, null, null);

    public static GitIntent Read(RequestReader request)
    {
        if (request.OptionalString("worktreeName") is { Length: > 0 } legacy)
            return new GitIntent(true, WorktreeNames.Slugify(legacy), null, null, null, BranchNamed: true);
        if (request.OptionalObject("git") is not { } git) return None;
        var reader = RequestReader.Of(git);
        var baseBranch = reader.OptionalString("baseBranch")?.Trim() is { Length: > 0 } b ? b : null;
        var refName = reader.OptionalString("refName")?.Trim() is { Length: > 0 } r ? r : null;
        baseBranch ??= refName;
        var newBranch = reader.OptionalString("newBranchName") is { } n && WorktreeNames.Slugify(n) is { Length: > 0 } slugged ? slugged : null;
        var worktreeSlug = reader.OptionalString("worktreeSlug") is { } w && WorktreeNames.Slugify(w) is { Length: > 0 } ws ? ws : null;
        var createNewBranch = reader.OptionalBool("createNewBranch") ?? false;
        var createWorktree = reader.OptionalBool("createWorktree") ?? false;
        if (baseBranch is not null && !CheckoutOperations.IsValidBranch(baseBranch)) return None with { Error = $"Invalid base branch: {baseBranch}" };
        if (createNewBranch && newBranch is null) return None with { Error = "New branch name is required" };
        if (createNewBranch && WorktreeNames.Invalid(newBranch!) is { } invalid) return None with { Error = $"Invalid branch name: {invalid}" };
        return new GitIntent(createWorktree, createWorktree ? newBranch ?? worktreeSlug : worktreeSlug, createNewBranch && !createWorktree ? newBranch : null, baseBranch, null,
            BranchNamed: newBranch is not null);
    }
}

/// <summary>Reads the agent requests of a session (app-schemas.md §F) into <see cref="AgentRequest"/> records.</summary>
public static class AgentRequests
{
    /// <summary>The request kinds read here.</summary>
    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>
    {
        "fetch_agents_request", "fetch_agent_history_request", "fetch_agent_request", "refresh_agent_request", "resume_agent_request", "import_agent_request",
        "list_commands_request", "create_agent_request", "send_agent_message_request", "archive_agent_request", "delete_agent_request", "close_items_request",
        "fetch_agent_timeline_request", "wait_for_finish_request", "set_agent_mode_request", "set_agent_model_request", "set_agent_thinking_request",
        "set_agent_feature_request", "update_agent_request", "agent_permission_response", "cancel_agent_request", "clear_agent_attention",
    };

    /// <summary>The kinds among <see cref="Kinds"/> that may come without a requestId.</summary>
    public static readonly IReadOnlySet<string> WithoutRequestId = new HashSet<string> { "agent_permission_response", "cancel_agent_request", "clear_agent_attention" };

    private static readonly string[] SortKeys = ["status_priority", "created_at", "updated_at", "title"];
    private static readonly string[] ImageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    /// <summary>
    /// The request <paramref name="type"/> with its <paramref name="message"/>. Throws <see cref="InvalidRequestException"/>
    /// when it does not match its schema, <see cref="RequestLimitException"/> when it names more than
    /// <paramref name="maxIdsPerRequest"/> ids.
    /// </summary>
    public static AgentRequest Parse(string type, string? requestId, JsonObject message, int maxIdsPerRequest)
    {
        var request = RequestReader.Of(message);
        if (requestId is null && !WithoutRequestId.Contains(type)) throw new InvalidRequestException("requestId is required");
        return type switch
        {
            "fetch_agents_request" => ReadFetchAgents(requestId!, request, history: false),
            "fetch_agent_history_request" => ReadFetchAgents(requestId!, request, history: true),
            "fetch_agent_request" => new FetchAgentRequest(requestId!, request.RequiredString("agentId")),
            "refresh_agent_request" => new RefreshAgentRequest(requestId!, request.RequiredString("agentId")),
            "resume_agent_request" => ReadResume(requestId!, request),
            "import_agent_request" => new ResumeAgentRequest(type, requestId!, request.RequiredString("provider"), request.RequiredString("sessionId"), request.OptionalString("cwd"),
                request.OptionalLabels("labels")),
            "list_commands_request" => new ListCommandsRequest(requestId!, request.RequiredString("agentId"), request.OptionalObject("draftConfig") is not null),
            "create_agent_request" => ReadCreate(requestId!, request),
            "send_agent_message_request" => ReadSend(requestId!, request),
            "archive_agent_request" => new ArchiveAgentRequest(requestId!, request.RequiredString("agentId")),
            "delete_agent_request" => new DeleteAgentRequest(requestId!, request.RequiredString("agentId")),
            "close_items_request" => new CloseItemsRequest(requestId!, Ids(Strings(request.OptionalArray("agentIds"), "agentIds"), maxIdsPerRequest),
                Ids(Strings(request.OptionalArray("terminalIds"), "terminalIds"), maxIdsPerRequest)),
            "fetch_agent_timeline_request" => new FetchAgentTimelineRequest(requestId!, request.RequiredString("agentId"), ReadTimelineQuery(request)),
            "wait_for_finish_request" => ReadWait(requestId!, request),
            "set_agent_mode_request" => new SetAgentModeRequest(requestId!, request.RequiredString("agentId"), request.RequiredString("modeId")),
            "set_agent_model_request" => new SetAgentModelRequest(requestId!, request.RequiredString("agentId"), request.OptionalString("modelId")),
            "set_agent_thinking_request" => new SetAgentThinkingRequest(requestId!, request.RequiredString("agentId"), request.OptionalString("thinkingOptionId")),
            "set_agent_feature_request" => new SetAgentFeatureRequest(requestId!, request.OptionalString("agentId")),
            "update_agent_request" => new UpdateAgentRequest(requestId!, request.RequiredString("agentId"), request.OptionalString("name"), request.OptionalLabels("labels")),
            "agent_permission_response" => ReadPermissionResponse(request),
            "cancel_agent_request" => new CancelAgentRequest(requestId, request.RequiredString("agentId")),
            "clear_agent_attention" => ReadClearAttention(requestId, request, maxIdsPerRequest),
            _ => throw new ArgumentException($"{type} is not an agent request", nameof(type)),
        };
    }

    private static FetchAgentsRequest ReadFetchAgents(string requestId, RequestReader request, bool history)
    {
        if (history && (request.Message.ContainsKey("scope") || request.Message.ContainsKey("subscribe")))
            throw new InvalidRequestException("fetch_agent_history_request takes no scope and no subscribe");
        var filter = AgentFilter.Read(request);
        if (history && request.OptionalObject("filter")?["includeArchived"] is null) filter = filter with { IncludeArchived = true };
        var (limit, cursor) = request.Page();
        var subscribe = request.OptionalObject("subscribe");
        var subscriptionId = subscribe is null ? null : RequestReader.Of(subscribe).OptionalString("subscriptionId");
        return new FetchAgentsRequest(requestId, history, filter, ReadSort(request), limit, cursor, subscribe is not null, subscriptionId);
    }

    private static IReadOnlyList<AgentSort> ReadSort(RequestReader request)
    {
        var result = new List<AgentSort>();
        if (request.OptionalArray("sort") is not { } sort) return [new AgentSort("updated_at", "desc")];
        foreach (var node in sort)
        {
            if (node is not JsonObject entry) throw new InvalidRequestException("sort entries must be objects");
            var reader = RequestReader.Of(entry);
            var key = reader.OneOf("key", SortKeys, "");
            var direction = reader.OneOf("direction", ["asc", "desc"], "");
            if (key.Length == 0 || direction.Length == 0) throw new InvalidRequestException("sort entries need key and direction");
            if (result.All(r => r.Key != key)) result.Add(new AgentSort(key, direction));
        }
        return result.Count == 0 ? [new AgentSort("updated_at", "desc")] : result;
    }

    private static ResumeAgentRequest ReadResume(string requestId, RequestReader request)
    {
        if (!request.Message.ContainsKey("handle")) throw new InvalidRequestException("handle is required (null allowed)");
        if (request.OptionalObject("handle") is not { } handle) return new ResumeAgentRequest("resume_agent_request", requestId, null, null, null, null);
        var reader = RequestReader.Of(handle);
        var provider = reader.RequiredString("provider");
        var sessionId = reader.RequiredString("sessionId");
        var cwd = (handle["metadata"] as JsonObject)?["cwd"] is JsonValue v && v.TryGetValue<string>(out var c) ? c : null;
        if (request.OptionalObject("overrides") is { } overrides && RequestReader.Of(overrides).OptionalString("cwd") is { } overrideCwd) cwd = overrideCwd;
        return new ResumeAgentRequest("resume_agent_request", requestId, provider, sessionId, cwd, null);
    }

    private static CreateAgentRequest ReadCreate(string requestId, RequestReader request)
    {
        var config = RequestReader.Of(request.OptionalObject("config") ?? throw new InvalidRequestException("config is required"));
        var title = config.OptionalString("title");
        if (title is not null)
        {
            title = title.Trim();
            if (title.Length is 0 or > 200) throw new InvalidRequestException("config.title must have 1 to 200 characters");
        }
        var (images, imageProblem) = ReadImages(request);
        var git = GitIntent.Read(request);
        return new CreateAgentRequest(requestId, config.RequiredString("provider"), config.RequiredString("cwd"), config.OptionalString("modeId"), config.OptionalString("model"),
            config.OptionalString("thinkingOptionId"), title, config.OptionalString("systemPrompt"), request.OptionalString("initialPrompt"),
            request.OptionalString("clientMessageId"), request.OptionalLabels("labels") ?? new Dictionary<string, string>(), images, request.OptionalString("workspaceId"), git,
            imageProblem ?? git.Error);
    }

    private static SendAgentMessageRequest ReadSend(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var text = request.RequiredString("text");
        var messageId = request.OptionalString("messageId");
        var (images, problem) = ReadImages(request);
        return new SendAgentMessageRequest(requestId, agentId, text, messageId, images, problem);
    }

    /// <summary>`images:[{data, mimeType}]`: base64 images of the types CLIs take; otherwise the problem, said plainly.</summary>
    private static (IReadOnlyList<PromptImage>? Images, string? Problem) ReadImages(RequestReader request)
    {
        try
        {
            if (request.OptionalArray("images") is not { Count: > 0 } list) return (null, null);
            var images = new List<PromptImage>(list.Count);
            foreach (var node in list)
            {
                var reader = RequestReader.Of(node as JsonObject ?? throw new InvalidRequestException("images[] must be objects {data, mimeType}"));
                var mimeType = reader.RequiredString("mimeType");
                if (!ImageTypes.Contains(mimeType)) throw new InvalidRequestException($"images[].mimeType {mimeType} is not supported ({string.Join(", ", ImageTypes)})");
                var data = reader.RequiredString("data");
                if (data.Length == 0 || !System.Buffers.Text.Base64.IsValid(data)) throw new InvalidRequestException("images[].data must be base64");
                images.Add(new PromptImage(mimeType, data));
            }
            return (images, null);
        }
        catch (InvalidRequestException e)
        {
            return (null, e.Message);
        }
    }

    private static TimelineQuery ReadTimelineQuery(RequestReader request)
    {
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
        return new TimelineQuery(direction, cursor, limit, request.OneOf("projection", ["projected", "canonical"], "projected"));
    }

    private static WaitForFinishRequest ReadWait(string requestId, RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var timeoutMs = request.OptionalInt("timeoutMs");
        if (timeoutMs is <= 0) throw new InvalidRequestException("timeoutMs must be > 0");
        // Beyond what a timer can hold (about 24 days), a timeout is as good as none.
        return new WaitForFinishRequest(requestId, agentId, timeoutMs is { } ms and <= int.MaxValue ? TimeSpan.FromMilliseconds(ms) : null);
    }

    /// <summary>Allow ‖ Deny (app-schemas.md §E.2): the resolution is echoed to every client, so a bad one is refused here.</summary>
    private static AgentPermissionResponse ReadPermissionResponse(RequestReader request)
    {
        var agentId = request.RequiredString("agentId");
        var permissionId = request.RequiredString("requestId");
        var response = request.OptionalObject("response") ?? throw new InvalidRequestException("response is required");
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
        return new AgentPermissionResponse(agentId, permissionId, JsonSerializer.SerializeToElement(response));
    }

    private static ClearAgentAttentionRequest ReadClearAttention(string? requestId, RequestReader request, int maxIds)
    {
        var raw = request.Message["agentId"];
        IEnumerable<string> named = raw switch
        {
            JsonValue v when v.TryGetValue<string>(out var one) => [one],
            JsonArray many => Strings(many, "agentId"),
            _ => throw new InvalidRequestException("agentId must be a string or an array of strings"),
        };
        return new ClearAgentAttentionRequest(requestId, Ids(named, maxIds), JsonSerializer.SerializeToElement(raw));
    }

    private static IEnumerable<string> Strings(JsonArray? array, string key) =>
        (array ?? []).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException($"{key} must be strings")).ToList();

    /// <summary>The ids a request names, each once; at most <paramref name="max"/> of them (each is one ask).</summary>
    private static IReadOnlyList<string> Ids(IEnumerable<string> ids, int max)
    {
        var distinct = ids.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count <= max ? distinct
            : throw new RequestLimitException(TooManyIdsCode, $"Too many ids: at most {max} per request (paseo.sessions.max-ids-per-request)");
    }

    /// <summary>The rpc_error code of a request naming more agent ids than paseo.sessions.max-ids-per-request.</summary>
    public const string TooManyIdsCode = "too_many_ids";
}
