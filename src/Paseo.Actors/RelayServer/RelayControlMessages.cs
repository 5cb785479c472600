using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Channels;

namespace Paseo.Actors.RelayServer;

/// <summary>
/// The relay's own control messages on a daemon's control socket (relay-e2ee.md §1.6), for the one-node room and the
/// clustered one alike: the only frame the relay reads is a control `ping`, answered with a `pong`.
/// </summary>
public static class RelayControlMessages
{
    // JSON.stringify's escaping (a client-chosen connectionId may hold any character).
    private static readonly JsonSerializerOptions ControlJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Json(JsonObject message) => message.ToJsonString(ControlJson);

    public static WireFrame Frame(JsonObject message) => new WireFrame.Text(Json(message));

    public static string Pong(TimeProvider time) => Json(new JsonObject { ["type"] = "pong", ["ts"] = time.GetUtcNow().ToUnixTimeMilliseconds() });

    public static JsonObject Sync(IEnumerable<string> connectionIds) =>
        new() { ["type"] = "sync", ["connectionIds"] = new JsonArray(connectionIds.Select(k => (JsonNode)k).ToArray()) };

    public static bool IsPing(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var type)
                   && type.ValueKind == JsonValueKind.String && type.GetString() == "ping";
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
