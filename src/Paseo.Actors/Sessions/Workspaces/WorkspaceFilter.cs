using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Workspaces;

namespace Paseo.Actors.Sessions.Workspaces;

/// <summary>fetch_workspaces_request's `filter` (app-workspaces.md §2.5): blank values are ignored.</summary>
public sealed record WorkspaceFilter(string? Query, string? ProjectId, string? IdPrefix)
{
    public static WorkspaceFilter Read(RequestReader request)
    {
        if (request.OptionalObject("filter") is not { } filter) return new WorkspaceFilter(null, null, null);
        var reader = RequestReader.Of(filter);
        static string? NonBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        return new WorkspaceFilter(NonBlank(reader.OptionalString("query")), NonBlank(reader.OptionalString("projectId")), NonBlank(reader.OptionalString("idPrefix")));
    }

    public bool Matches(WorkspaceRecord workspace) =>
        (ProjectId is null || workspace.ProjectId == ProjectId)
        && (IdPrefix is null || workspace.WorkspaceId.StartsWith(IdPrefix, StringComparison.Ordinal))
        && (Query is null || workspace.DisplayName.Contains(Query, StringComparison.OrdinalIgnoreCase)
            || workspace.ProjectId.Contains(Query, StringComparison.OrdinalIgnoreCase) || workspace.WorkspaceId.Contains(Query, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// A fetch_workspaces cursor (app-workspaces.md §2.5): base64url of `{sort, values, id}` — the last row of a page; the
/// next page holds the rows strictly after it in the same order.
/// </summary>
public sealed record WorkspaceCursor(List<(string Key, string Direction)> Sort, Dictionary<string, object?> Values, string Id)
{
    public bool SortMatches(List<(string Key, string Direction)> sort) => sort.SequenceEqual(Sort);

    internal static string Write(List<(string Key, string Direction)> sort, SessionWorkspacesActor.WorkspaceRow row)
    {
        var values = new JsonObject();
        foreach (var (key, _) in sort)
            values[key] = row.Value(key) switch { long n => n, string s => s, _ => null };
        var json = new JsonObject
        {
            ["sort"] = new JsonArray([.. sort.Select(s => (JsonNode)new JsonObject { ["key"] = s.Key, ["direction"] = s.Direction })]),
            ["values"] = values,
            ["id"] = row.Workspace.WorkspaceId,
        };
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json.ToJsonString())).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static WorkspaceCursor? Read(string cursor)
    {
        try
        {
            var text = cursor.Replace('-', '+').Replace('_', '/');
            text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
            if (JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(text))) is not JsonObject obj) return null;
            if (obj["sort"] is not JsonArray sortJson || obj["values"] is not JsonObject valuesJson || obj["id"] is not JsonValue idValue || !idValue.TryGetValue<string>(out var id)) return null;
            var sort = new List<(string, string)>();
            foreach (var entry in sortJson)
            {
                if (entry?["key"] is not JsonValue k || !k.TryGetValue<string>(out var key) || entry["direction"] is not JsonValue d || !d.TryGetValue<string>(out var direction)) return null;
                sort.Add((key, direction));
            }
            var values = new Dictionary<string, object?>();
            foreach (var (key, value) in valuesJson)
                values[key] = value switch
                {
                    null => null,
                    JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<long>(),
                    JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                    _ => throw new FormatException("cursor values are numbers, strings or null"),
                };
            return new WorkspaceCursor(sort, values, id);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Orders a row against a cursor: the sort keys in turn (null before any value), then the id ascending.</summary>
    internal static int Compare(List<(string Key, string Direction)> sort, SessionWorkspacesActor.WorkspaceRow row, WorkspaceCursor cursor)
    {
        foreach (var (key, direction) in sort)
        {
            var a = row.Value(key);
            var b = cursor.Values.GetValueOrDefault(key);
            var c = (a, b) switch
            {
                (null, null) => 0,
                (null, _) => -1,
                (_, null) => 1,
                (long x, long y) => x.CompareTo(y),
                (string x, string y) => string.CompareOrdinal(x, y),
                _ => 0,
            };
            if (c != 0) return direction == "desc" ? -c : c;
        }
        return string.CompareOrdinal(row.Workspace.WorkspaceId, cursor.Id);
    }
}
