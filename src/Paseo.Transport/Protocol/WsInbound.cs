using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol;

/// <summary>One inbound WebSocket-level message (app-schemas.md §A.1), or why it is not one.</summary>
public abstract record WsInbound
{
    /// <summary>`{"type":"ping"}`: answered with the WS-level pong, even before hello.</summary>
    public sealed record Ping : WsInbound
    {
        public static readonly Ping Instance = new();
    }

    /// <summary>`{"type":"recording_state",...}`: accepted and ignored.</summary>
    public sealed record RecordingState : WsInbound
    {
        public static readonly RecordingState Instance = new();
    }

    public sealed record Hello(string ClientId, string ClientType, long ProtocolVersion, string? AppVersion, bool ReasoningMergeEnum) : WsInbound;

    /// <summary>`{"type":"session","message":{...}}` with a message that has a string `type`.</summary>
    public sealed record Session(string Type, string? RequestId, JsonObject Message) : WsInbound;

    /// <summary>Not a valid WS-level message. <see cref="RequestId"/> is any string requestId found (top level or in `message`).</summary>
    public sealed record Invalid(string Reason, string? RequestId, bool OuterTypeIsSession) : WsInbound;

    public static readonly string[] ClientTypes = ["mobile", "browser", "cli", "mcp"];

    public static WsInbound Parse(string text)
    {
        JsonObject root;
        try
        {
            if (JsonNode.Parse(text) is not JsonObject obj) return new Invalid("not a JSON object", null, false);
            // Materialize now: a duplicated key only throws on first access, and must be an invalid message, not a crash.
            _ = obj.Count;
            if (obj["message"] is JsonObject message) _ = message.Count;
            root = obj;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return new Invalid($"not valid JSON ({e.Message})", null, false);
        }

        var type = Str(root, "type");
        var topRequestId = Str(root, "requestId");
        switch (type)
        {
            case "ping":
                return Ping.Instance;
            case "recording_state":
                return root["isRecording"] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False
                    ? RecordingState.Instance
                    : new Invalid("recording_state needs a boolean isRecording", topRequestId, false);
            case "hello":
                return ParseHello(root, topRequestId);
            case "session":
                if (root["message"] is not JsonObject message) return new Invalid("session needs a message object", topRequestId, true);
                var requestId = Str(message, "requestId") ?? topRequestId;
                return Str(message, "type") is { } messageType
                    ? new Session(messageType, Str(message, "requestId"), message)
                    : new Invalid("the session message has no type", requestId, true);
            default:
                return new Invalid(type is null ? "no type" : $"unknown type '{type}'", topRequestId, false);
        }
    }

    private static WsInbound ParseHello(JsonObject root, string? requestId)
    {
        var clientId = Str(root, "clientId");
        var clientType = Str(root, "clientType");
        if (clientId is null || clientId.Length == 0) return new Invalid("hello needs a clientId", requestId, false);
        if (clientType is null || !ClientTypes.Contains(clientType)) return new Invalid("hello needs a clientType of mobile, browser, cli or mcp", requestId, false);
        if (root["protocolVersion"] is not JsonValue pv || pv.GetValueKind() != JsonValueKind.Number || !pv.TryGetValue<long>(out var version))
            return new Invalid("hello needs an integer protocolVersion", requestId, false);
        string? appVersion = null;
        if (root["appVersion"] is { } av)
        {
            if (av is not JsonValue avv || avv.GetValueKind() != JsonValueKind.String) return new Invalid("appVersion must be a string", requestId, false);
            appVersion = avv.GetValue<string>();
        }
        var reasoningMerge = false;
        if (root["capabilities"] is { } caps)
        {
            if (caps is not JsonObject capsObj) return new Invalid("capabilities must be an object", requestId, false);
            reasoningMerge = capsObj["reasoning_merge_enum"] is JsonValue rm && rm.GetValueKind() == JsonValueKind.True;
        }
        return new Hello(clientId, clientType, version, appVersion, reasoningMerge);
    }

    /// <summary>The string value of a key, or null when absent or not a string.</summary>
    public static string? Str(JsonObject obj, string key) =>
        obj[key] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
