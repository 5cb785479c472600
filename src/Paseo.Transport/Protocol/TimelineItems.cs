using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol;

/// <summary>Timeline items (app-schemas.md §D.1) in their exact wire shape; `tool_call` is STRICT (exactly its 7 keys).</summary>
public static class TimelineItems
{
    public static JsonObject UserMessage(string text, string? messageId)
    {
        var item = new JsonObject { ["type"] = "user_message", ["text"] = text };
        if (messageId is not null) item["messageId"] = messageId;
        return item;
    }

    public static JsonObject AssistantMessage(string text) => new() { ["type"] = "assistant_message", ["text"] = text };

    public static JsonObject Reasoning(string text) => new() { ["type"] = "reasoning", ["text"] = text };

    public static JsonObject Error(string message) => new() { ["type"] = "error", ["message"] = message };

    /// <summary>The agent's task list, whole each time (app-protocol.md §1.5 `todo{items:[{text,completed}]}`).</summary>
    public static JsonObject Todo(IEnumerable<(string Text, bool Completed)> items) => new()
    {
        ["type"] = "todo",
        ["items"] = new JsonArray([.. items.Select(i => (JsonNode)new JsonObject { ["text"] = i.Text, ["completed"] = i.Completed })]),
    };

    /// <summary>Context compaction: `loading` when it starts, `completed` (with what triggered it) when it is done.</summary>
    public static JsonObject Compaction(string status, string? trigger = null, long? preTokens = null)
    {
        var item = new JsonObject { ["type"] = "compaction", ["status"] = status };
        if (trigger is not null) item["trigger"] = trigger;
        if (preTokens is not null) item["preTokens"] = preTokens;
        return item;
    }

    /// <param name="error">Null unless <paramref name="status"/> is "failed" (then required).</param>
    public static JsonObject ToolCall(string callId, string name, JsonObject detail, string status, JsonNode? error = null, JsonObject? metadata = null)
    {
        if ((status == "failed") != (error is not null)) throw new ArgumentException("a tool call has an error exactly when it failed", nameof(error));
        var item = new JsonObject { ["type"] = "tool_call", ["callId"] = callId, ["name"] = name, ["detail"] = detail };
        if (metadata is not null) item["metadata"] = metadata;
        item["status"] = status;
        item["error"] = error;
        return item;
    }

    public static JsonObject ShellDetail(string command, string? cwd = null, string? output = null, int? exitCode = null)
    {
        var detail = new JsonObject { ["type"] = "shell", ["command"] = command };
        if (cwd is not null) detail["cwd"] = cwd;
        if (output is not null) detail["output"] = output;
        if (exitCode is not null) detail["exitCode"] = exitCode;
        return detail;
    }

    public static JsonObject ReadDetail(string filePath, string? content = null)
    {
        var detail = new JsonObject { ["type"] = "read", ["filePath"] = filePath };
        if (content is not null) detail["content"] = content;
        return detail;
    }

    public static JsonObject EditDetail(string filePath, string? oldString = null, string? newString = null)
    {
        var detail = new JsonObject { ["type"] = "edit", ["filePath"] = filePath };
        if (oldString is not null) detail["oldString"] = oldString;
        if (newString is not null) detail["newString"] = newString;
        return detail;
    }
}
