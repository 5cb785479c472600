using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Protocol.Requests;

/// <summary>fetch_agents_request's `scope` and `filter` (app-schemas.md §F.1), also the filter of an agent_update subscription.</summary>
public sealed record AgentFilter(
    bool ActiveScope,
    IReadOnlyDictionary<string, string>? Labels,
    IReadOnlyList<string>? ProjectKeys,
    IReadOnlyList<AgentStatus>? Statuses,
    bool IncludeArchived,
    bool? RequiresAttention,
    bool FilterThinking,
    string? ThinkingOptionId)
{
    public static AgentFilter Read(RequestReader request)
    {
        var scope = request.OptionalString("scope");
        if (scope is not null and not "active") throw new InvalidRequestException("scope must be \"active\"");
        var filter = request.OptionalObject("filter");
        if (filter is null) return new AgentFilter(scope == "active", null, null, null, false, null, false, null);
        var reader = RequestReader.Of(filter);
        List<string>? projectKeys = null;
        if (reader.OptionalArray("projectKeys") is { } keys)
            projectKeys = keys.Select(k => k is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException("filter.projectKeys must be strings"))
                .Where(k => k.Trim().Length > 0).ToList();
        List<AgentStatus>? statuses = null;
        if (reader.OptionalArray("statuses") is { } list)
            statuses = list.Select(n => AgentStatusNames.Parse(n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null)
                ?? throw new InvalidRequestException("filter.statuses must be agent statuses")).ToList();
        var filterThinking = filter.ContainsKey("thinkingOptionId");
        var thinking = filterThinking ? reader.RequiredNullableString("thinkingOptionId") : null;
        return new AgentFilter(scope == "active", reader.OptionalLabels("labels"), projectKeys is { Count: > 0 } ? projectKeys : null, statuses,
            reader.OptionalBool("includeArchived") ?? false, reader.OptionalBool("requiresAttention"), filterThinking, thinking);
    }

    public bool Matches(AgentSnapshot agent, Paseo.Transport.Workspaces.WorkspaceRegistry? workspaces = null)
    {
        // Every agent has a workspace (the registry makes one for each): "active" scope means "not archived".
        if (agent.ArchivedAt is not null && (ActiveScope || !IncludeArchived)) return false;
        if (Labels is not null && Labels.Any(l => !agent.Labels.TryGetValue(l.Key, out var v) || v != l.Value)) return false;
        if (ProjectKeys is not null && !ProjectKeys.Contains((workspaces ?? Paseo.Transport.Workspaces.WorkspaceRegistry.Empty).ProjectKeyFor(agent.Cwd))) return false;
        if (Statuses is { Count: > 0 } && !Statuses.Contains(agent.Status)) return false;
        if (RequiresAttention is { } attention && agent.RequiresAttention != attention) return false;
        if (FilterThinking)
        {
            if (agent.EffectiveThinkingOptionId != ThinkingOptionId) return false;
        }
        return true;
    }
}
