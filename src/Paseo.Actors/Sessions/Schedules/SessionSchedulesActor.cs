using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Akka.Actor;
using Paseo.Actors.Schedules;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Schedules.ScheduleProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;

namespace Paseo.Actors.Sessions.Schedules;

/// <summary>
/// One session's schedule requests (`sessions/session-&lt;id&gt;/schedules`; app-orchestration.md §2.2): each
/// `schedule/*` request is read against Paseo's schema (what it refuses — an interval of 0, a blank cron, a target
/// agent id that is not a UUID, `maxRuns: 0`, `name: null`… — is `unknown_schema`), then a schedule id is checked to
/// be 8 lowercase hex digits before it can name a file, and the request goes to the schedules, answered exactly once.
/// </summary>
public sealed partial class SessionSchedulesActor : ReceiveActor
{
    public static readonly HashSet<string> Kinds =
        ["schedule/create", "schedule/list", "schedule/inspect", "schedule/logs", "schedule/pause", "schedule/resume", "schedule/delete"];

    private readonly IActorRef _schedules;

    public SessionSchedulesActor(IActorRef schedules)
    {
        _schedules = schedules;
        Receive<Request>(OnRequest);
        Receive<ScheduleAnswer>(answer => Context.Parent.Tell(new Answered(answer.Json)));
    }

    public static Props Props(IActorRef schedules) => Akka.Actor.Props.Create(() => new SessionSchedulesActor(schedules));

    [GeneratedRegex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    private static partial Regex Uuid();

    private void OnRequest(Request request)
    {
        IScheduleRequest parsed;
        try
        {
            parsed = Read(request);
        }
        catch (InvalidRequestException)
        {
            Context.Parent.Tell(new Answered(WsOutbound.RpcError(request.RequestId!, request.Type, "Unknown request schema", "unknown_schema")));
            return;
        }
        if (parsed is IOneSchedule one && !Schedule.IsValidId(one.ScheduleId))
        {
            // Never a path: an id that is not 8 lowercase hex digits names no schedule (§9).
            Context.Parent.Tell(new Answered(Error(parsed, NotFound(one.ScheduleId)).Json));
            return;
        }
        _schedules.Tell(parsed);
    }

    private static IScheduleRequest Read(Request request)
    {
        var id = request.RequestId!;
        var reader = RequestReader.Of(request.Message);
        return request.Type switch
        {
            "schedule/create" => Create(id, reader),
            "schedule/list" => new ListSchedules(id),
            "schedule/inspect" => new InspectSchedule(id, reader.RequiredString("scheduleId")),
            "schedule/logs" => new ScheduleLogs(id, reader.RequiredString("scheduleId")),
            "schedule/pause" => new PauseSchedule(id, reader.RequiredString("scheduleId")),
            "schedule/resume" => new ResumeSchedule(id, reader.RequiredString("scheduleId")),
            "schedule/delete" => new DeleteSchedule(id, reader.RequiredString("scheduleId")),
            _ => throw new InvalidRequestException($"{request.Type} is not a schedule request"),
        };
    }

    private static CreateSchedule Create(string id, RequestReader reader)
    {
        var prompt = reader.RequiredString("prompt");
        if (prompt.Length == 0) throw new InvalidRequestException("prompt must not be empty");
        var maxRuns = NotNull(reader, "maxRuns") ? reader.OptionalInt("maxRuns") : null;
        if (maxRuns is < 1 or > int.MaxValue) throw new InvalidRequestException("maxRuns must be above 0");
        return new CreateSchedule(id, NotNull(reader, "name") ? reader.OptionalString("name") : null, prompt,
            ReadCadence(reader.OptionalObject("cadence") ?? throw new InvalidRequestException("cadence is required")),
            ReadTarget(reader.OptionalObject("target") ?? throw new InvalidRequestException("target is required")),
            (int?)maxRuns, NotNull(reader, "expiresAt") ? reader.OptionalString("expiresAt") : null);
    }

    /// <summary>True when the key is absent or holds a value; an explicit null is refused (Paseo's optional keys are not nullable).</summary>
    private static bool NotNull(RequestReader reader, string key)
    {
        if (reader.Message.ContainsKey(key) && reader.Message[key] is null) throw new InvalidRequestException($"{key} must not be null");
        return true;
    }

    private static Cadence ReadCadence(JsonObject cadence)
    {
        var reader = RequestReader.Of(cadence);
        switch (reader.RequiredString("type"))
        {
            case "every":
                var ms = reader.OptionalInt("everyMs") ?? throw new InvalidRequestException("everyMs is required");
                return ms > 0 ? new Cadence.Every(ms) : throw new InvalidRequestException("everyMs must be above 0");
            case "cron":
                var expression = reader.RequiredString("expression").Trim();
                if (expression.Length == 0) throw new InvalidRequestException("expression must not be blank");
                return new Cadence.Cron(expression, NotNull(reader, "timeZone") ? reader.OptionalString("timeZone") : null);
            default:
                throw new InvalidRequestException("cadence.type must be every or cron");
        }
    }

    private static ScheduleTarget ReadTarget(JsonObject target)
    {
        var reader = RequestReader.Of(target);
        switch (reader.RequiredString("type"))
        {
            case "self" or "agent":
                var agentId = reader.RequiredString("agentId");
                return Uuid().IsMatch(agentId) ? new ScheduleTarget.Agent(agentId) : throw new InvalidRequestException("agentId must be a UUID");
            case "new-agent":
                var config = reader.OptionalObject("config") ?? throw new InvalidRequestException("config is required");
                var c = RequestReader.Of(config);
                c.RequiredString("provider");
                if (c.RequiredString("cwd").Trim().Length == 0) throw new InvalidRequestException("cwd must not be blank");
                foreach (var key in new[] { "modeId", "model", "thinkingOptionId", "approvalPolicy", "sandboxMode" })
                    if (NotNull(c, key) && c.OptionalString(key) is { } value && value.Trim().Length == 0) throw new InvalidRequestException($"{key} must not be blank");
                if (c.OptionalString("title") is { } title && title.Trim().Length == 0) throw new InvalidRequestException("title must not be blank");
                foreach (var key in new[] { "networkAccess", "webSearch" }) c.OptionalBool(key);
                foreach (var key in new[] { "extra", "mcpServers" }) c.OptionalObject(key);
                c.OptionalString("systemPrompt");
                // Kept as sent, less the keys Paseo's schema strips (labels, featureValues, …); its trimmed strings trimmed.
                string[] kept = ["provider", "cwd", "modeId", "model", "thinkingOptionId", "title", "approvalPolicy", "sandboxMode", "networkAccess", "webSearch", "extra", "systemPrompt", "mcpServers"];
                string[] trimmed = ["cwd", "modeId", "model", "thinkingOptionId", "title", "approvalPolicy", "sandboxMode"];
                return new ScheduleTarget.NewAgent(new JsonObject(config.Where(p => kept.Contains(p.Key)).Select(p => KeyValuePair.Create(p.Key,
                    trimmed.Contains(p.Key) && p.Value is JsonValue v && v.TryGetValue<string>(out var text) ? JsonValue.Create(text.Trim()) : p.Value?.DeepClone()))));
            default:
                throw new InvalidRequestException("target.type must be self, agent or new-agent");
        }
    }
}
