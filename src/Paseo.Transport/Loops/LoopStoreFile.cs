using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Loops;

/// <summary>The loops on disk could not be read: the daemon serves no loops rather than overwrite them.</summary>
public sealed class LoopStoreDamagedException(string message) : Exception(message);

/// <summary>
/// `$PASEO_HOME/loops/loops.json` (app-orchestration.md §3.5): a JSON array of every loop with its log, sorted by
/// createdAt, pretty-printed with two spaces — Paseo's format, so Paseo's file loads. Unlike Paseo's, it is written
/// atomically (a temp file then a rename, mode 0600), and a file that does not read is refused with the reason and
/// kept, never replaced by <c>[]</c>.
/// </summary>
public static class LoopStoreFile
{
    public static IReadOnlyList<Loop> Load(string path)
    {
        if (!File.Exists(path)) return [];
        JsonArray array;
        try
        {
            array = JsonNode.Parse(File.ReadAllText(path)) as JsonArray ?? throw new FormatException("not a JSON array");
        }
        catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw Damaged(path, e.Message);
        }
        try
        {
            var loops = array.Select(l => Loop.FromJson(l as JsonObject ?? throw new FormatException("a loop must be an object"))).ToList();
            var ids = new HashSet<string>();
            foreach (var loop in loops)
                if (!ids.Add(loop.Id)) throw new FormatException($"loop {loop.Id} appears twice");
            return loops;
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw Damaged(path, e.Message);
        }
    }

    private static LoopStoreDamagedException Damaged(string path, string reason) =>
        new($"{path} is damaged ({reason}); loops are off until it is repaired or moved aside (the daemon does not overwrite it)");

    /// <summary>Writes every loop, sorted by createdAt (ties keep their order).</summary>
    public static void Save(string path, IEnumerable<Loop> loops)
    {
        var array = new JsonArray([.. loops.OrderBy(l => l.CreatedAt, StringComparer.Ordinal).Select(l => (JsonNode)l.ToJson())]);
        PrivateFiles.EnsurePrivateDirectory(Path.GetDirectoryName(path)!);
        PrivateFiles.WriteAtomically(path, array.ToJsonString(StoredJson.Pretty) + "\n");
    }
}
