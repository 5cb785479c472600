using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Protocol;

public enum AgentStatus { Initializing, Idle, Running, Error, Closed }

public static class AgentStatusNames
{
    public static string Wire(this AgentStatus status) => status switch
    {
        AgentStatus.Initializing => "initializing",
        AgentStatus.Idle => "idle",
        AgentStatus.Running => "running",
        AgentStatus.Error => "error",
        _ => "closed",
    };

    public static AgentStatus? Parse(string? text) => text switch
    {
        "initializing" => AgentStatus.Initializing,
        "idle" => AgentStatus.Idle,
        "running" => AgentStatus.Running,
        "error" => AgentStatus.Error,
        "closed" => AgentStatus.Closed,
        _ => null,
    };
}

/// <summary>What a provider can do (the six flags every snapshot carries).</summary>
public sealed record AgentCapabilities(bool Streaming, bool SessionPersistence, bool DynamicModes, bool McpServers, bool ReasoningStream, bool ToolInvocations)
{
    /// <summary>What Paseo reports for an agent that is stored but not loaded.</summary>
    public static readonly AgentCapabilities Stored = new(false, true, false, false, false, true);

    public JsonObject ToJson() => new()
    {
        ["supportsStreaming"] = Streaming,
        ["supportsSessionPersistence"] = SessionPersistence,
        ["supportsDynamicModes"] = DynamicModes,
        ["supportsMcpServers"] = McpServers,
        ["supportsReasoningStream"] = ReasoningStream,
        ["supportsToolInvocations"] = ToolInvocations,
    };
}

public sealed record AgentMode(string Id, string Label, string? Description = null, string? Icon = null, string? ColorTier = null)
{
    public JsonObject ToJson()
    {
        var mode = new JsonObject { ["id"] = Id, ["label"] = Label };
        if (Description is not null) mode["description"] = Description;
        if (Icon is not null) mode["icon"] = Icon;
        if (ColorTier is not null) mode["colorTier"] = ColorTier;
        return mode;
    }
}

/// <summary>
/// An agent as clients see it (AgentSnapshotPayload, app-schemas.md §C.1), in the exact shape Paseo emits: required
/// nullable keys always present, optional non-nullable keys omitted when unset.
/// </summary>
public sealed record AgentSnapshot
{
    public required string Id { get; init; }
    public required string Provider { get; init; }
    public required string Cwd { get; init; }
    public string? Model { get; init; }
    public string? ThinkingOptionId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? LastUserMessageAt { get; init; }
    public required AgentStatus Status { get; init; }
    public required AgentCapabilities Capabilities { get; init; }
    public string? CurrentModeId { get; init; }
    public IReadOnlyList<AgentMode> AvailableModes { get; init; } = [];
    // The JSON values below are JsonElements: immutable, so a snapshot may be read on any thread by any number of actors.
    public IReadOnlyList<JsonElement> PendingPermissions { get; init; } = [];
    /// <summary>`{provider, sessionId, nativeHandle?}`; null for a provider with no resumable session.</summary>
    public JsonElement? Persistence { get; init; }
    public JsonElement? RuntimeInfo { get; init; }
    public JsonElement? LastUsage { get; init; }

    /// <summary>The thinking option the provider reports it runs with (runtimeInfo.thinkingOptionId), else the one asked for.</summary>
    public string? EffectiveThinkingOptionId =>
        RuntimeInfo is { } info && info.TryGetProperty("thinkingOptionId", out var thinking) && thinking.ValueKind == JsonValueKind.String ? thinking.GetString() : ThinkingOptionId;
    public string? LastError { get; init; }
    public string? Title { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public bool RequiresAttention { get; init; }
    public string? AttentionReason { get; init; }
    public DateTimeOffset? AttentionTimestamp { get; init; }
    public DateTimeOffset? ArchivedAt { get; init; }
    /// <summary>A live (loaded) agent carries `features`; a stored one does not.</summary>
    public bool Live { get; init; } = true;
    /// <summary>A stored agent whose provider is not registered: sent as `providerUnavailable: true`.</summary>
    public bool ProviderUnavailable { get; init; }

    public string ShortId => Id.Length > 7 ? Id[..7] : Id;

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["id"] = Id,
            ["provider"] = Provider,
            ["cwd"] = Cwd,
            ["model"] = Model,
        };
        if (Live) json["features"] = new JsonArray();
        json["thinkingOptionId"] = ThinkingOptionId;
        json["effectiveThinkingOptionId"] = RuntimeInfo is { } info && info.TryGetProperty("thinkingOptionId", out var runtimeThinking)
            ? JsonSerializer.SerializeToNode(runtimeThinking) : ThinkingOptionId;
        if (RuntimeInfo is { } runtimeInfo) json["runtimeInfo"] = JsonSerializer.SerializeToNode(runtimeInfo);
        json["createdAt"] = IsoTime.Format(CreatedAt);
        json["updatedAt"] = IsoTime.Format(UpdatedAt);
        json["lastUserMessageAt"] = LastUserMessageAt is { } at ? IsoTime.Format(at) : null;
        json["status"] = Status.Wire();
        json["capabilities"] = Capabilities.ToJson();
        json["currentModeId"] = CurrentModeId;
        json["availableModes"] = new JsonArray(AvailableModes.Select(m => (JsonNode)m.ToJson()).ToArray());
        json["pendingPermissions"] = new JsonArray([.. PendingPermissions.Select(p => JsonSerializer.SerializeToNode(p))]);
        json["persistence"] = Persistence is { } persistence ? JsonSerializer.SerializeToNode(persistence) : null;
        if (LastUsage is { } usage) json["lastUsage"] = JsonSerializer.SerializeToNode(usage);
        if (LastError is not null) json["lastError"] = LastError;
        json["title"] = Title;
        var labels = new JsonObject();
        foreach (var (key, value) in Labels) labels[key] = value;
        json["labels"] = labels;
        json["requiresAttention"] = RequiresAttention;
        json["attentionReason"] = RequiresAttention ? AttentionReason : null;
        json["attentionTimestamp"] = RequiresAttention && AttentionTimestamp is { } ts ? IsoTime.Format(ts) : null;
        json["archivedAt"] = ArchivedAt is { } archived ? IsoTime.Format(archived) : null;
        if (ProviderUnavailable) json["providerUnavailable"] = true;
        return json;
    }
}

/// <summary>An image sent with a prompt (`images:[{data, mimeType}]` of create_agent / send_agent_message): base64 data of a type CLIs take.</summary>
public sealed record PromptImage(string MimeType, string Data);
