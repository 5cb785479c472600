using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Agents;

/// <summary>
/// What is stored of an agent in `agents/&lt;projectDir&gt;/&lt;id&gt;.json` (app-protocol.md §3.3), Paseo's field names,
/// so that the files stay readable by Paseo's own tools.
/// </summary>
public sealed record AgentRecord
{
    public required string Id { get; init; }
    public required string Provider { get; init; }
    public required string Cwd { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? LastUserMessageAt { get; init; }
    public string? Title { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public AgentStatus LastStatus { get; init; } = AgentStatus.Closed;
    public string? LastModeId { get; init; }
    public string? Model { get; init; }
    public string? ThinkingOptionId { get; init; }
    /// <summary>The provider session's handle `{provider, sessionId, nativeHandle?, metadata?}`: immutable, as the record is shared with the store.</summary>
    public System.Text.Json.JsonElement? Persistence { get; init; }

    /// <summary>The provider's session id in <see cref="Persistence"/>, if any.</summary>
    public string? SessionId => PersistedSessionId(Persistence);

    public static string? PersistedSessionId(System.Text.Json.JsonElement? persistence) =>
        persistence is { ValueKind: System.Text.Json.JsonValueKind.Object } p && p.TryGetProperty("sessionId", out var id) && id.ValueKind == System.Text.Json.JsonValueKind.String
            ? id.GetString() : null;
    public string? LastError { get; init; }
    public bool RequiresAttention { get; init; }
    public string? AttentionReason { get; init; }
    public DateTimeOffset? AttentionTimestamp { get; init; }
    public DateTimeOffset? ArchivedAt { get; init; }

    /// <summary>`home/u/proj` for `/home/u/proj`: the cwd without its root and trailing slash, separators as `-`.</summary>
    public static string ProjectDir(string cwd)
    {
        var trimmed = cwd.TrimEnd('/', '\\');
        var root = Path.GetPathRoot(trimmed) ?? "";
        var rest = trimmed[root.Length..];
        if (root.Length >= 2 && root[1] == ':') rest = root[0] + "-" + rest;
        rest = rest.Replace('/', '-').Replace('\\', '-');
        return rest.Length == 0 ? "root" : rest;
    }

    public string ToJson()
    {
        var json = new JsonObject
        {
            ["id"] = Id,
            ["provider"] = Provider,
            ["cwd"] = Cwd,
            ["createdAt"] = IsoTime.Format(CreatedAt),
            ["updatedAt"] = IsoTime.Format(UpdatedAt),
        };
        if (LastUserMessageAt is { } lastUser) json["lastUserMessageAt"] = IsoTime.Format(lastUser);
        if (Title is not null) json["title"] = Title;
        var labels = new JsonObject();
        foreach (var (k, v) in Labels) labels[k] = v;
        json["labels"] = labels;
        json["lastStatus"] = LastStatus.Wire();
        if (LastModeId is not null) json["lastModeId"] = LastModeId;
        json["config"] = new JsonObject { ["title"] = Title, ["modeId"] = LastModeId, ["model"] = Model, ["thinkingOptionId"] = ThinkingOptionId };
        if (Persistence is { } persistence) json["persistence"] = System.Text.Json.JsonSerializer.SerializeToNode(persistence);
        if (LastError is not null) json["lastError"] = LastError;
        if (RequiresAttention)
        {
            json["requiresAttention"] = true;
            if (AttentionReason is not null) json["attentionReason"] = AttentionReason;
            if (AttentionTimestamp is { } at) json["attentionTimestamp"] = IsoTime.Format(at);
        }
        if (ArchivedAt is { } archived) json["archivedAt"] = IsoTime.Format(archived);
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Reads a stored record; null (and the reason) when the file is not one.</summary>
    public static (AgentRecord? Record, string? Problem) Parse(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is not JsonObject obj) return (null, "not a JSON object");
            string? S(string key) => WsInbound.Str(obj, key);
            DateTimeOffset? T(string key) => S(key) is { } s && DateTimeOffset.TryParse(s, out var t) ? t : null;
            if (S("id") is not { } id || S("provider") is not { } provider || S("cwd") is not { } cwd) return (null, "id, provider and cwd are required");
            var labels = new Dictionary<string, string>();
            if (obj["labels"] is JsonObject l)
                foreach (var (k, v) in l)
                    if (v is JsonValue value && value.TryGetValue<string>(out var s)) labels[k] = s;
            var config = obj["config"] as JsonObject;
            return (new AgentRecord
            {
                Id = id,
                Provider = provider,
                Cwd = cwd,
                CreatedAt = T("createdAt") ?? DateTimeOffset.UnixEpoch,
                UpdatedAt = T("updatedAt") ?? T("createdAt") ?? DateTimeOffset.UnixEpoch,
                LastUserMessageAt = T("lastUserMessageAt"),
                Title = S("title"),
                Labels = labels,
                LastStatus = AgentStatusNames.Parse(S("lastStatus")) ?? AgentStatus.Closed,
                LastModeId = S("lastModeId"),
                Model = config is null ? null : WsInbound.Str(config, "model"),
                ThinkingOptionId = config is null ? null : WsInbound.Str(config, "thinkingOptionId"),
                // Only a well-formed handle reaches the wire (a bad one would make clients drop whole agent lists).
                Persistence = obj["persistence"] is JsonObject p && WsInbound.Str(p, "provider") is not null && WsInbound.Str(p, "sessionId") is not null
                    ? System.Text.Json.JsonSerializer.SerializeToElement(p) : null,
                LastError = S("lastError"),
                RequiresAttention = obj["requiresAttention"] is JsonValue ra && ra.TryGetValue<bool>(out var b) && b,
                AttentionReason = S("attentionReason") is "finished" or "error" or "permission" ? S("attentionReason") : null,
                AttentionTimestamp = T("attentionTimestamp"),
                ArchivedAt = T("archivedAt"),
            }, null);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return (null, e.Message);
        }
    }
}
