using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Workspaces;

/// <summary>A file's revision (app-workspaces.md §2.9): its modification time in milliseconds (with a fraction) and size.</summary>
public sealed record ProjectConfigRevision(double MtimeMs, long Size)
{
    public JsonObject ToJson() => new() { ["mtimeMs"] = MtimeMs, ["size"] = Size };

    public static ProjectConfigRevision Of(FileInfo file) =>
        new(Math.Round((file.LastWriteTimeUtc - DateTime.UnixEpoch).TotalMilliseconds, 3), file.Length);
}

/// <summary>`paseo.json` at a project's root (app-workspaces.md §2.9): read and compare-and-swap write.</summary>
public static class ProjectConfigFile
{
    public const string FileName = "paseo.json";
    public const long MaxBytes = 1 << 20;

    public abstract record Outcome;
    public sealed record Ok(JsonObject? Config, ProjectConfigRevision? Revision) : Outcome;
    public sealed record Invalid(string Reason) : Outcome;
    public sealed record Stale(ProjectConfigRevision? Current) : Outcome;
    public sealed record WriteFailed(string Reason) : Outcome;

    public static Outcome Read(string root)
    {
        var file = new FileInfo(Path.Combine(root, FileName));
        if (!file.Exists) return new Ok(null, null);
        if (Files.UnixFiles.IsRegularFile(file.FullName) != true) return new Invalid($"{file.FullName} is not a regular file");
        if (file.Length > MaxBytes) return new Invalid($"{file.FullName} is larger than {MaxBytes} bytes");
        try
        {
            var config = JsonNode.Parse(File.ReadAllText(file.FullName, Encoding.UTF8));
            if (config is not JsonObject obj) return new Invalid("not a JSON object");
            if (Validate(obj) is { } reason) return new Invalid(reason);
            return new Ok(obj, ProjectConfigRevision.Of(file));
        }
        catch (JsonException e)
        {
            return new Invalid(e.Message);
        }
        catch (IOException e)
        {
            return new Invalid(e.Message);
        }
    }

    /// <summary>
    /// Writes <paramref name="config"/> (two-space JSON and a newline) when the file is still at <paramref name="expected"/>
    /// (both null = the file does not exist yet): temp file in the same directory, then rename.
    /// </summary>
    public static Outcome Write(string root, JsonObject config, ProjectConfigRevision? expected)
    {
        if (Validate(config) is { } reason) return new Invalid(reason);
        var path = Path.Combine(root, FileName);
        var temp = Path.Combine(root, $".paseo.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 }) + "\n");
            var current = File.Exists(path) ? ProjectConfigRevision.Of(new FileInfo(path)) : null;
            if (!(current is null && expected is null) && !(current is not null && expected is not null && current.Size == expected.Size && Math.Abs(current.MtimeMs - expected.MtimeMs) < 0.001))
            {
                File.Delete(temp);
                return new Stale(current);
            }
            File.Move(temp, path, overwrite: true);
            return new Ok(config, ProjectConfigRevision.Of(new FileInfo(path)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temp)) File.Delete(temp);
            return new WriteFailed(e.Message);
        }
    }

    /// <summary>The schema of §2.9: worktree.setup/teardown a string or strings, scripts an object of objects.</summary>
    public static string? Validate(JsonObject config)
    {
        if (config["worktree"] is { } worktree)
        {
            if (worktree is not JsonObject w) return "worktree must be an object";
            foreach (var key in new[] { "setup", "teardown" })
            {
                if (!w.ContainsKey(key)) continue;
                var value = w[key];
                var ok = value is JsonValue v && v.GetValueKind() == JsonValueKind.String
                         || value is JsonArray a && a.All(n => n is JsonValue e && e.GetValueKind() == JsonValueKind.String);
                if (!ok) return $"worktree.{key} must be a string or an array of strings";
            }
        }
        if (config["scripts"] is { } scripts)
        {
            if (scripts is not JsonObject s) return "scripts must be an object";
            foreach (var (name, entry) in s)
                if (entry is not JsonObject) return $"scripts.{name} must be an object";
        }
        return null;
    }
}
