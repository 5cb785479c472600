using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Event;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers;

/// <summary>The NDJSON lines an agent CLI prints on stdout (stream-json and JSON-RPC providers alike).</summary>
public static class CliOutputLines
{
    /// <summary>
    /// The line as a JSON object; null for a blank line, and for a line that is not a JSON object — a CLI bug or a stray
    /// print, which is logged and shown in the timeline as an error row while the turn goes on.
    /// </summary>
    public static JsonObject? Parse(string line, string cliName, string agentId, ILoggingAdapter log, Action<ProviderEvent> emit)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        JsonObject? message;
        try
        {
            message = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            message = null;
        }
        if (message is not null) return message;
        var shown = line.Length > 200 ? line[..200] + "…" : line;
        log.Warning("Agent {0}: {1} printed a line that is not JSON: {2}", agentId, cliName, shown);
        emit(new Timeline(TimelineItems.Error($"{cliName} printed a line that is not JSON: {shown}")));
        return null;
    }
}
