using System.Globalization;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Files;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Schedules.ScheduleProtocol;

namespace Paseo.Actors.Schedules;

/// <summary>
/// One schedule (`/user/paseo/schedules/schedule-&lt;id&gt;`, app-orchestration.md §2.4–§2.5) with its timer: one timer
/// per schedule, armed for its next slot (nothing ticks while nothing is due). When it fires, the schedule completes
/// (max runs, expiry) or starts a run as a child; slots that pass during a run are skipped, not queued, and a schedule
/// never runs twice at once. On start it recovers: a run left `running` by a stopped daemon is failed, and a missed
/// slot is skipped or run once, as `paseo.schedules.missed-runs` says. Every change is written by the store.
/// </summary>
public sealed class ScheduleActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _store;
    private readonly IActorRef _agents;
    private readonly ScheduleLimits _limits;
    private readonly TimeProvider _time;
    private Schedule _schedule;
    private IActorRef? _run;

    public ITimerScheduler Timers { get; set; } = null!;

    public ScheduleActor(Schedule schedule, IActorRef store, IActorRef agents, ScheduleLimits limits, TimeProvider time)
    {
        _schedule = schedule;
        _store = store;
        _agents = agents;
        _limits = limits;
        _time = time;
        Receive<Due>(_ => OnDue());
        Receive<GetState>(_ => Sender.Tell(_schedule));
        Receive<ScheduleRunActor.Finished>(OnFinished);
        Receive<InspectSchedule>(inspect => Sender.Tell(Reply(inspect, "schedule", _schedule.ToStored())));
        Receive<ScheduleLogs>(logs => Sender.Tell(Reply(logs, "runs",
            new JsonArray([.. _schedule.Runs.OrderBy(r => r.StartedAt, StringComparer.Ordinal).Select(r => (JsonNode)r.ToJson())]))));
        Receive<PauseSchedule>(pause =>
        {
            if (_schedule.Status == "completed")
            {
                Sender.Tell(Error(pause, $"Schedule {_schedule.Id} is already completed"));
                return;
            }
            if (_schedule.Status == "active")
            {
                var now = Now;
                // A run in progress is not interrupted.
                Change(_schedule with { Status = "paused", NextRunAt = null, PausedAt = now, UpdatedAt = now });
            }
            Save(pause, Reply(pause, "schedule", _schedule.ToSummary()), Sender);
        });
        Receive<ResumeSchedule>(resume =>
        {
            if (_schedule.Status == "completed")
            {
                Sender.Tell(Error(resume, $"Schedule {_schedule.Id} is already completed"));
                return;
            }
            if (_schedule.Status == "paused")
            {
                var now = _time.GetUtcNow();
                // Missed slots are not replayed: the next slot after now.
                Change(_schedule with { Status = "active", PausedAt = null, NextRunAt = _run is null ? Iso(NextAfter(now)) : null, UpdatedAt = Iso(now) });
            }
            Save(resume, Reply(resume, "schedule", _schedule.ToSummary()), Sender);
        });
    }

    public static Props Props(Schedule schedule, IActorRef store, IActorRef agents, ScheduleLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ScheduleActor(schedule, store, agents, limits, time));

    /// <summary>Answered with the schedule as it is (an immutable <see cref="Schedule"/>).</summary>
    public sealed record GetState
    {
        public static readonly GetState Instance = new();
        private GetState() { }
    }

    private sealed record Due
    {
        public static readonly Due Instance = new();
    }

    private string Now => Iso(_time.GetUtcNow());

    private static string Iso(DateTimeOffset time) => IsoTime.Format(time);

    private static DateTimeOffset Parse(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    protected override void PreStart()
    {
        var now = _time.GetUtcNow();
        var recovered = _schedule;
        if (recovered.Runs.Any(r => r.Status == "running"))
        {
            recovered = recovered with
            {
                Runs = [.. recovered.Runs.Select(r => r.Status == "running"
                    ? r with { Status = "failed", EndedAt = Iso(now), Error = "Daemon restarted before the scheduled run completed" } : r)],
                UpdatedAt = Iso(now),
            };
        }
        if (recovered.Status == "active" && recovered.NextRunAt is { } next && Parse(next) <= now)
        {
            var missed = Parse(next);
            var latest = _limits.MissedRuns == MissedRunPolicy.RunOnce ? LatestSlot(missed, now) : null;
            // run-once: the latest slot within the grace runs at once (its nextRunAt is in the past); the others are skipped.
            recovered = recovered with { NextRunAt = Iso(latest ?? NextAfter(now, missed)) };
            _log.Info("Schedule {0}: slots from {1} were missed while the daemon was down; {2}", recovered.Id, next,
                latest is { } slot ? $"the one of {Iso(slot)} runs now" : "skipped");
        }
        if (!ReferenceEquals(recovered, _schedule))
        {
            _schedule = recovered;
            _store.Tell(new ScheduleStore.Save(_schedule));
        }
        Arm();
    }

    /// <summary>The latest slot at or before <paramref name="now"/> and within the missed-run grace, if any (from the first missed one, in its phase).</summary>
    private DateTimeOffset? LatestSlot(DateTimeOffset missed, DateTimeOffset now)
    {
        var earliest = now - _limits.MissedRunGrace;
        DateTimeOffset? latest = missed >= earliest ? missed : null;
        var after = missed >= earliest ? missed : earliest - TimeSpan.FromMilliseconds(1);
        // Bounded: a cadence of a millisecond would otherwise step through every slot of the grace.
        for (var i = 0; i < 10_000; i++)
        {
            var next = NextAfter(after, missed);
            if (next > now) break;
            latest = next;
            after = next;
        }
        return latest;
    }

    /// <summary>The next slot strictly after <paramref name="after"/> (an interval keeps the phase of <paramref name="phase"/>, else of its creation).</summary>
    private DateTimeOffset NextAfter(DateTimeOffset after, DateTimeOffset? phase = null) =>
        CadenceTimes.Next(_schedule.Cadence, phase ?? Parse(_schedule.CreatedAt), after);

    private void Arm()
    {
        Timers.Cancel("due");
        if (_schedule.Status != "active" || _run is not null || _schedule.NextRunAt is not { } next) return;
        var delay = Parse(next) - _time.GetUtcNow();
        Timers.StartSingleTimer("due", Due.Instance, delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    private bool ShouldComplete(DateTimeOffset now) =>
        (_schedule.MaxRuns is { } max && _schedule.Runs.Count(r => r.Status != "running") >= max)
        || (_schedule.ExpiresAt is { } expires && DateTimeOffset.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at <= now);

    private void Complete(string now) => Change(_schedule with { Status = "completed", NextRunAt = null, PausedAt = null, UpdatedAt = now });

    private void OnDue()
    {
        if (_schedule.Status != "active" || _run is not null || _schedule.NextRunAt is not { } next) return;
        var now = _time.GetUtcNow();
        // A timer may fire a little early on a clock that moved: wait for the slot itself.
        if (Parse(next) > now)
        {
            Arm();
            return;
        }
        if (ShouldComplete(now))
        {
            Complete(Iso(now));
            _store.Tell(new ScheduleStore.Save(_schedule));
            return;
        }
        var run = new ScheduleRun(Guid.NewGuid().ToString("D"), next, Iso(now), null, "running", null, null, null);
        var runs = _schedule.Runs.Append(run).ToList();
        // The log keeps the newest runs (paseo.schedules.runs-kept).
        if (runs.Count > _limits.RunsKept) runs = runs[^_limits.RunsKept..];
        Change(_schedule with { Runs = runs });
        _store.Tell(new ScheduleStore.Save(_schedule));
        _run = Context.ActorOf(ScheduleRunActor.Props(_agents, _schedule.Id, run.Id, _schedule.Prompt, _schedule.Target), "run-" + run.Id);
    }

    private void OnFinished(ScheduleRunActor.Finished finished)
    {
        _run = null;
        var now = _time.GetUtcNow();
        var runs = _schedule.Runs.Select(r => r.Id == finished.RunId
            ? r with { Status = finished.Succeeded ? "succeeded" : "failed", EndedAt = Iso(now), AgentId = finished.AgentId, Output = finished.Output, Error = finished.Error }
            : r).ToList();
        var scheduledFor = _schedule.Runs.FirstOrDefault(r => r.Id == finished.RunId)?.ScheduledFor;
        Change(_schedule with { Runs = runs, LastRunAt = Iso(now), UpdatedAt = Iso(now) });
        if (_schedule.Status == "active")
        {
            if (ShouldComplete(now)) Complete(Iso(now));
            // Slots that passed during the run are skipped: the first one after its end, in the old slot's phase.
            else Change(_schedule with { NextRunAt = Iso(NextAfter(now, scheduledFor is null ? null : Parse(scheduledFor))) });
        }
        _store.Tell(new ScheduleStore.Save(_schedule));
        if (!finished.Succeeded) _log.Info("Schedule {0}: run {1} failed: {2}", _schedule.Id, finished.RunId, finished.Error);
    }

    private void Change(Schedule schedule)
    {
        _schedule = schedule;
        Arm();
    }

    /// <summary>Writes the schedule; <paramref name="answer"/> goes to <paramref name="replyTo"/> once it is on disk.</summary>
    private void Save(IScheduleRequest request, ScheduleAnswer answer, IActorRef replyTo) => _store.Tell(new ScheduleStore.Save(_schedule, answer, replyTo, request));
}
