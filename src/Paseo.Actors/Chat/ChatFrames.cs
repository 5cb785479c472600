using System.Text.Json.Nodes;
using Paseo.Transport.Chat;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Chat.ChatProtocol;

namespace Paseo.Actors.Chat;

/// <summary>The frames chat answers with (app-orchestration.md §1.3, §1.7): `chat/&lt;verb&gt;/response` with `error: null`, or an rpc_error.</summary>
public static class ChatFrames
{
    /// <summary>The wire type of a request.</summary>
    public static string TypeOf(IChatRequest request) => request switch
    {
        CreateRoom => "chat/create",
        ListRooms => "chat/list",
        InspectRoom => "chat/inspect",
        DeleteRoom => "chat/delete",
        Post => "chat/post",
        Read => "chat/read",
        Wait => "chat/wait",
        _ => throw new ArgumentOutOfRangeException(nameof(request), request.GetType().Name, "not a chat request"),
    };

    public static ChatAnswer Reply(IChatRequest request, JsonObject payload)
    {
        var body = new JsonObject { ["requestId"] = request.RequestId };
        foreach (var (key, value) in payload.ToList())
        {
            payload.Remove(key);
            body[key] = value;
        }
        body["error"] = null;
        return new ChatAnswer(WsOutbound.Session(TypeOf(request) + "/response", body), (request as Wait)?.WaitId ?? 0);
    }

    public static ChatAnswer Error(IChatRequest request, string code, string error) =>
        new(WsOutbound.RpcError(request.RequestId, TypeOf(request), error, code), (request as Wait)?.WaitId ?? 0);

    public static ChatAnswer Error(IChatRequest request, ChatException e) => Error(request, e.Code, e.Message);

    public static JsonArray Messages(IEnumerable<ChatMessage> messages) => new([.. messages.Select(m => (JsonNode)m.ToJson())]);
}

/// <summary>The error codes and texts of §1.7.</summary>
public static class ChatErrors
{
    public static ChatException NameRequired() => new("invalid_chat_room_name", "Chat room name is required");
    public static ChatException NameTaken(string name) => new("chat_room_name_taken", $"Chat room already exists with name: {name}");
    public static ChatException RoomRequired() => new("invalid_chat_room", "Chat room name or ID is required");
    public static ChatException RoomNotFound(string selector) => new("chat_room_not_found", $"Chat room not found: {selector}");
    public static ChatException BodyRequired() => new("invalid_chat_message", "Chat message body is required");
    public static ChatException ReplyTargetNotFound(string id) => new("chat_message_not_found", $"Reply target not found: {id}");
    public static ChatException CursorNotFound(string id) => new("chat_message_not_found", $"Wait cursor not found: {id}");
    public static ChatException RoomDeleted(string name) => new("chat_room_deleted", $"Chat room deleted: {name}");
    public static ChatException Failed(string message) => new("chat_request_failed", message);
}
