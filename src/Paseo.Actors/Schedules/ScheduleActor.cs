using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Files;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Schedules.ScheduleProtocol;

namespace Paseo.Actors.Schedules;

/// <summary>
/// One schedule (`/user/paseo/schedules/schedule-&lt;id&gt;`, app-orchestration.md §2.4–§2.5) with its timer, armed for the
/// earlier of its next slot and its expiry (and at most <see cref="MaxTimerDelay"/> ahead, so a machine that slept
/// catches up). When it fires, the schedule completes (max runs, expiry) or starts a run as a watched child; slots that
/// pass during a run are skipped, not queued, and a schedule never runs twice at once. A cadence with no next slot
/// completes the schedule. On start it recovers: a run left `running` by a stopped daemon is failed, and a missed slot
/// is skipped or run once, as `paseo.schedules.missed-runs` says. It writes itself through the store, and its delete
/// goes the same way, so no write of it can come after its file is gone.
/// </summary>
public sealed class ScheduleActor : ReceiveActor, IWithTimers
{
    /// <summary>The timers' clock stops while the machine sleeps; the wall clock does not. Looking again this often bounds the lateness.</summary>
    public static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMinutes(5);

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
        Receive<Terminated>(terminated =>
        {
            // A run that stopped without saying how it ended (it failed): the schedule goes on.
            if (terminated.ActorRef.Equals(_run) && _schedule.Runs.LastOrDefault(r => r.Status == "running") is { } run)
                OnFinished(new ScheduleRunActor.Finished(run.Id, false, null, null, "The run stopped unexpectedly"));
        });
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
                var now = Iso(_time.GetUtcNow());
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
                // next(cadence, now): an interval restarts its phase now; missed slots are not replayed.
                var next = _run is null ? NextOrNull(now, now) : null;
                Change(_schedule with { Status = "active", PausedAt = null, NextRunAt = next is null ? null : Iso(next.Value), UpdatedAt = Iso(now) });
                if (_run is null && next is null) Complete(Iso(now));
            }
            Save(resume, Reply(resume, "schedule", _schedule.ToSummary()), Sender);
        });
        Receive<DeleteSchedule>(delete =>
        {
            // Its last word to the store: the file goes after every write this schedule asked for. A run in progress
            // stops with it (its agent goes on).
            _store.Tell(new ScheduleStore.Delete(delete.ScheduleId, Reply(delete, "scheduleId", delete.ScheduleId), Sender, delete));
            Context.Stop(Self);
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

    private static string Iso(DateTimeOffset time) => IsoTime.Format(time);

    private static DateTimeOffset Parse(string iso) => IsoTime.TryParse(iso, out var time) ? time : DateTimeOffset.MaxValue;

    protected override void PreStart()
    {
        var now = _time.GetUtcNow();
        var recovered = _schedule;
        var interrupted = recovered.Runs.LastOrDefault(r => r.Status == "running");
        if (interrupted is not null)
        {
            recovered = recovered with
            {
                Runs = [.. recovered.Runs.Select(r => r.Status == "running"
                    ? r with { Status = "failed", EndedAt = Iso(now), Error = "Daemon restarted before the scheduled run completed" } : r)],
                FinishedRuns = recovered.FinishedRuns + 1,
                UpdatedAt = Iso(now),
            };
        }
        _schedule = recovered;
        if (recovered.Status == "active")
        {
            // The interrupted run's slot is done with: the first missed slot is the one after it.
            DateTimeOffset? first = interrupted is not null ? NextOrNull(Parse(interrupted.ScheduledFor), Parse(interrupted.ScheduledFor))
                : recovered.NextRunAt is { } stored ? Parse(stored) : NextOrNull(now, Parse(recovered.CreatedAt));
            if (first is null)
            {
                Complete(Iso(now));
            }
            else if (first <= now)
            {
                var latest = _limits.MissedRuns == MissedRunPolicy.RunOnce ? LatestSlot(first.Value, now) : null;
                // run-once: the latest slot within the grace runs at once (its nextRunAt is in the past); the others are skipped.
                var next = latest ?? NextOrNull(now, first.Value);
                _schedule = _schedule with { NextRunAt = next is null ? null : Iso(next.Value) };
                if (next is null) Complete(Iso(now));
                _log.Info("Schedule {0}: slots from {1} were missed while the daemon was down; {2}", _schedule.Id, Iso(first.Value),
                    latest is { } slot ? $"the one of {Iso(slot)} runs now" : "skipped");
            }
            else
            {
                _schedule = _schedule with { NextRunAt = Iso(first.Value) };
            }
        }
        if (_schedule != recovered || interrupted is not null) _store.Tell(new ScheduleStore.Save(_schedule));
        Arm();
    }

    /// <summary>The latest slot at or before <paramref name="now"/> and within the missed-run grace, if any (from the first missed one, in its phase).</summary>
    private DateTimeOffset? LatestSlot(DateTimeOffset missed, DateTimeOffset now)
    {
        var earliest = now - _limits.MissedRunGrace;
        DateTimeOffset? latest = missed >= earliest ? missed : null;
        var after = missed >= earliest ? missed : earliest - TimeSpan.FromMilliseconds(1);
        // Bounded: a cadence of a millisecond would otherwise step through every slot of the grace.
        for (var i = 0; i < 10_000 && NextOrNull(after, missed) is { } next && next <= now; i++)
        {
            latest = next;
            after = next;
        }
        return latest;
    }

    /// <summary>
    /// The next slot strictly after <paramref name="after"/> (an interval in the phase of <paramref name="phase"/>), or null
    /// when the cadence has none (a cron that never matches again).
    /// </summary>
    private DateTimeOffset? NextOrNull(DateTimeOffset after, DateTimeOffset phase)
    {
        try
        {
            return CadenceTimes.Next(_schedule.Cadence, phase, after);
        }
        catch (ScheduleException e)
        {
            _log.Warning("Schedule {0}: {1}; it completes", _schedule.Id, e.Message);
            return null;
        }
    }

    private void Arm()
    {
        Timers.Cancel("due");
        if (_schedule.Status != "active" || _run is not null || _schedule.NextRunAt is not { } next) return;
        // The slot, or the expiry when it comes first (the schedule then completes without waiting for a slot).
        var at = Parse(next);
        if (_schedule.ExpiresAt is { } expires && IsoTime.TryParse(expires, out var expiry) && expiry < at) at = expiry;
        var delay = at - _time.GetUtcNow();
        Timers.StartSingleTimer("due", Due.Instance, delay <= TimeSpan.Zero ? TimeSpan.Zero : delay < MaxTimerDelay ? delay : MaxTimerDelay);
    }

    private bool ShouldComplete(DateTimeOffset now) =>
        (_schedule.MaxRuns is { } max && _schedule.FinishedRuns >= max)
        || (_schedule.ExpiresAt is { } expires && IsoTime.TryParse(expires, out var at) && at <= now);

    private void Complete(string now)
    {
        _schedule = _schedule with { Status = "completed", NextRunAt = null, PausedAt = null, UpdatedAt = now };
        Timers.Cancel("due");
    }

    private void OnDue()
    {
        if (_schedule.Status != "active" || _run is not null || _schedule.NextRunAt is not { } next) return;
        var now = _time.GetUtcNow();
        if (ShouldComplete(now))
        {
            Complete(Iso(now));
            _store.Tell(new ScheduleStore.Save(_schedule));
            return;
        }
        // Early (a capped delay, or the clock moved): look again later.
        if (Parse(next) > now)
        {
            Arm();
            return;
        }
        var run = new ScheduleRun(Guid.NewGuid().ToString("D"), next, Iso(now), null, "running", null, null, null);
        var runs = _schedule.Runs.Append(run).ToList();
        // The log keeps the newest runs (paseo.schedules.runs-kept); maxRuns counts them all.
        if (runs.Count > _limits.RunsKept) runs = runs[^_limits.RunsKept..];
        _schedule = _schedule with { Runs = runs };
        _store.Tell(new ScheduleStore.Save(_schedule));
        _run = Context.Watch(Context.ActorOf(ScheduleRunActor.Props(_agents, _schedule.Id, run.Id, _schedule.Prompt, _schedule.Target), "run-" + run.Id));
    }

    private void OnFinished(ScheduleRunActor.Finished finished)
    {
        if (_run is not null) Context.Unwatch(_run);
        _run = null;
        var now = _time.GetUtcNow();
        var ended = _schedule.Runs.FirstOrDefault(r => r.Id == finished.RunId);
        var runs = _schedule.Runs.Select(r => r.Id == finished.RunId
            ? r with { Status = finished.Succeeded ? "succeeded" : "failed", EndedAt = Iso(now), AgentId = finished.AgentId, Output = finished.Output, Error = finished.Error }
            : r).ToList();
        _schedule = _schedule with { Runs = runs, FinishedRuns = _schedule.FinishedRuns + 1, LastRunAt = Iso(now), UpdatedAt = Iso(now) };
        if (_schedule.Status == "active")
        {
            // Slots that passed during the run are skipped: the first one after its end, in the old slot's phase. A
            // cadence with no slot left completes the schedule (it never runs the same slot again).
            var next = ShouldComplete(now) ? null : NextOrNull(now, ended is null ? Parse(_schedule.CreatedAt) : Parse(ended.ScheduledFor));
            if (next is null) Complete(Iso(now));
            else _schedule = _schedule with { NextRunAt = Iso(next.Value) };
        }
        _store.Tell(new ScheduleStore.Save(_schedule));
        Arm();
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
