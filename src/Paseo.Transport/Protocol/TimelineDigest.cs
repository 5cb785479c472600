using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol;

/// <summary>
/// A timeline item as one digest entry (app-orchestration.md §3.3: what a loop logs of its worker and verifier): the
/// assistant's text as it is, <c>[User] …</c>, <c>[Thought] …</c>, <c>[Tool] summary</c>, <c>[Tasks]</c> with
/// <c>- [x] …</c> lines, <c>[Error] …</c>, <c>[Compacted]</c>. The spec gives <c>[Shell] npm test</c> as the one tool
/// example; the other tools' display names here (Read, Edit, Write, Search, Fetch, Agent, Plan) are ours.
/// </summary>
public static class TimelineDigest
{
    /// <summary>The entry for <paramref name="item"/>, or null for one that says nothing (an empty chunk, a compaction still loading).</summary>
    public static string? Of(JsonObject item)
    {
        switch (WsInbound.Str(item, "type"))
        {
            case "assistant_message":
                return WsInbound.Str(item, "text") is { Length: > 0 } text ? text : null;
            case "user_message":
                return "[User] " + WsInbound.Str(item, "text");
            case "reasoning":
                return WsInbound.Str(item, "text") is { Length: > 0 } thought ? "[Thought] " + thought : null;
            case "todo":
                var lines = (item["items"] as JsonArray ?? []).OfType<JsonObject>()
                    .Select(t => $"- [{(t["completed"] is JsonValue v && v.TryGetValue<bool>(out var done) && done ? "x" : " ")}] {WsInbound.Str(t, "text")}");
                return string.Join("\n", lines.Prepend("[Tasks]"));
            case "error":
                return "[Error] " + WsInbound.Str(item, "message");
            case "compaction":
                return WsInbound.Str(item, "status") == "completed" ? "[Compacted]" : null;
            case "tool_call":
                return Tool(item);
            default:
                return null;
        }
    }

    /// <summary>
    /// get_agent_activity's content (app-orchestration.md §4.5): a header line, a blank line and the digest of the last
    /// <paramref name="limit"/> entries (0: all). Also a schedule run's output when its turn said nothing (§2.5).
    /// </summary>
    public static string Activity(IReadOnlyList<JsonObject> items, int limit)
    {
        var all = items.Select(Of).OfType<string>().ToList();
        var shown = limit > 0 && all.Count > limit ? all[^limit..] : all;
        string Activities(int n) => n == 1 ? "activity" : "activities";
        var header = shown.Count < all.Count
            ? $"Showing {shown.Count} of {all.Count} {Activities(all.Count)} (limited to {limit})"
            : $"Showing all {all.Count} {Activities(all.Count)}";
        return header + "\n\n" + (shown.Count == 0 ? "No activity to display." : string.Join("\n", shown));
    }

    private static string Tool(JsonObject call)
    {
        var name = WsInbound.Str(call, "name") ?? "Tool";
        var detail = call["detail"] as JsonObject;
        var (display, summary) = WsInbound.Str(detail ?? [], "type") switch
        {
            "shell" => ("Shell", WsInbound.Str(detail!, "command")),
            "read" => ("Read", WsInbound.Str(detail!, "filePath")),
            "edit" => ("Edit", WsInbound.Str(detail!, "filePath")),
            "write" => ("Write", WsInbound.Str(detail!, "filePath")),
            "search" => ("Search", WsInbound.Str(detail!, "query")),
            "fetch" => ("Fetch", WsInbound.Str(detail!, "url")),
            "sub_agent" => ("Agent", WsInbound.Str(detail!, "description")),
            "plan" => ("Plan", null),
            "plain_text" => (WsInbound.Str(detail!, "label") ?? name, WsInbound.Str(detail!, "text")),
            _ => (name, null),
        };
        return string.IsNullOrWhiteSpace(summary) ? $"[{display}]" : $"[{display}] {FirstLine(summary)}";
    }

    private static string FirstLine(string text)
    {
        var line = text.Trim();
        var end = line.IndexOf('\n');
        return end < 0 ? line : line[..end].TrimEnd() + " …";
    }
}
