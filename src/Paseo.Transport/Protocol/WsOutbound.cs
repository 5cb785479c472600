using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol;

/// <summary>
/// Outbound frames (app-schemas.md §A.2): the WS-level pong, and `{"type":"session","message":{"type","payload"}}`
/// for everything else. Payloads are built as JSON nodes so that which keys are present, null or absent is explicit.
/// </summary>
public static class WsOutbound
{
    public const string Pong = "{\"type\":\"pong\"}";

    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Session(string type, JsonObject payload) =>
        new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = type, ["payload"] = payload } }.ToJsonString(Options);

    public static string Status(JsonObject payload) => Session("status", payload);

    public static string RpcError(string requestId, string? requestType, string error, string? code)
    {
        var payload = new JsonObject { ["requestId"] = requestId };
        if (requestType is not null) payload["requestType"] = requestType;
        payload["error"] = error;
        if (code is not null) payload["code"] = code;
        return Session("rpc_error", payload);
    }

    public static string StatusError(string message) => Status(new JsonObject { ["status"] = "error", ["message"] = message });

    public static string ToJson(JsonNode node) => node.ToJsonString(Options);

    public static byte[] ToUtf8(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, Options);
}
