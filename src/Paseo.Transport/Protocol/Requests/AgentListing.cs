using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol.Requests;

/// <summary>
/// fetch_agents paging (app-schemas.md §F.1): the order of a sort, and the opaque cursor — the sort it was made for and an
/// offset, base64url — so a cursor made for another sort is refused rather than misread.
/// </summary>
public static class AgentListing
{
    public static IEnumerable<AgentSnapshot> Sort(IEnumerable<AgentSnapshot> agents, IReadOnlyList<AgentSort> sort)
    {
        IOrderedEnumerable<AgentSnapshot>? ordered = null;
        foreach (var (key, direction) in sort)
        {
            Func<AgentSnapshot, IComparable> selector = key switch
            {
                "status_priority" => a => StatusPriority(a),
                "created_at" => a => a.CreatedAt,
                "title" => a => a.Title ?? "",
                _ => a => a.UpdatedAt,
            };
            var descending = direction == "desc";
            ordered = ordered is null
                ? descending ? agents.OrderByDescending(selector) : agents.OrderBy(selector)
                : descending ? ordered.ThenByDescending(selector) : ordered.ThenBy(selector);
        }
        return (ordered ?? agents.OrderBy(_ => 0)).ThenBy(a => a.Id, StringComparer.Ordinal);
    }

    /// <summary>0 = waiting on a permission, 1 = error, 2 = running, 3 = initializing, 4 = the rest ("asc" = most urgent first).</summary>
    public static int StatusPriority(AgentSnapshot agent) =>
        agent.PendingPermissions.Count > 0 || agent.AttentionReason == "permission" ? 0
        : agent.Status == AgentStatus.Error || agent.AttentionReason == "error" ? 1
        : agent.Status == AgentStatus.Running ? 2
        : agent.Status == AgentStatus.Initializing ? 3
        : 4;

    /// <summary>What a cursor is bound to: the sort, as one string.</summary>
    public static string SortKey(IReadOnlyList<AgentSort> sort) => JsonSerializer.Serialize(sort.Select(s => $"{s.Key}:{s.Direction}"));

    public static string WriteCursor(string sortKey, int offset) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["sort"] = sortKey, ["offset"] = offset }.ToJsonString()))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryReadCursor(string cursor, string sortKey, out int offset)
    {
        offset = 0;
        try
        {
            var text = cursor.Replace('-', '+').Replace('_', '/');
            text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
            if (JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(text))) is not JsonObject obj) return false;
            if (WsInbound.Str(obj, "sort") != sortKey || obj["offset"] is not JsonValue value || !value.TryGetValue(out offset)) return false;
            return offset >= 0;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return false;
        }
    }
}
