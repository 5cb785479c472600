using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit;
using Microsoft.Extensions.Time.Testing;
using Paseo.Actors.Schedules;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Paseo.Transport.Schedules;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Schedules.ScheduleProtocol;

namespace Paseo.Actors.Tests.Schedules;

/// <summary>
/// Schedules on a virtual clock (Akka's TestScheduler for the timers, a FakeTimeProvider for "now", moved together):
/// an interval and a cron in a named zone fire at the right instants across a DST change; a run prompts its agent and
/// waits for the turn; maxRuns and expiresAt complete a schedule; a restart keeps it and applies the missed-run policy.
/// </summary>
public sealed class SchedulesSpecs : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-schedules-specs-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-03-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly TestProbe _agents;
    private const string AgentId = "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c";

    public SchedulesSpecs(ITestOutputHelper output) : base(SpecConfig.Hocon + "\nakka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output) =>
        _agents = CreateTestProbe();

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    /// <summary>Moves the wall clock and the timers together.</summary>
    private void Advance(TimeSpan by)
    {
        _time.Advance(by);
        Clock.Advance(by);
    }

    private void AdvanceTo(string iso) => Advance(DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture) - _time.GetUtcNow());

    private IActorRef Schedules(ScheduleLimits? limits = null) => Sys.ActorOf(SchedulesActor.Props(_dir, _agents.Ref, limits ?? ScheduleLimits.Default, _time));

    private static long _next;

    private static string NextId() => "r" + Interlocked.Increment(ref _next);

    private JsonObject Ask(IActorRef schedules, IScheduleRequest request)
    {
        schedules.Tell(request, TestActor);
        var frame = JsonNode.Parse(ExpectMsg<ScheduleAnswer>(TimeSpan.FromSeconds(10)).Json)!["message"]!.AsObject();
        Assert.True(frame["type"]!.GetValue<string>() == TypeOf(request) + "/response", frame.ToJsonString());
        return frame["payload"]!.AsObject();
    }

    private JsonObject Create(IActorRef schedules, Cadence cadence, int? maxRuns = null, string? expiresAt = null)
    {
        var created = Ask(schedules, new CreateSchedule(NextId(), " nightly ", " Check CI ", cadence, new ScheduleTarget.Agent(AgentId), maxRuns, expiresAt))["schedule"]!.AsObject();
        // The create is answered once it is on disk, which may be before the schedule's actor has started and armed its
        // timer; a request it answers comes after its start, so the virtual clock is moved only once the timer is set.
        Inspect(schedules, created["id"]!.GetValue<string>());
        return created;
    }

    private JsonObject Inspect(IActorRef schedules, string id) => Ask(schedules, new InspectSchedule(NextId(), id))["schedule"]!.AsObject();

    private static AgentSnapshot Agent(AgentStatus status) => new()
    {
        Id = AgentId, Provider = "mock", Cwd = "/tmp", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, Status = status,
        Capabilities = AgentCapabilities.Stored,
    };

    /// <summary>Plays the agent through one run: idle, takes the prompt, finishes with <paramref name="reply"/>.</summary>
    private void AgentRuns(string reply)
    {
        var check = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        Assert.Equal(AgentId, check.Identifier);
        Assert.IsType<GetSnapshot>(check.Command);
        _agents.Reply(Agent(AgentStatus.Idle));
        var prompt = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        Assert.Equal("Check CI", Assert.IsType<SendMessageIfIdle>(prompt.Command).Text);
        _agents.Reply(new MessageAccepted(Paseo.Actors.Agents.AgentId.From(AgentId)));
        Assert.IsType<WaitForFinish>(_agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10)).Command);
        _agents.Reply(new FinishResult("idle", Agent(AgentStatus.Idle), null, "  " + reply + "  "));
    }

    private void AwaitRuns(IActorRef schedules, string id, int finished) =>
        AwaitAssert(() => Assert.Equal(finished, Inspect(schedules, id)["runs"]!.AsArray().Count(r => r!["status"]!.GetValue<string>() != "running")),
            TimeSpan.FromSeconds(10));

    [Fact]
    public void A_run_whose_turn_said_nothing_has_the_digest_of_its_turn_as_output()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Every(600_000))["id"]!.GetValue<string>();
        Advance(TimeSpan.FromMinutes(10));
        _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        _agents.Reply(Agent(AgentStatus.Idle));
        _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        _agents.Reply(new MessageAccepted(Paseo.Actors.Agents.AgentId.From(AgentId)));
        _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        _agents.Reply(new FinishResult("idle", Agent(AgentStatus.Idle), null, null));
        // The turn's rows: those after its prompt.
        var fetch = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10));
        Assert.IsType<FetchTimeline>(fetch.Command);
        JsonObject Entry(string item) => new() { ["item"] = JsonNode.Parse(item) };
        _agents.Reply(new TimelinePage(Agent(AgentStatus.Idle), new JsonObject
        {
            ["entries"] = new JsonArray(
                Entry("""{"type":"user_message","text":"an older prompt"}"""), Entry("""{"type":"assistant_message","text":"older"}"""),
                Entry("""{"type":"user_message","text":"Check CI"}"""),
                Entry("""{"type":"tool_call","callId":"c1","name":"Bash","detail":{"type":"shell","command":"make test"},"status":"completed","error":null}""")),
        }));
        AwaitRuns(schedules, id, 1);
        Assert.Equal("Showing all 1 activity\n\n[Shell] make test", Inspect(schedules, id)["runs"]![0]!["output"]!.GetValue<string>());
    }

    [Fact]
    public void An_interval_runs_its_prompt_in_the_agent_at_each_slot_and_keeps_the_log()
    {
        var schedules = Schedules();
        var created = Create(schedules, new Cadence.Every(600_000));
        var id = created["id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{8}$", id);
        Assert.Equal("nightly", created["name"]!.GetValue<string>());
        Assert.Equal("Check CI", created["prompt"]!.GetValue<string>());
        Assert.Equal("2026-03-27T12:10:00.000Z", created["nextRunAt"]!.GetValue<string>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, id + ".json")));

        Advance(TimeSpan.FromMinutes(9));
        _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Advance(TimeSpan.FromMinutes(1));
        AgentRuns("all green");
        AwaitRuns(schedules, id, 1);
        var after = Inspect(schedules, id);
        var run = after["runs"]![0]!;
        Assert.Equal("succeeded", run["status"]!.GetValue<string>());
        Assert.Equal("all green", run["output"]!.GetValue<string>());
        Assert.Equal(AgentId, run["agentId"]!.GetValue<string>());
        Assert.Equal("2026-03-27T12:10:00.000Z", run["scheduledFor"]!.GetValue<string>());
        Assert.Equal("2026-03-27T12:20:00.000Z", after["nextRunAt"]!.GetValue<string>());
        var logs = Ask(schedules, new ScheduleLogs(NextId(), id))["runs"]!.AsArray();
        Assert.Single(logs);
    }

    [Fact]
    public void A_cron_in_a_named_zone_fires_at_nine_local_time_on_both_sides_of_the_dst_change()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Cron("0 9 * * *", "Europe/Berlin"))["id"]!.GetValue<string>();
        Assert.Equal("2026-03-28T08:00:00.000Z", Inspect(schedules, id)["nextRunAt"]!.GetValue<string>());
        AdvanceTo("2026-03-28T08:00:00Z");
        AgentRuns("saturday");
        AwaitRuns(schedules, id, 1);
        // Berlin moved to summer time on the 29th: nine o'clock is now 07:00Z.
        Assert.Equal("2026-03-29T07:00:00.000Z", Inspect(schedules, id)["nextRunAt"]!.GetValue<string>());
        AdvanceTo("2026-03-29T07:00:00Z");
        AgentRuns("sunday");
        AwaitRuns(schedules, id, 2);
        Assert.Equal("2026-03-29T07:00:00.000Z", Inspect(schedules, id)["runs"]![1]!["scheduledFor"]!.GetValue<string>());
    }

    [Fact]
    public void A_busy_agent_fails_the_run_without_being_interrupted_and_max_runs_completes_the_schedule()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Every(60_000), maxRuns: 2)["id"]!.GetValue<string>();
        Advance(TimeSpan.FromMinutes(1));
        Assert.IsType<GetSnapshot>(_agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10)).Command);
        _agents.Reply(Agent(AgentStatus.Running));
        // Offered, not forced: the agent says it is busy, and the run fails without interrupting its turn.
        Assert.IsType<SendMessageIfIdle>(_agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10)).Command);
        _agents.Reply(new AgentBusy(Paseo.Actors.Agents.AgentId.From(AgentId)));
        AwaitRuns(schedules, id, 1);
        var failed = Inspect(schedules, id)["runs"]![0]!;
        Assert.Equal("failed", failed["status"]!.GetValue<string>());
        Assert.Equal($"Agent {AgentId} already has an active run", failed["error"]!.GetValue<string>());
        Assert.Null(failed["agentId"]);
        Advance(TimeSpan.FromMinutes(1));
        AgentRuns("second");
        AwaitRuns(schedules, id, 2);
        var done = Inspect(schedules, id);
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        Assert.Null(done["nextRunAt"]);
        Assert.Equal("Schedule " + id + " is already completed",
            JsonNode.Parse(Sends(schedules, new PauseSchedule(NextId(), id)))!["message"]!["payload"]!["error"]!.GetValue<string>());
    }

    private string Sends(IActorRef schedules, IScheduleRequest request)
    {
        schedules.Tell(request, TestActor);
        return ExpectMsg<ScheduleAnswer>(TimeSpan.FromSeconds(10)).Json;
    }

    [Fact]
    public void An_expired_schedule_completes_at_its_next_slot_instead_of_running()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Every(600_000), expiresAt: "2026-03-27T12:05:00.000Z")["id"]!.GetValue<string>();
        Advance(TimeSpan.FromMinutes(10));
        AwaitAssert(() => Assert.Equal("completed", Inspect(schedules, id)["status"]!.GetValue<string>()), TimeSpan.FromSeconds(10));
        Assert.Empty(Inspect(schedules, id)["runs"]!.AsArray());
    }

    [Fact]
    public void Pause_and_resume_move_the_next_slot_and_unknown_ids_are_not_found()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Every(600_000))["id"]!.GetValue<string>();
        var paused = Ask(schedules, new PauseSchedule(NextId(), id))["schedule"]!;
        Assert.Equal("paused", paused["status"]!.GetValue<string>());
        Assert.Null(paused["nextRunAt"]);
        Advance(TimeSpan.FromMinutes(25));
        _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        var resumed = Ask(schedules, new ResumeSchedule(NextId(), id))["schedule"]!;
        Assert.Equal("active", resumed["status"]!.GetValue<string>());
        // next(cadence, now): an interval from now (12:25 + 10 min), the missed slots not replayed.
        Assert.Equal("2026-03-27T12:35:00.000Z", resumed["nextRunAt"]!.GetValue<string>());
        Assert.Contains("Schedule not found: 0badf00d", Sends(schedules, new InspectSchedule(NextId(), "0badf00d")));
        Assert.Contains("schedule_request_failed", Sends(schedules, new DeleteSchedule(NextId(), "0badf00d")));
        Assert.Equal(id, Ask(schedules, new DeleteSchedule(NextId(), id))["scheduleId"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(_dir, id + ".json")));
        Assert.Empty(Ask(schedules, new ListSchedules(NextId()))["schedules"]!.AsArray());
    }

    [Fact]
    public void A_schedule_deleted_during_a_run_stays_deleted_after_the_run_and_a_restart()
    {
        var schedules = Schedules();
        var id = Create(schedules, new Cadence.Every(60_000))["id"]!.GetValue<string>();
        var file = Path.Combine(_dir, id + ".json");
        Advance(TimeSpan.FromMinutes(1));
        Assert.IsType<GetSnapshot>(_agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10)).Command);
        var run = _agents.LastSender;
        Assert.Equal(id, Ask(schedules, new DeleteSchedule(NextId(), id))["scheduleId"]!.GetValue<string>());
        Assert.False(File.Exists(file));
        // The run's agent answers late: nothing of the schedule is written again.
        run.Tell(Agent(AgentStatus.Idle), _agents.Ref);
        Advance(TimeSpan.FromMinutes(5));
        Assert.Contains("Schedule not found", Sends(schedules, new InspectSchedule(NextId(), id)));
        Watch(schedules);
        Sys.Stop(schedules);
        ExpectTerminated(schedules);
        Assert.False(File.Exists(file));
        Assert.Contains("Schedule not found", Sends(Schedules(), new InspectSchedule(NextId(), id)));
    }

    [Theory]
    [InlineData(MissedRunPolicy.Skip)]
    [InlineData(MissedRunPolicy.RunOnce)]
    public void A_restart_keeps_the_schedule_fails_its_interrupted_run_and_applies_the_missed_run_policy(MissedRunPolicy policy)
    {
        var limits = ScheduleLimits.Default with { MissedRuns = policy, MissedRunGrace = TimeSpan.FromHours(1) };
        var schedules = Schedules(limits);
        var id = Create(schedules, new Cadence.Every(600_000))["id"]!.GetValue<string>();
        Advance(TimeSpan.FromMinutes(10));
        // The run starts (the agent is asked) and the daemon stops before it ends.
        Assert.IsType<GetSnapshot>(_agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(10)).Command);
        // The run's start is on disk before the "daemon" stops.
        AwaitAssert(() => Assert.Contains("\"running\"", File.ReadAllText(Path.Combine(_dir, id + ".json"))), TimeSpan.FromSeconds(10));
        Watch(schedules);
        Sys.Stop(schedules);
        ExpectTerminated(schedules);
        // Down for 25 minutes: the 12:20 and 12:30 slots are missed.
        _time.Advance(TimeSpan.FromMinutes(25));

        var again = Schedules(limits);
        var recovered = Inspect(again, id);
        var interrupted = recovered["runs"]![0]!;
        Assert.Equal("failed", interrupted["status"]!.GetValue<string>());
        Assert.Equal("Daemon restarted before the scheduled run completed", interrupted["error"]!.GetValue<string>());
        if (policy == MissedRunPolicy.Skip)
        {
            Assert.Equal("2026-03-27T12:40:00.000Z", recovered["nextRunAt"]!.GetValue<string>());
            Clock.Advance(TimeSpan.Zero);
            _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        }
        else
        {
            // One run at once for the latest missed slot (12:30), then back in phase.
            Clock.Advance(TimeSpan.Zero);
            AgentRuns("caught up");
            AwaitRuns(again, id, 2);
            var caughtUp = Inspect(again, id);
            Assert.Equal("2026-03-27T12:30:00.000Z", caughtUp["runs"]![1]!["scheduledFor"]!.GetValue<string>());
            Assert.Equal("2026-03-27T12:40:00.000Z", caughtUp["nextRunAt"]!.GetValue<string>());
        }
    }
}
