using System.Text.Json.Nodes;
using Paseo.Host.Cli.Agents;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Schedules;

/// <summary>
/// `paseo schedule create|ls|inspect|logs|pause|resume|delete` (app-orchestration.md §5): Paseo's commands, flags,
/// rows and codes, and one flag of ours, `--timezone`, for a cron in a named zone.
/// </summary>
public sealed class ScheduleCommands(AgentCommands connection, IReadOnlyDictionary<string, string?> env)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public sealed record CreateOptions(string Prompt, string? Every, string? Cron, string? TimeZone, string? Name, string? Target, string? Provider,
        string? MaxRuns, string? ExpiresIn, string? Cwd);

    public Task<int> CreateAsync(CliContext context, CreateOptions o) => connection.Guard(context, () =>
    {
        var prompt = o.Prompt.Trim();
        if (prompt.Length == 0) throw new CliException("INVALID_PROMPT", "The schedule's prompt is empty");
        if ((o.Every is null) == (o.Cron is null)) throw new CliException("INVALID_CADENCE", "Give exactly one of --every and --cron");
        JsonObject cadence;
        if (o.Every is not null)
        {
            var every = Durations.Orchestration(o.Every, "INVALID_CADENCE");
            if (every <= TimeSpan.Zero) throw new CliException("INVALID_CADENCE", $"--every {o.Every}: the interval must be above zero");
            cadence = new JsonObject { ["type"] = "every", ["everyMs"] = (long)every.TotalMilliseconds };
        }
        else
        {
            cadence = new JsonObject { ["type"] = "cron", ["expression"] = o.Cron!.Trim() };
            if (!string.IsNullOrWhiteSpace(o.TimeZone)) cadence["timeZone"] = o.TimeZone.Trim();
        }
        var request = new JsonObject { ["prompt"] = prompt, ["cadence"] = cadence, ["target"] = Target(o) };
        if (!string.IsNullOrWhiteSpace(o.Name)) request["name"] = o.Name.Trim();
        if (o.MaxRuns is not null)
            request["maxRuns"] = int.TryParse(o.MaxRuns, out var max) && max > 0 ? max : throw new CliException("INVALID_INTEGER", $"--max-runs {o.MaxRuns}: expected a whole number above 0");
        if (o.ExpiresIn is not null) request["expiresAt"] = IsoTime.Format(DateTimeOffset.UtcNow + Durations.Orchestration(o.ExpiresIn, "INVALID_DURATION"));
        return connection.WithClient(context, async client =>
        {
            PrintSchedule(context, (JsonObject)(await client.RequestAsync("schedule/create", request, RequestTimeout))["schedule"]!);
            return 0;
        });
    });

    /// <summary>§5: no --target is `self` inside an agent (without --provider), else a new agent.</summary>
    private JsonObject Target(CreateOptions o)
    {
        var self = env.GetValueOrDefault("PASEO_AGENT_ID")?.Trim() is { Length: > 0 } id ? id : null;
        var target = o.Target ?? (self is not null && o.Provider is null ? "self" : "new-agent");
        if (o.Provider is not null && target != "new-agent") throw new CliException("INVALID_TARGET", "--provider goes with --target new-agent only");
        switch (target)
        {
            case "self":
                return self is not null ? new JsonObject { ["type"] = "self", ["agentId"] = self }
                    : throw new CliException("INVALID_TARGET", "--target self works only inside an agent (PASEO_AGENT_ID is not set)");
            case "new-agent":
                if (string.IsNullOrWhiteSpace(o.Provider)) throw new CliException("MISSING_PROVIDER", "A new agent needs --provider (claude, codex/gpt-5, mock, ...)");
                var slash = o.Provider.IndexOf('/');
                var config = new JsonObject { ["provider"] = slash < 0 ? o.Provider : o.Provider[..slash], ["cwd"] = Path.GetFullPath(o.Cwd ?? Environment.CurrentDirectory) };
                if (slash >= 0 && o.Provider[(slash + 1)..] is { Length: > 0 } model) config["model"] = model;
                return new JsonObject { ["type"] = "new-agent", ["config"] = config };
            default:
                return Guid.TryParse(target, out _) && target.Length == 36 ? new JsonObject { ["type"] = "agent", ["agentId"] = target }
                    : throw new CliException("INVALID_TARGET", $"--target {target}: expected self, new-agent or a full agent id");
        }
    }

    public Task<int> ListAsync(CliContext context) => connection.WithClient(context, async client =>
    {
        var rows = (await client.RequestAsync("schedule/list", null, RequestTimeout))["schedules"]!.AsArray().OfType<JsonObject>().Select(Row).ToList();
        context.Output.List(rows, Columns, r => Str(r, "id"));
        return 0;
    });

    public Task<int> InspectAsync(CliContext context, string id) => connection.WithClient(context, async client =>
    {
        var stored = (JsonObject)(await client.RequestAsync("schedule/inspect", new JsonObject { ["scheduleId"] = id }, RequestTimeout))["schedule"]!;
        string Value(string key) => stored[key] is null ? "null" : stored[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : stored[key]!.ToJsonString();
        var cadence = (JsonObject)stored["cadence"]!;
        context.Output.Record((JsonObject)stored.DeepClone(),
        [
            ("Id", Value("id")), ("Name", Value("name")), ("Prompt", Value("prompt")),
            ("Cadence", WsInbound.Str(cadence, "type") == "cron" ? $"cron:{Str(cadence, "expression")}" + (Str(cadence, "timeZone") is { Length: > 0 } zone ? $" ({zone})" : "")
                : $"every:{cadence["everyMs"]}ms"),
            ("Target", TargetText((JsonObject)stored["target"]!)), ("Status", Value("status")), ("CreatedAt", Value("createdAt")), ("UpdatedAt", Value("updatedAt")),
            ("NextRunAt", Value("nextRunAt")), ("LastRunAt", Value("lastRunAt")), ("PausedAt", Value("pausedAt")), ("ExpiresAt", Value("expiresAt")),
            ("MaxRuns", Value("maxRuns")), ("RunCount", (stored["runs"] as JsonArray)?.Count.ToString() ?? "0"),
        ], id);
        return 0;
    });

    public Task<int> LogsAsync(CliContext context, string id) => connection.WithClient(context, async client =>
    {
        var runs = (await client.RequestAsync("schedule/logs", new JsonObject { ["scheduleId"] = id }, RequestTimeout))["runs"]!.AsArray().OfType<JsonObject>()
            .Select(r => new JsonObject
            {
                ["id"] = Str(r, "id"), ["status"] = Str(r, "status"), ["startedAt"] = Str(r, "startedAt"),
                ["agentId"] = WsInbound.Str(r, "agentId") is { } agent ? agent[..Math.Min(7, agent.Length)] : null,
                ["output"] = WsInbound.Str(r, "output"), ["error"] = WsInbound.Str(r, "error"),
            }).ToList();
        context.Output.List(runs,
        [
            new("RUN ID", r => Str(r, "id")), new("STATUS", r => Str(r, "status")), new("STARTED", r => Str(r, "startedAt")),
            new("AGENT", r => WsInbound.Str(r, "agentId") ?? "-"), new("OUTPUT", r => OneLine(WsInbound.Str(r, "output"))), new("ERROR", r => OneLine(WsInbound.Str(r, "error"))),
        ], r => Str(r, "id"));
        return 0;
    });

    public Task<int> PauseAsync(CliContext context, string id) => ChangeAsync(context, "schedule/pause", id);

    public Task<int> ResumeAsync(CliContext context, string id) => ChangeAsync(context, "schedule/resume", id);

    private Task<int> ChangeAsync(CliContext context, string type, string id) => connection.WithClient(context, async client =>
    {
        PrintSchedule(context, (JsonObject)(await client.RequestAsync(type, new JsonObject { ["scheduleId"] = id }, RequestTimeout))["schedule"]!);
        return 0;
    });

    public Task<int> DeleteAsync(CliContext context, string id) => connection.WithClient(context, async client =>
    {
        var deleted = await client.RequestAsync("schedule/delete", new JsonObject { ["scheduleId"] = id }, RequestTimeout);
        var row = new JsonObject { ["id"] = Str(deleted, "scheduleId"), ["status"] = "deleted" };
        context.Output.Record(row, [("Id", Str(row, "id")), ("Status", "deleted")], Str(row, "id"));
        return 0;
    });

    private static readonly Column[] Columns =
    [
        new("ID", r => Str(r, "id")), new("NAME", r => WsInbound.Str(r, "name") ?? "-"), new("CADENCE", r => Str(r, "cadence")),
        new("TARGET", r => Str(r, "target")), new("STATUS", r => Str(r, "status")), new("NEXT RUN", r => WsInbound.Str(r, "nextRunAt") ?? "-"),
    ];

    private static void PrintSchedule(CliContext context, JsonObject schedule)
    {
        var row = Row(schedule);
        if (context.Output.Quiet) context.Output.Out.WriteLine(Str(row, "id"));
        else if (context.Output.Structured) context.Output.Data(row);
        else context.Output.List([row], Columns, r => Str(r, "id"));
    }

    /// <summary>A schedule row of §5: `{id, name, cadence, target, status, nextRunAt, lastRunAt}`.</summary>
    private static JsonObject Row(JsonObject schedule) => new()
    {
        ["id"] = Str(schedule, "id"), ["name"] = WsInbound.Str(schedule, "name"), ["cadence"] = CadenceText((JsonObject)schedule["cadence"]!),
        ["target"] = TargetText((JsonObject)schedule["target"]!), ["status"] = Str(schedule, "status"),
        ["nextRunAt"] = WsInbound.Str(schedule, "nextRunAt"), ["lastRunAt"] = WsInbound.Str(schedule, "lastRunAt"),
    };

    /// <summary>`cron:&lt;expr&gt;`, or `every:1h30m` (zero parts left out, `0s` when all are zero).</summary>
    public static string CadenceText(JsonObject cadence)
    {
        if (WsInbound.Str(cadence, "type") == "cron") return "cron:" + Str(cadence, "expression");
        var total = TimeSpan.FromMilliseconds(cadence["everyMs"]!.GetValue<long>());
        var hours = (long)total.TotalHours;
        var text = (hours > 0 ? $"{hours}h" : "") + (total.Minutes > 0 ? $"{total.Minutes}m" : "") + (total.Seconds > 0 ? $"{total.Seconds}s" : "");
        return "every:" + (text.Length == 0 ? "0s" : text);
    }

    private static string TargetText(JsonObject target) => WsInbound.Str(target, "type") == "new-agent" && target["config"] is JsonObject config
        ? "new-agent:" + Str(config, "provider") + (WsInbound.Str(config, "model") is { } model ? "/" + model : "")
        : "agent:" + Str(target, "agentId")[..Math.Min(7, Str(target, "agentId").Length)];

    private static string OneLine(string? text) => text is null ? "-" : text.ReplaceLineEndings(" ") is var line && line.Length > 60 ? line[..57] + "..." : line;

    private static string Str(JsonObject o, string key) => WsInbound.Str(o, key) ?? "";
}
