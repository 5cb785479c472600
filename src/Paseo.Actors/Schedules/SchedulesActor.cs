using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Files;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Schedules.ScheduleProtocol;

namespace Paseo.Actors.Schedules;

/// <summary>
/// The schedules (`/user/paseo/schedules`, app-orchestration.md §2): one <see cref="ScheduleActor"/> per schedule, the
/// store, create / list / delete, and the requests about one schedule routed by its id. Phases: <b>loading</b> (requests
/// wait, up to a bound) then <b>ready</b>. A schedule whose file is damaged is not loaded (and not overwritten); a request
/// naming it is answered with the file's path and the reason.
/// </summary>
public sealed class SchedulesActor : ReceiveActor, IWithStash
{
    private const int MaxRequestsWhileLoading = 10_000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _directory;
    private readonly IActorRef _agents;
    private readonly ScheduleLimits _limits;
    private readonly TimeProvider _time;
    private IActorRef _store = ActorRefs.Nobody;
    // Every schedule's actor, and the summary it last had (for list).
    private readonly Dictionary<string, IActorRef> _schedules = [];
    private readonly Dictionary<string, string> _damaged = [];
    private int _stashed;

    public IStash Stash { get; set; } = null!;

    public SchedulesActor(string directory, IActorRef agents, ScheduleLimits limits, TimeProvider time)
    {
        _directory = directory;
        _agents = agents;
        _limits = limits;
        _time = time;
        Loading();
    }

    public static Props Props(string directory, IActorRef agents, ScheduleLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new SchedulesActor(directory, agents, limits, time));

    protected override void PreStart()
    {
        _store = Context.ActorOf(ScheduleStore.Props(_directory), "store");
        _store.Tell(ScheduleStore.Load.Instance);
    }

    /// <summary>
    /// Answered once every write asked before it is on disk. The daemon asks it at shutdown (PaseoActorsHostingExtensions.WithSchedules),
    /// so the schedules' last writes — a run's end — are not lost.
    /// </summary>
    public sealed record FlushStore
    {
        public static readonly FlushStore Instance = new();
        private FlushStore() { }
    }

    // A schedule that throws is resumed with its state (a restart would re-run its recovery).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Resume));

    private void Loading()
    {
        Receive<FlushStore>(flush => _store.Forward(ScheduleStore.Flush.Instance));
        Receive<ScheduleStore.Loaded>(loaded =>
        {
            foreach (var schedule in loaded.Schedules) Start(schedule);
            foreach (var (path, reason) in loaded.Damaged) _damaged[Path.GetFileNameWithoutExtension(path)] = $"{path} is damaged ({reason}); repair it or move it aside";
            _log.Info("Schedules: {0} loaded from {1}, {2} damaged", _schedules.Count, _directory, _damaged.Count);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<IScheduleRequest>(request =>
        {
            if (++_stashed > MaxRequestsWhileLoading) Sender.Tell(Error(request, "Schedules are still loading; try again"));
            else Stash.Stash();
        });
    }

    private IActorRef Start(Schedule schedule)
    {
        var actor = Context.ActorOf(ScheduleActor.Props(schedule, _store, _agents, _limits, _time), "schedule-" + schedule.Id);
        _schedules[schedule.Id] = actor;
        return actor;
    }

    private void Ready()
    {
        Receive<FlushStore>(flush => _store.Forward(ScheduleStore.Flush.Instance));
        Receive<CreateSchedule>(OnCreate);
        Receive<ListSchedules>(list =>
        {
            // Each schedule says where it is (its record is immutable); the list is sorted by creation here.
            var asks = _schedules.Values.Select(s => s.Ask<Schedule>(ScheduleActor.GetState.Instance, TimeSpan.FromSeconds(5))).ToList();
            Task.WhenAll(asks).PipeTo(Sender,
                success: schedules => Reply(list, "schedules",
                    new JsonArray([.. schedules.OrderBy(s => s.CreatedAt, StringComparer.Ordinal).Select(s => (JsonNode)s.ToSummary())])),
                failure: e => Error(list, $"Could not list the schedules: {e.Message}"));
        });
        Receive<DeleteSchedule>(delete =>
        {
            // The schedule deletes itself (its writes and its delete reach the store in order); forgotten here at once.
            if (_schedules.Remove(delete.ScheduleId, out var actor)) actor.Forward(delete);
            else if (_damaged.Remove(delete.ScheduleId))
                _store.Tell(new ScheduleStore.Delete(delete.ScheduleId, Reply(delete, "scheduleId", delete.ScheduleId), Sender, delete));
            // Paseo answers a delete of an unknown id as done; a client that sent a wrong id would never know.
            else Sender.Tell(Error(delete, NotFound(delete.ScheduleId)));
        });
        Receive<IOneSchedule>(request =>
        {
            if (_schedules.TryGetValue(request.ScheduleId, out var actor)) actor.Forward(request);
            else Sender.Tell(Error(request, _damaged.GetValueOrDefault(request.ScheduleId) ?? NotFound(request.ScheduleId)));
        });
    }

    private void OnCreate(CreateSchedule create)
    {
        var prompt = create.Prompt.Trim();
        if (prompt.Length == 0)
        {
            Sender.Tell(Error(create, "Schedule prompt is required"));
            return;
        }
        if (_schedules.Count >= _limits.MaxSchedules)
        {
            Sender.Tell(Error(create, $"Too many schedules: {_schedules.Count} (paseo.schedules.max-schedules); delete one first"));
            return;
        }
        if (create.ExpiresAt is { } expiresAt && !IsoTime.TryParse(expiresAt, out _))
        {
            // Paseo keeps any string, and one that does not read never expires.
            Sender.Tell(Error(create, $"Invalid expiresAt: {expiresAt} (an ISO time such as 2026-05-04T07:00:00.000Z)"));
            return;
        }
        var now = _time.GetUtcNow();
        string id;
        do id = Schedule.NewId(); while (_schedules.ContainsKey(id) || _damaged.ContainsKey(id));
        DateTimeOffset next;
        try
        {
            next = CadenceTimes.Next(create.Cadence, now, now);
        }
        catch (Exception e) when (e is ScheduleException or ArgumentException or OverflowException)
        {
            Sender.Tell(Error(create, e.Message));
            return;
        }
        var iso = IsoTime.Format(now);
        var schedule = new Schedule(id, create.Name?.Trim() is { Length: > 0 } name ? name : null, prompt, create.Cadence, create.Target, "active",
            iso, iso, IsoTime.Format(next), null, null, create.ExpiresAt, create.MaxRuns, []);
        _store.Tell(new ScheduleStore.Save(schedule, Reply(create, "schedule", schedule.ToSummary()), Sender, create));
        Start(schedule);
    }
}
