using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;
using Paseo.Transport.Schedules;

namespace Paseo.Actors.Schedules;

/// <summary>What a schedule does with a slot it missed while the daemon was down (`paseo.schedules.missed-runs`).</summary>
public enum MissedRunPolicy
{
    /// <summary>Paseo's: missed slots are never caught up; the next run is the next slot after the start.</summary>
    Skip,

    /// <summary>One run at start for the latest missed slot, if it is at most the grace old; the others are skipped.</summary>
    RunOnce,
}

/// <summary>Limits and policies of the schedules, from `paseo.schedules` in paseo.hocon.</summary>
/// <param name="MaxSchedules">Schedules the daemon holds; schedule/create beyond it fails.</param>
/// <param name="RunsKept">Runs kept in each schedule's log (the oldest go): Paseo keeps every run forever.</param>
/// <param name="MissedRuns">What a schedule does with a slot missed while the daemon was down.</param>
/// <param name="MissedRunGrace">With <see cref="MissedRunPolicy.RunOnce"/>: how old a missed slot may be and still run.</param>
public sealed record ScheduleLimits(int MaxSchedules, int RunsKept, MissedRunPolicy MissedRuns, TimeSpan MissedRunGrace)
{
    public static readonly ScheduleLimits Default = new(1000, 200, MissedRunPolicy.Skip, TimeSpan.FromHours(1));
}

/// <summary>
/// The messages of the schedules subsystem (`/user/paseo/schedules`, app-orchestration.md §2): the requests a session's
/// schedule child has read and checked, and the one answer each gets (the frame to send).
/// </summary>
public static class ScheduleProtocol
{
    public interface IScheduleRequest
    {
        string RequestId { get; }
    }

    /// <summary>A request about one schedule, by its id (8 lowercase hex digits, checked before it names a file).</summary>
    public interface IOneSchedule : IScheduleRequest
    {
        string ScheduleId { get; }
    }

    public sealed record CreateSchedule(string RequestId, string? Name, string Prompt, Cadence Cadence, ScheduleTarget Target, int? MaxRuns, string? ExpiresAt) : IScheduleRequest;

    public sealed record ListSchedules(string RequestId) : IScheduleRequest;

    public sealed record InspectSchedule(string RequestId, string ScheduleId) : IOneSchedule;

    public sealed record ScheduleLogs(string RequestId, string ScheduleId) : IOneSchedule;

    public sealed record PauseSchedule(string RequestId, string ScheduleId) : IOneSchedule;

    public sealed record ResumeSchedule(string RequestId, string ScheduleId) : IOneSchedule;

    public sealed record DeleteSchedule(string RequestId, string ScheduleId) : IOneSchedule;

    public sealed record ScheduleAnswer(string Json);

    public static string TypeOf(IScheduleRequest request) => request switch
    {
        CreateSchedule => "schedule/create",
        ListSchedules => "schedule/list",
        InspectSchedule => "schedule/inspect",
        ScheduleLogs => "schedule/logs",
        PauseSchedule => "schedule/pause",
        ResumeSchedule => "schedule/resume",
        DeleteSchedule => "schedule/delete",
        _ => throw new ArgumentOutOfRangeException(nameof(request), request.GetType().Name, "not a schedule request"),
    };

    public static ScheduleAnswer Reply(IScheduleRequest request, string key, JsonNode? value) =>
        new(WsOutbound.Session(TypeOf(request) + "/response", new JsonObject { ["requestId"] = request.RequestId, [key] = value, ["error"] = null }));

    /// <summary>Every schedule failure is `schedule_request_failed` with its text (§2.7).</summary>
    public static ScheduleAnswer Error(IScheduleRequest request, string error) =>
        new(WsOutbound.RpcError(request.RequestId, TypeOf(request), error, "schedule_request_failed"));

    public static string NotFound(string id) => $"Schedule not found: {id}";
}
