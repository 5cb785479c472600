using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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
        Req(json, "id"), Req(json, "scheduledFor"), Req(json, "startedAt"), Opt(json, "endedAt"),
        OneOf(Req(json, "status"), ["running", "succeeded", "failed"], "a run's status"),
        Opt(json, "agentId"), Opt(json, "output"), Opt(json, "error"));

    internal static string OneOf(string value, string[] allowed, string what) =>
        allowed.Contains(value) ? value : throw new FormatException($"{what} must be {string.Join(", ", allowed)}, got \"{value}\"");

    internal static string Req(JsonObject json, string key) => WsInbound.Str(json, key) ?? throw new FormatException($"\"{key}\" must be a string");

    internal static string? Opt(JsonObject json, string key) => json[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new FormatException($"\"{key}\" must be a string or null"),
    };
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
        var id = ScheduleRun.Req(json, "id");
        if (!IsValidId(id)) throw new FormatException($"\"id\" must be 8 lowercase hex digits, got \"{id}\"");
        var runs = (json["runs"] as JsonArray ?? []).Select(r => ScheduleRun.FromJson(r as JsonObject ?? throw new FormatException("a run must be an object"))).ToList();
        var schedule = new Schedule(
            id, ScheduleRun.Opt(json, "name"), ScheduleRun.Req(json, "prompt"),
            WsInbound.Str(cadence, "type") switch
            {
                "every" when cadence["everyMs"] is JsonValue v && v.TryGetValue<long>(out var ms) && ms > 0 => new Cadence.Every(ms),
                "cron" => new Cadence.Cron(ScheduleRun.Req(cadence, "expression"), ScheduleRun.Opt(cadence, "timeZone")),
                _ => throw new FormatException("\"cadence\" must be {type:\"every\", everyMs > 0} or {type:\"cron\", expression}"),
            },
            WsInbound.Str(target, "type") switch
            {
                "agent" or "self" => new ScheduleTarget.Agent(ScheduleRun.Req(target, "agentId")),
                "new-agent" when target["config"] is JsonObject config => new ScheduleTarget.NewAgent((JsonObject)config.DeepClone()),
                _ => throw new FormatException("\"target\" must be an agent or a new-agent config"),
            },
            ScheduleRun.OneOf(ScheduleRun.Req(json, "status"), ["active", "paused", "completed"], "\"status\""),
            ScheduleRun.Req(json, "createdAt"), ScheduleRun.Req(json, "updatedAt"), ScheduleRun.Opt(json, "nextRunAt"), ScheduleRun.Opt(json, "lastRunAt"),
            ScheduleRun.Opt(json, "pausedAt"), ScheduleRun.Opt(json, "expiresAt"),
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
            if (value is not null && !IsoTimes.TryParse(value, out _)) throw new FormatException($"\"{key}\" is not a time: \"{value}\"");
        return schedule;
    }

    [GeneratedRegex("^[0-9a-f]{8}$")]
    private static partial Regex IdPattern();
}

/// <summary>Times as schedules store them (ISO 8601, UTC).</summary>
public static class IsoTimes
{
    public static bool TryParse(string value, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out time);
}
