using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Transport.Files;

namespace Paseo.Transport.Loops;

/// <summary>The loops on disk could not be read: the daemon serves no loops rather than overwrite them.</summary>
public sealed class LoopStoreDamagedException(string message) : Exception(message);

/// <summary>
/// The loops on disk, `$PASEO_HOME/loops/`: one file per loop, `&lt;id&gt;.json`, holding the loop record with its log in
/// Paseo's format (app-orchestration.md §3.1), pretty-printed, written atomically with mode 0600. Paseo keeps every loop
/// in one `loops.json` that it rewrites, in place, for every log line of any loop (§9); here a change writes only its
/// loop's file. A `loops.json` left by Paseo is read once: its loops become files of their own and it is renamed
/// `loops.json.imported`. A file that does not read turns loops off with the reason; it is never written over.
/// </summary>
public static partial class LoopStoreFile
{
    /// <summary>Paseo's single file (§3.5), imported at the first load.</summary>
    public const string PaseoFile = "loops.json";

    [GeneratedRegex("^[0-9a-f]{8}$")]
    private static partial Regex LoopId();

    public static bool IsValidId(string id) => LoopId().IsMatch(id);

    public static string PathOf(string directory, string id) =>
        IsValidId(id) ? Path.Combine(directory, id + ".json") : throw new ArgumentException($"not a loop id: {id}", nameof(id));

    /// <summary>Every loop (a Paseo loops.json imported first); a missing directory is no loops.</summary>
    public static IReadOnlyList<Loop> Load(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        var loops = new Dictionary<string, Loop>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (!IsValidId(name)) continue;
            var loop = Parse(Read(file) as JsonObject ?? throw Damaged(file, "not a JSON object"), file);
            if (loop.Id != name) throw Damaged(file, $"it holds loop {loop.Id}");
            loops[loop.Id] = loop;
        }
        var paseo = Path.Combine(directory, PaseoFile);
        if (File.Exists(paseo))
        {
            var imported = (Read(paseo) as JsonArray ?? throw Damaged(paseo, "not a JSON array"))
                .Select(l => Parse(l as JsonObject ?? throw Damaged(paseo, "a loop must be an object"), paseo)).ToList();
            foreach (var loop in imported.Where(l => !loops.ContainsKey(l.Id)))
            {
                if (!IsValidId(loop.Id)) throw Damaged(paseo, $"\"{loop.Id}\" is not a loop id (8 lowercase hex digits)");
                Save(directory, loop);
                loops[loop.Id] = loop;
            }
            File.Move(paseo, paseo + ".imported", overwrite: true);
        }
        return [.. loops.Values.OrderBy(l => l.CreatedAt, StringComparer.Ordinal)];
    }

    private static JsonNode? Read(string file)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(file));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw Damaged(file, e.Message);
        }
    }

    private static Loop Parse(JsonObject json, string file)
    {
        try
        {
            return Loop.FromJson(json);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw Damaged(file, e.Message);
        }
    }

    internal static LoopStoreDamagedException Damaged(string path, string reason) =>
        new($"{path} is damaged ({reason}); loops are off until it is repaired or moved aside (the daemon does not overwrite it)");

    public static void Save(string directory, Loop loop)
    {
        PrivateFiles.EnsurePrivateDirectory(directory);
        PrivateFiles.WriteAtomically(PathOf(directory, loop.Id), loop.ToJson().ToJsonString(StoredJson.Pretty) + "\n");
    }

    public static void Delete(string directory, string id) => File.Delete(PathOf(directory, id));
}
