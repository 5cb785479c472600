using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Chat;

/// <summary>A chat room as stored and sent (app-orchestration.md §1.1). Times are ISO strings, compared as strings as Paseo does.</summary>
public sealed record ChatRoom(string Id, string Name, string? Purpose, string CreatedAt, string UpdatedAt)
{
    /// <summary>The room as a client sees it: its record with the message count and the last message's time.</summary>
    public JsonObject ToDetail(int messageCount, string? lastMessageAt) => new()
    {
        ["id"] = Id, ["name"] = Name, ["purpose"] = Purpose, ["createdAt"] = CreatedAt, ["updatedAt"] = UpdatedAt,
        ["messageCount"] = messageCount, ["lastMessageAt"] = lastMessageAt,
    };

    public JsonObject ToJson() => new() { ["id"] = Id, ["name"] = Name, ["purpose"] = Purpose, ["createdAt"] = CreatedAt, ["updatedAt"] = UpdatedAt };

    public static ChatRoom FromJson(JsonObject json) => new(
        StoredJson.Required(json, "id"), StoredJson.Required(json, "name"), StoredJson.Nullable(json, "purpose"),
        StoredJson.Required(json, "createdAt"), StoredJson.Required(json, "updatedAt"));

    /// <summary>Names are unique ignoring case (Paseo lower-cases the trimmed names; here with the invariant culture).</summary>
    public static string NameKey(string name) => name.Trim().ToLowerInvariant();
}

/// <summary>A message in a room (§1.1).</summary>
public sealed record ChatMessage(string Id, string RoomId, string AuthorAgentId, string Body, string? ReplyToMessageId, IReadOnlyList<string> MentionAgentIds, string CreatedAt)
{
    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["roomId"] = RoomId, ["authorAgentId"] = AuthorAgentId, ["body"] = Body, ["replyToMessageId"] = ReplyToMessageId,
        ["mentionAgentIds"] = new JsonArray([.. MentionAgentIds.Select(m => (JsonNode?)JsonValue.Create(m))]), ["createdAt"] = CreatedAt,
    };

    public static ChatMessage FromJson(JsonObject json) => new(
        StoredJson.Required(json, "id"), StoredJson.Required(json, "roomId"), StoredJson.Required(json, "authorAgentId"), StoredJson.Required(json, "body"),
        StoredJson.Nullable(json, "replyToMessageId"),
        json["mentionAgentIds"] is JsonArray mentions
            ? mentions.Select(m => m is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException("\"mentionAgentIds\" must hold strings")).ToList()
            : throw new FormatException("\"mentionAgentIds\" must be an array"),
        StoredJson.Required(json, "createdAt"));
}

/// <summary>A chat request that failed: the rpc_error code and text of §1.7.</summary>
public sealed class ChatException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
