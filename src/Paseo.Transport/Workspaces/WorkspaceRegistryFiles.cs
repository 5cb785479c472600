using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Workspaces;

/// <summary>A registry file that cannot be read as it must be: the daemon says so and leaves the file as it is.</summary>
public sealed class WorkspaceRegistryFileException(string message) : Exception(message);

/// <summary>
/// `$PASEO_HOME/projects/projects.json` and `workspaces.json` (app-workspaces.md §2.1), in Paseo's own format (JSON arrays,
/// two-space indent), so registries move between Paseo and Paseo.NET. Parsing is strict: a missing or mistyped key, an
/// unknown key, a bad date or a duplicate id makes the file "damaged" with the reason; it is never silently replaced.
/// Writes are atomic (temp file, fsync, rename) and private (0600).
/// </summary>
public static class WorkspaceRegistryFiles
{
    public const string ProjectsFile = "projects.json";
    public const string WorkspacesFile = "workspaces.json";

    private static readonly string[] ProjectKeys = ["projectId", "rootPath", "kind", "displayName", "createdAt", "updatedAt", "archivedAt"];
    private static readonly string[] WorkspaceKeys = ["workspaceId", "projectId", "cwd", "kind", "displayName", "createdAt", "updatedAt", "archivedAt"];

    /// <summary>The registry on disk, or null when either file is missing (the caller rebuilds it from the agents, as Paseo does).</summary>
    public static WorkspaceRegistry? Load(string directory)
    {
        var projectsPath = Path.Combine(directory, ProjectsFile);
        var workspacesPath = Path.Combine(directory, WorkspacesFile);
        if (!File.Exists(projectsPath) || !File.Exists(workspacesPath)) return null;
        var projects = ReadArray(projectsPath, ProjectKeys, (o, at) => new ProjectRecord(
            Text(o, "projectId", at), Text(o, "rootPath", at), OneOf(o, "kind", at, "git", "non_git"), Text(o, "displayName", at),
            Time(o, "createdAt", at), Time(o, "updatedAt", at), NullableTime(o, "archivedAt", at)), p => p.ProjectId);
        var workspaces = ReadArray(workspacesPath, WorkspaceKeys, (o, at) => new WorkspaceRecord(
            Text(o, "workspaceId", at), Text(o, "projectId", at), Text(o, "cwd", at), OneOf(o, "kind", at, "local_checkout", "worktree", "directory"),
            Text(o, "displayName", at), Time(o, "createdAt", at), Time(o, "updatedAt", at), NullableTime(o, "archivedAt", at)), w => w.WorkspaceId);
        return new WorkspaceRegistry(projects, workspaces);
    }

    public static void Save(string directory, WorkspaceRegistry registry)
    {
        PrivateFiles.EnsurePrivateDirectory(directory);
        PrivateFiles.WriteAtomically(Path.Combine(directory, ProjectsFile), Serialize(registry.Projects.Values.Select(p => new JsonObject
        {
            ["projectId"] = p.ProjectId, ["rootPath"] = p.RootPath, ["kind"] = p.Kind, ["displayName"] = p.DisplayName,
            ["createdAt"] = IsoTime.Format(p.CreatedAt), ["updatedAt"] = IsoTime.Format(p.UpdatedAt),
            ["archivedAt"] = p.ArchivedAt is { } a ? IsoTime.Format(a) : null,
        })));
        PrivateFiles.WriteAtomically(Path.Combine(directory, WorkspacesFile), Serialize(registry.Workspaces.Values.Select(w => new JsonObject
        {
            ["workspaceId"] = w.WorkspaceId, ["projectId"] = w.ProjectId, ["cwd"] = w.Cwd, ["kind"] = w.Kind, ["displayName"] = w.DisplayName,
            ["createdAt"] = IsoTime.Format(w.CreatedAt), ["updatedAt"] = IsoTime.Format(w.UpdatedAt),
            ["archivedAt"] = w.ArchivedAt is { } a ? IsoTime.Format(a) : null,
        })));
    }

    private static string Serialize(IEnumerable<JsonObject> records) =>
        new JsonArray([.. records]).ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 }) + "\n";

    private static ImmutableSortedDictionary<string, T> ReadArray<T>(string path, string[] keys, Func<JsonObject, string, T> read, Func<T, string> id)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path, Encoding.UTF8));
        }
        catch (JsonException e)
        {
            throw new WorkspaceRegistryFileException($"{path}: not valid JSON ({e.Message})");
        }
        catch (IOException e)
        {
            throw new WorkspaceRegistryFileException($"{path}: cannot be read ({e.Message})");
        }
        if (root is not JsonArray array) throw new WorkspaceRegistryFileException($"{path}: expected a JSON array of records");
        var result = ImmutableSortedDictionary.CreateBuilder<string, T>(StringComparer.Ordinal);
        for (var i = 0; i < array.Count; i++)
        {
            var at = $"{path}: record [{i}]";
            if (array[i] is not JsonObject record) throw new WorkspaceRegistryFileException($"{at}: expected an object");
            if (record.Select(p => p.Key).FirstOrDefault(k => !keys.Contains(k)) is { } unknown)
                throw new WorkspaceRegistryFileException($"{at}: unknown key \"{unknown}\"");
            var value = read(record, at);
            if (!result.TryAdd(id(value), value)) throw new WorkspaceRegistryFileException($"{at}: duplicate id \"{id(value)}\"");
        }
        return result.ToImmutable();
    }

    private static string Text(JsonObject o, string key, string at) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s
            : throw new WorkspaceRegistryFileException($"{at}: \"{key}\" must be a non-empty string");

    private static string OneOf(JsonObject o, string key, string at, params string[] allowed)
    {
        var value = Text(o, key, at);
        return allowed.Contains(value) ? value : throw new WorkspaceRegistryFileException($"{at}: \"{key}\" must be one of {string.Join(", ", allowed)}, got \"{value}\"");
    }

    private static DateTimeOffset Time(JsonObject o, string key, string at) =>
        DateTimeOffset.TryParse(Text(o, key, at), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t
            : throw new WorkspaceRegistryFileException($"{at}: \"{key}\" must be an ISO date");

    private static DateTimeOffset? NullableTime(JsonObject o, string key, string at) =>
        !o.ContainsKey(key) ? throw new WorkspaceRegistryFileException($"{at}: \"{key}\" is required (null allowed)")
        : o[key] is null ? null : Time(o, key, at);
}
