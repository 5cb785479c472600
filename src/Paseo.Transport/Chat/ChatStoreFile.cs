using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Chat;

/// <summary>The chat rooms on disk could not be read: the daemon serves no chat rather than overwrite them.</summary>
public sealed class ChatStoreDamagedException(string message) : Exception(message);

/// <summary>
/// `$PASEO_HOME/chat/rooms.json` (app-orchestration.md §1.6): <c>{"rooms": Room[], "messages": Message[]}</c>, both
/// sorted by createdAt, pretty-printed, rewritten atomically (a temp file then a rename) with mode 0600. Paseo reads a
/// damaged file as empty and overwrites it with the next write; here it is refused with the reason, and kept.
/// </summary>
public static class ChatStoreFile
{
    /// <summary>The rooms and their messages (each room's in posting order); a missing file is no rooms.</summary>
    public static IReadOnlyList<(ChatRoom Room, IReadOnlyList<ChatMessage> Messages)> Load(string path)
    {
        if (!File.Exists(path)) return [];
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("not a JSON object");
        }
        catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw Damaged(path, e.Message);
        }
        try
        {
            var rooms = (root["rooms"] as JsonArray ?? throw new FormatException("\"rooms\" must be an array"))
                .Select(r => ChatRoom.FromJson(r as JsonObject ?? throw new FormatException("a room must be an object"))).ToList();
            var messages = (root["messages"] as JsonArray ?? throw new FormatException("\"messages\" must be an array"))
                .Select(m => ChatMessage.FromJson(m as JsonObject ?? throw new FormatException("a message must be an object"))).ToList();
            var ids = new HashSet<string>();
            foreach (var room in rooms)
                if (!ids.Add(room.Id)) throw new FormatException($"room {room.Id} appears twice");
            if (messages.FirstOrDefault(m => !ids.Contains(m.RoomId)) is { } orphan) throw new FormatException($"message {orphan.Id} names no room ({orphan.RoomId})");
            var byRoom = messages.GroupBy(m => m.RoomId).ToDictionary(g => g.Key, g => (IReadOnlyList<ChatMessage>)g.ToList());
            return rooms.Select(r => (r, byRoom.GetValueOrDefault(r.Id) ?? [])).ToList();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw Damaged(path, e.Message);
        }
    }

    private static ChatStoreDamagedException Damaged(string path, string reason) =>
        new($"{path} is damaged ({reason}); chat is off until it is repaired or moved aside (the daemon does not overwrite it)");

    /// <summary>Writes every room and message, each array sorted by createdAt (ties keep their order).</summary>
    public static void Save(string path, IEnumerable<(ChatRoom Room, IReadOnlyList<ChatMessage> Messages)> rooms)
    {
        var all = rooms.ToList();
        var root = new JsonObject
        {
            ["rooms"] = new JsonArray([.. all.Select(r => r.Room).OrderBy(r => r.CreatedAt, StringComparer.Ordinal).Select(r => (JsonNode)r.ToJson())]),
            ["messages"] = new JsonArray([.. all.SelectMany(r => r.Messages).OrderBy(m => m.CreatedAt, StringComparer.Ordinal).Select(m => (JsonNode)m.ToJson())]),
        };
        PrivateFiles.EnsurePrivateDirectory(Path.GetDirectoryName(path)!);
        PrivateFiles.WriteAtomically(path, root.ToJsonString(StoredJson.Pretty) + "\n");
    }
}
