using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Schedules;

/// <summary>What a schedule runs its prompt in (§2.1): an existing agent, or a new agent per run.</summary>
public abstract record ScheduleTarget
{
    public sealed record Agent(string AgentId) : ScheduleTarget;

    /// <summary>The agent config, as sent (Paseo's NewAgentConfig: provider, cwd, model…).</summary>
    public sealed record NewAgent(JsonObject Config) : ScheduleTarget;
}

/// <summary>One run of a schedule (§2.1).</summary>
public sealed record ScheduleRun(string Id, string ScheduledFor, string StartedAt, string? EndedAt, string Status, string? AgentId, string? Output, string? Error)
{
    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["scheduledFor"] = ScheduledFor, ["startedAt"] = StartedAt, ["endedAt"] = EndedAt, ["status"] = Status,
        ["agentId"] = AgentId, ["output"] = Output, ["error"] = Error,
    };

    public static ScheduleRun FromJson(JsonObject json) => new(
        StoredJson.Required(json, "id"), StoredJson.Required(json, "scheduledFor"), StoredJson.Required(json, "startedAt"), StoredJson.Nullable(json, "endedAt"),
        StoredJson.OneOf(StoredJson.Required(json, "status"), ["running", "succeeded", "failed"], "a run's status"),
        StoredJson.Nullable(json, "agentId"), StoredJson.Nullable(json, "output"), StoredJson.Nullable(json, "error"));

}

/// <summary>A schedule as stored (`Stored` of §2.1: its Summary and its runs).</summary>
public sealed partial record Schedule(
    string Id, string? Name, string Prompt, Cadence Cadence, ScheduleTarget Target, string Status,
    string CreatedAt, string UpdatedAt, string? NextRunAt, string? LastRunAt, string? PausedAt, string? ExpiresAt, int? MaxRuns,
    IReadOnlyList<ScheduleRun> Runs, int FinishedRuns = 0)
{
    /// <summary>Schedule ids: 8 lowercase hex digits. Anything else is refused before it can name a file.</summary>
    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));

    public JsonObject ToSummary()
    {
        var json = new JsonObject
        {
            ["id"] = Id, ["name"] = Name, ["prompt"] = Prompt, ["cadence"] = CadenceJson(Cadence), ["target"] = TargetJson(Target), ["status"] = Status,
            ["createdAt"] = CreatedAt, ["updatedAt"] = UpdatedAt, ["nextRunAt"] = NextRunAt, ["lastRunAt"] = LastRunAt, ["pausedAt"] = PausedAt,
            ["expiresAt"] = ExpiresAt, ["maxRuns"] = MaxRuns,
        };
        return json;
    }

    public JsonObject ToStored()
    {
        var json = ToSummary();
        json["runs"] = new JsonArray([.. Runs.Select(r => (JsonNode)r.ToJson())]);
        return json;
    }

    /// <summary>The file's record: Stored, and (ours) the runs finished so far, which maxRuns counts even when the log keeps fewer.</summary>
    public JsonObject ToFile()
    {
        var json = ToStored();
        json["finishedRuns"] = FinishedRuns;
        return json;
    }

    public static JsonObject CadenceJson(Cadence cadence) => cadence switch
    {
        Cadence.Every every => new JsonObject { ["type"] = "every", ["everyMs"] = every.EveryMs },
        // timeZone is ours (Paseo evaluates cron in UTC); its clients strip keys they do not know.
        Cadence.Cron { TimeZone: { } zone } cron => new JsonObject { ["type"] = "cron", ["expression"] = cron.Expression, ["timeZone"] = zone },
        Cadence.Cron cron => new JsonObject { ["type"] = "cron", ["expression"] = cron.Expression },
        _ => throw new ArgumentOutOfRangeException(nameof(cadence)),
    };

    public static JsonObject TargetJson(ScheduleTarget target) => target switch
    {
        ScheduleTarget.Agent agent => new JsonObject { ["type"] = "agent", ["agentId"] = agent.AgentId },
        ScheduleTarget.NewAgent created => new JsonObject { ["type"] = "new-agent", ["config"] = created.Config.DeepClone() },
        _ => throw new ArgumentOutOfRangeException(nameof(target)),
    };

    public static Schedule FromStored(JsonObject json)
    {
        var cadence = json["cadence"] as JsonObject ?? throw new FormatException("\"cadence\" must be an object");
        var target = json["target"] as JsonObject ?? throw new FormatException("\"target\" must be an object");
        var id = StoredJson.Required(json, "id");
        if (!IsValidId(id)) throw new FormatException($"\"id\" must be 8 lowercase hex digits, got \"{id}\"");
        var runs = (json["runs"] as JsonArray ?? []).Select(r => ScheduleRun.FromJson(r as JsonObject ?? throw new FormatException("a run must be an object"))).ToList();
        var schedule = new Schedule(
            id, StoredJson.Nullable(json, "name"), StoredJson.Required(json, "prompt"),
            WsInbound.Str(cadence, "type") switch
            {
                "every" when cadence["everyMs"] is JsonValue v && v.TryGetValue<long>(out var ms) && ms > 0 => new Cadence.Every(ms),
                "cron" => new Cadence.Cron(StoredJson.Required(cadence, "expression"), StoredJson.Nullable(cadence, "timeZone")),
                _ => throw new FormatException("\"cadence\" must be {type:\"every\", everyMs > 0} or {type:\"cron\", expression}"),
            },
            WsInbound.Str(target, "type") switch
            {
                "agent" or "self" => new ScheduleTarget.Agent(StoredJson.Required(target, "agentId")),
                "new-agent" when target["config"] is JsonObject config => new ScheduleTarget.NewAgent((JsonObject)config.DeepClone()),
                _ => throw new FormatException("\"target\" must be an agent or a new-agent config"),
            },
            StoredJson.OneOf(StoredJson.Required(json, "status"), ["active", "paused", "completed"], "\"status\""),
            StoredJson.Required(json, "createdAt"), StoredJson.Required(json, "updatedAt"), StoredJson.Nullable(json, "nextRunAt"), StoredJson.Nullable(json, "lastRunAt"),
            StoredJson.Nullable(json, "pausedAt"), StoredJson.Nullable(json, "expiresAt"),
            json["maxRuns"] is JsonValue max && max.TryGetValue<int>(out var m) ? m : null,
            runs,
            json["finishedRuns"] is JsonValue finished && finished.TryGetValue<int>(out var f) ? f : runs.Count(r => r.Status != "running"));
        // What the schedule will compute with must read now, or the file counts as damaged (not a schedule that fails at each slot).
        try
        {
            if (schedule.Cadence is Cadence.Cron cron) CronCadence.Parse(cron.Expression, cron.TimeZone);
            if (schedule.Cadence is Cadence.Every { EveryMs: > CadenceTimes.MaxEveryMs }) throw new ScheduleException("the interval is too long");
        }
        catch (ScheduleException e)
        {
            throw new FormatException(e.Message);
        }
        foreach (var (key, value) in new[] { ("createdAt", schedule.CreatedAt), ("updatedAt", schedule.UpdatedAt), ("nextRunAt", schedule.NextRunAt), ("expiresAt", schedule.ExpiresAt) })
            if (value is not null && !IsoTime.TryParse(value, out _)) throw new FormatException($"\"{key}\" is not a time: \"{value}\"");
        return schedule;
    }

    [GeneratedRegex("^[0-9a-f]{8}$")]
    private static partial Regex IdPattern();
}
