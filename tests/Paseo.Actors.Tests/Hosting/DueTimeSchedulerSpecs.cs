using System.Diagnostics;
using Akka.Actor;
using Paseo.Actors.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Hosting;

/// <summary>
/// The scheduler paseo.hocon configures (timers on .NET's timer queue): messages come when due and not before, a
/// cancelled one never comes, repeats keep their rate until cancelled, actor timers work through it, and after the
/// system's end nothing fires.
/// </summary>
public sealed class DueTimeSchedulerSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(
    "akka.loglevel = WARNING\nakka.scheduler.implementation = \"Paseo.Actors.Hosting.DueTimeScheduler, Paseo.Actors\"", output)
{
    [Fact]
    public void The_system_runs_on_it()
    {
        Assert.IsType<DueTimeScheduler>(Sys.Scheduler);
    }

    [Fact]
    public void A_message_comes_when_due_not_before_and_not_a_tick_late()
    {
        var watch = Stopwatch.StartNew();
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(30), TestActor, "due", ActorRefs.NoSender);
        ExpectMsg("due", TimeSpan.FromSeconds(5));
        // Not early: the watch started before the message was scheduled.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(30), $"came after {watch.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void A_cancelled_message_never_comes_and_the_others_still_do()
    {
        var cancelled = Sys.Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMilliseconds(500), TestActor, "cancelled", ActorRefs.NoSender);
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(700), TestActor, "kept", ActorRefs.NoSender);
        cancelled.Cancel();
        // "kept" is due after "cancelled" was: had the cancel not held, "cancelled" would come first.
        ExpectMsg("kept", TimeSpan.FromSeconds(5));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_repeated_message_keeps_coming_until_cancelled()
    {
        var watch = Stopwatch.StartNew();
        var repeat = Sys.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TestActor, "tick", ActorRefs.NoSender);
        for (var i = 0; i < 10; i++) ExpectMsg("tick", TimeSpan.FromSeconds(5));
        // Ten at a 20 ms interval, the first at once: never sooner than 180 ms (the rate holds, it does not run ahead).
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(180), $"ten ticks in {watch.Elapsed.TotalMilliseconds} ms");
        repeat.Cancel();
        // Ticks already sent before the cancel may still be queued: drain them, then five intervals of silence.
        ReceiveWhile(TimeSpan.FromMilliseconds(100), m => (string)m);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Actor_timers_and_scheduled_actions_run_through_it()
    {
        var actor = Sys.ActorOf(Props.Create(() => new WithTimer(TestActor)));
        actor.Tell("start");
        ExpectMsg("timer fired", TimeSpan.FromSeconds(5));
        var ran = new TaskCompletionSource();
        Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(10), () => ran.SetResult());
        await ran.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task After_the_system_ends_nothing_fires_and_scheduling_does_not_throw()
    {
        var system = ActorSystem.Create("ends", "akka.loglevel = WARNING\nakka.scheduler.implementation = \"Paseo.Actors.Hosting.DueTimeScheduler, Paseo.Actors\"");
        var fired = 0;
        system.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromSeconds(2), () => Interlocked.Increment(ref fired));
        var scheduler = system.Scheduler;
        await system.Terminate();
        scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => Interlocked.Increment(ref fired));
        ((IDisposable)scheduler).Dispose(); // a second time: no exception
        // Later than both were due: neither ran.
        var probe = new TaskCompletionSource();
        using (new Timer(_ => probe.SetResult(), null, 2500, Timeout.Infinite)) await probe.Task;
        Assert.Equal(0, Volatile.Read(ref fired));
    }

    [Fact]
    public void A_repeated_action_that_fails_is_not_run_again()
    {
        var runs = 0;
        Sys.Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), () =>
        {
            TestActor.Tell(Interlocked.Increment(ref runs));
            throw new InvalidOperationException("fails");
        });
        ExpectMsg(1, TimeSpan.FromSeconds(5));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // twenty intervals
    }

    private sealed class WithTimer : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public WithTimer(IActorRef probe)
        {
            Receive<string>(s => s == "start", _ => Timers.StartSingleTimer("t", "fire", TimeSpan.FromMilliseconds(15)));
            Receive<string>(s => s == "fire", _ => probe.Tell("timer fired"));
        }
    }
}
