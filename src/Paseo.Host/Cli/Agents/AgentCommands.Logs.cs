using System.Globalization;
using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Client;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>logs and attach: the timeline as text (or JSON lines), and with -f / attach the live agent_stream after it.</summary>
public sealed partial class AgentCommands
{
    private static readonly string[] Filters = ["tools", "text", "errors", "permissions"];

    public Task<int> LogsAsync(CliContext context, string query, bool follow, int? tail, string? filter, string? since, CancellationToken cancellationToken)
    {
        return Guard(context, () =>
        {
            if (filter is not null && !Filters.Contains(filter))
                throw new CliException("INVALID_FILTER", $"--filter {filter}: expected one of {string.Join(", ", Filters)}");
            if (tail is < 0) throw new CliException("INVALID_ARGUMENTS", "--tail must be 0 or more");
            var from = since is null ? (DateTimeOffset?)null : Durations.Since(since, DateTimeOffset.UtcNow);
            return WithClient(context, async client =>
            {
                var agent = await ResolveAsync(client, query);
                var agentId = Id(agent);
                var timeline = await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
                {
                    ["agentId"] = agentId, ["direction"] = "tail", ["limit"] = 0, ["projection"] = "projected",
                }, CommandTimeout);
                if (WsInbound.Str(timeline, "error") is { } error) throw new CliException("LOGS_FAILED", error);
                var entries = (timeline["entries"] as JsonArray ?? []).OfType<JsonObject>()
                    .Where(e => Matches(e["item"] as JsonObject, filter) && After(e, from))
                    .ToList();
                if (tail is > 0 && entries.Count > tail) entries = entries[^tail.Value..];
                var printer = new TimelinePrinter(context.Output, filter);
                if (!follow && context.Output.Structured)
                {
                    context.Output.Data(new JsonArray(entries.Select(e => (JsonNode)e.DeepClone()).ToArray()));
                    return 0;
                }
                foreach (var entry in entries) printer.Entry(entry);
                if (filter == "permissions" && !context.Output.Structured)
                    foreach (var pending in (timeline["agent"]?["pendingPermissions"] as JsonArray ?? []).OfType<JsonObject>())
                        context.Output.Out.WriteLine($"? permission {Str(pending, "id")}: {Str(pending, "title", Str(pending, "name"))} (pending)");
                if (!follow) return 0;
                return await FollowAsync(client, agentId, printer, cancellationToken);
            });
        });
    }

    public Task<int> AttachAsync(CliContext context, string query, CancellationToken cancellationToken) => WithClient(context, async client =>
    {
        var agent = await ResolveAsync(client, query);
        var response = await client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = Id(agent) }, FetchTimeout);
        var snap = response["agent"] as JsonObject ?? agent;
        // On stderr in every format (stdout stays data): also how a script knows the stream is live.
        context.Output.Err.WriteLine($"Attached to {Short(Id(snap))} ({Str(snap, "title", "-")}, {Str(snap, "status")}); Ctrl-C detaches, the agent keeps running.");
        return await FollowAsync(client, Id(snap), new TimelinePrinter(context.Output, null), cancellationToken);
    });

    /// <summary>Prints the agent's live events until Ctrl-C (exit 0) or until the daemon goes away (exit 1).</summary>
    private static async Task<int> FollowAsync(DaemonClient client, string agentId, TimelinePrinter printer, CancellationToken cancellationToken)
    {
        printer.Flush();
        try
        {
            await foreach (var message in client.Pushes.ReadAllAsync(cancellationToken))
            {
                if (WsInbound.Str(message, "type") != "agent_stream" || message["payload"] is not JsonObject payload) continue;
                if (WsInbound.Str(payload, "agentId") != agentId || payload["event"] is not JsonObject streamEvent) continue;
                printer.Event(streamEvent, WsInbound.Str(payload, "timestamp"));
                printer.Flush();
            }
        }
        catch (OperationCanceledException)
        {
            printer.EndLine();
            return 0;
        }
        catch (Exception e) when (e is System.Threading.Channels.ChannelClosedException or Paseo.Transport.Crypto.E2eeChannelException)
        {
        }
        printer.EndLine();
        throw new CliException("CONNECTION_LOST", "the connection to the daemon closed");
    }

    private static bool After(JsonObject entry, DateTimeOffset? from) =>
        from is null || (DateTimeOffset.TryParse(WsInbound.Str(entry, "timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at >= from);

    internal static bool Matches(JsonObject? item, string? filter)
    {
        if (item is null) return false;
        var type = WsInbound.Str(item, "type");
        return filter switch
        {
            null => true,
            "text" => type is "user_message" or "assistant_message",
            "tools" => type == "tool_call",
            "errors" => type == "error" || (type == "tool_call" && WsInbound.Str(item, "status") == "failed"),
            "permissions" => type == "tool_call" && (item["error"]?.ToJsonString() ?? "").Contains("ermission", StringComparison.Ordinal),
            _ => false,
        };
    }

    /// <summary>
    /// Timeline rows as lines: `> prompt`, the assistant's text, `· thinking`, `$ tool … [status]`, `! error`. Streamed assistant
    /// deltas join on one line. In JSON/YAML each row is one JSON line `{provider,item,timestamp}` (or the stream event).
    /// </summary>
    private sealed class TimelinePrinter(CliOutput output, string? filter)
    {
        private bool _midLine;

        public void Entry(JsonObject entry)
        {
            if (output.Structured)
            {
                output.Out.WriteLine(entry.ToJsonString(CliOutput.JsonLine));
                return;
            }
            if (entry["item"] is JsonObject item) Line(item);
        }

        public void Event(JsonObject streamEvent, string? timestamp)
        {
            var type = WsInbound.Str(streamEvent, "type");
            if (type == "timeline" && streamEvent["item"] is JsonObject item)
            {
                if (!Matches(item, filter)) return;
                if (output.Structured)
                {
                    output.Out.WriteLine(new JsonObject { ["provider"] = WsInbound.Str(streamEvent, "provider"), ["item"] = item.DeepClone(), ["timestamp"] = timestamp }.ToJsonString(CliOutput.JsonLine));
                    return;
                }
                if (WsInbound.Str(item, "type") == "assistant_message")
                {
                    output.Out.Write(WsInbound.Str(item, "text"));
                    _midLine = true;
                    return;
                }
                Line(item);
                return;
            }
            if (output.Structured)
            {
                if (filter is null || (filter == "permissions" && type is "permission_requested" or "permission_resolved") || (filter == "errors" && type == "turn_failed"))
                    output.Out.WriteLine(new JsonObject { ["event"] = streamEvent.DeepClone(), ["timestamp"] = timestamp }.ToJsonString(CliOutput.JsonLine));
                return;
            }
            switch (type)
            {
                case "turn_completed" when filter is null or "text":
                    EndLine();
                    break;
                case "turn_failed" when filter is null or "errors":
                    EndLine();
                    output.Out.WriteLine($"! turn failed: {WsInbound.Str(streamEvent, "error")}");
                    break;
                case "turn_canceled" when filter is null:
                    EndLine();
                    output.Out.WriteLine($"! turn canceled: {WsInbound.Str(streamEvent, "reason")}");
                    break;
                case "permission_requested" when filter is null or "permissions":
                    EndLine();
                    var request = streamEvent["request"] as JsonObject ?? [];
                    output.Out.WriteLine($"? permission {Str(request, "id")}: {Str(request, "title", Str(request, "name"))}");
                    break;
                case "permission_resolved" when filter is null or "permissions":
                    EndLine();
                    output.Out.WriteLine($"? permission {WsInbound.Str(streamEvent, "requestId")}: {streamEvent["resolution"]?["behavior"]?.GetValue<string>() ?? "resolved"}");
                    break;
            }
        }

        private void Line(JsonObject item)
        {
            EndLine();
            var text = WsInbound.Str(item, "text") ?? "";
            switch (WsInbound.Str(item, "type"))
            {
                case "user_message":
                    output.Out.WriteLine("> " + text);
                    break;
                case "assistant_message":
                    output.Out.WriteLine(text);
                    break;
                case "reasoning":
                    output.Out.WriteLine("· " + text);
                    break;
                case "tool_call":
                    var detail = item["detail"] as JsonObject ?? [];
                    var what = WsInbound.Str(detail, "command") ?? WsInbound.Str(detail, "filePath") ?? "";
                    var error = item["error"] is JsonValue e && e.TryGetValue<string>(out var message) ? $": {message}" : "";
                    output.Out.WriteLine($"$ {WsInbound.Str(item, "name")} {what} [{WsInbound.Str(item, "status")}{error}]");
                    break;
                case "error":
                    output.Out.WriteLine("! " + WsInbound.Str(item, "message"));
                    break;
                default:
                    output.Out.WriteLine($"· {WsInbound.Str(item, "type")}");
                    break;
            }
        }

        public void EndLine()
        {
            if (!_midLine) return;
            output.Out.WriteLine();
            _midLine = false;
        }

        public void Flush() => output.Out.Flush();
    }
}
