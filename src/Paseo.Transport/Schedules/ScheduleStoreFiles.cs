using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Schedules;

/// <summary>
/// `$PASEO_HOME/schedules/&lt;id&gt;.json` (app-orchestration.md §2.6): one Stored record per file, pretty-printed. Unlike
/// Paseo's (rewritten in place, every file re-read every second), each is written atomically with mode 0600 and read
/// once at start. A file that does not read is reported and left alone; the other schedules go on.
/// </summary>
public static class ScheduleStoreFiles
{
    public static string PathOf(string directory, string id) =>
        Schedule.IsValidId(id) ? Path.Combine(directory, id + ".json") : throw new ScheduleException($"Invalid schedule id: {id}");

    /// <summary>Every schedule of <paramref name="directory"/>, and the files that could not be read (path and reason).</summary>
    public static (IReadOnlyList<Schedule> Schedules, IReadOnlyList<(string Path, string Reason)> Damaged) LoadAll(string directory)
    {
        var schedules = new List<Schedule>();
        var damaged = new List<(string, string)>();
        if (!Directory.Exists(directory)) return (schedules, damaged);
        foreach (var path in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var schedule = Schedule.FromStored(JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("not a JSON object"));
                if (Path.GetFileNameWithoutExtension(path) != schedule.Id) throw new FormatException($"the file's name does not match its id {schedule.Id}");
                schedules.Add(schedule);
            }
            catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                damaged.Add((path, e.Message));
            }
        }
        return (schedules, damaged);
    }

    public static void Save(string directory, Schedule schedule)
    {
        PrivateFiles.EnsurePrivateDirectory(directory);
        PrivateFiles.WriteAtomically(PathOf(directory, schedule.Id), schedule.ToFile().ToJsonString(StoredJson.Pretty) + "\n");
    }

    public static void Delete(string directory, string id)
    {
        var path = PathOf(directory, id);
        if (File.Exists(path)) File.Delete(path);
    }
}
