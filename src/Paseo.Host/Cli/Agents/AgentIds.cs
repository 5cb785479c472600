using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>
/// Which agent a user meant (app-protocol.md §7): exact id → unique id prefix → unique case-insensitive title → unique title
/// substring. Paseo falls back to the first prefix match; Paseo.NET refuses an ambiguous id instead (AMBIGUOUS_AGENT, with the
/// candidates), because `stop`, `archive` and `delete` must never act on an agent the user did not name.
/// </summary>
public static class AgentIds
{
    public static JsonObject Resolve(IReadOnlyList<JsonObject> agents, string query)
    {
        if (string.IsNullOrWhiteSpace(query)) throw new CliException("AGENT_NOT_FOUND", "no agent id given");
        string Id(JsonObject a) => WsInbound.Str(a, "id") ?? "";
        string Title(JsonObject a) => WsInbound.Str(a, "title") ?? "";

        if (agents.FirstOrDefault(a => Id(a) == query) is { } exact) return exact;
        var byPrefix = agents.Where(a => Id(a).StartsWith(query, StringComparison.Ordinal)).ToList();
        if (byPrefix.Count == 1) return byPrefix[0];
        if (byPrefix.Count > 1) throw Ambiguous(query, byPrefix);
        var byTitle = agents.Where(a => string.Equals(Title(a), query, StringComparison.OrdinalIgnoreCase)).ToList();
        if (byTitle.Count == 1) return byTitle[0];
        if (byTitle.Count > 1) throw Ambiguous(query, byTitle);
        var bySubstring = agents.Where(a => Title(a).Contains(query, StringComparison.OrdinalIgnoreCase)).ToList();
        if (bySubstring.Count == 1) return bySubstring[0];
        if (bySubstring.Count > 1) throw Ambiguous(query, bySubstring);
        throw new CliException("AGENT_NOT_FOUND", $"Agent not found: {query}");
    }

    private static CliException Ambiguous(string query, List<JsonObject> candidates) =>
        new("AMBIGUOUS_AGENT",
            $"Agent identifier {query} is ambiguous: {string.Join(", ", candidates.Take(5).Select(Describe))}{(candidates.Count > 5 ? ", ..." : "")}",
            new JsonObject { ["candidates"] = new JsonArray(candidates.Select(c => (JsonNode)(WsInbound.Str(c, "id") ?? "")).ToArray()) });

    private static string Describe(JsonObject agent)
    {
        var id = WsInbound.Str(agent, "id") ?? "";
        var title = WsInbound.Str(agent, "title");
        return title is null ? id : $"{id} ({title})";
    }
}
