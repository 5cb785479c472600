using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Paseo.Actors.Hosting;

/// <summary>
/// Akka's scheduler on .NET timers (<c>akka.scheduler.implementation</c> in paseo.hocon): each scheduled message or action
/// is a <see cref="Timer"/> that wakes the process only when it is due.
/// <para>
/// Why not Akka's own: its hashed wheel, once anything has been scheduled (the first connection's hello timer), wakes
/// every <c>tick-duration</c> (10 ms) for the life of the process, due or not. Each tick is a thread-pool work item, and
/// each work item wakes a worker that spins before it sleeps again: a daemon with one idle phone attached spent ~4 % of
/// a core on it (bench/README.md, "Efficiency"). A coarser tick would cost every timer its precision instead; .NET's
/// timer queue is exact to the millisecond and idle when nothing is due.
/// </para>
/// </summary>
public sealed class DueTimeScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    // System.Threading.Timer takes at most 0xFFFFFFFE ms (~49.7 days): a longer delay is waited in steps.
    private static readonly TimeSpan LongestStep = TimeSpan.FromDays(49);
    private readonly CancellationTokenSource _stopped = new();

    public DueTimeScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
    }

    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;
    // Time since this process began, never set back (Akka's own clock is internal to it).
    private static readonly long Origin = System.Diagnostics.Stopwatch.GetTimestamp();
    public override TimeSpan MonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Origin);
    public override TimeSpan HighResMonotonicClock => MonotonicClock;

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Schedule(delay, null, () => receiver.Tell(message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender,
        ICancelable cancelable) =>
        Schedule(initialDelay, interval, () => receiver.Tell(message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) => Schedule(delay, null, action, cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) => Schedule(delay, null, action.Run, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Schedule(initialDelay, interval, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Schedule(initialDelay, interval, action.Run, cancelable);

    private void Schedule(TimeSpan delay, TimeSpan? interval, Action action, ICancelable? cancelable)
    {
        // Unlike Akka's own scheduler (which runs what is pending once when it is disposed, then refuses new work with
        // an exception), after the actor system's end nothing runs and nothing throws: what is scheduled then is dropped.
        // Nothing here waits on a scheduled action past termination.
        if (_stopped.IsCancellationRequested || cancelable?.IsCancellationRequested == true) return;
        new Entry(this, action, interval, cancelable).Start(delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
    }

    public void Dispose()
    {
        // Every pending timer is disposed through its registration on this token. (The source is not disposed: it holds
        // no timer or handle, and a second Dispose must not throw.)
        _stopped.Cancel();
    }

    /// <summary>One scheduled message or action: its timer, and its registrations on the cancelable and on the scheduler's end.</summary>
    private sealed class Entry
    {
        private readonly DueTimeScheduler _scheduler;
        private readonly Action _action;
        private readonly TimeSpan? _interval;
        private readonly ICancelable? _cancelable;
        private readonly Timer _timer;
        private CancellationTokenRegistration _onCancel;
        private CancellationTokenRegistration _onStop;
        private TimeSpan _due;
        private int _done;

        public Entry(DueTimeScheduler scheduler, Action action, TimeSpan? interval, ICancelable? cancelable)
        {
            _scheduler = scheduler;
            _action = action;
            _interval = interval;
            _cancelable = cancelable;
            _timer = new Timer(static state => ((Entry)state!).Fire(), this, Timeout.Infinite, Timeout.Infinite);
        }

        public void Start(TimeSpan delay)
        {
            try
            {
                _onStop = _scheduler._stopped.Token.Register(static state => ((Entry)state!).Stop(), this);
                if (_cancelable is not null) _onCancel = _cancelable.Token.Register(static state => ((Entry)state!).Stop(), this);
                Arm(delay);
            }
            catch
            {
                Stop(); // (e.g. a cancelable already disposed): nothing left armed
                throw;
            }
        }

        private void Arm(TimeSpan delay, bool keepDue = false)
        {
            // (a delay near TimeSpan.MaxValue would overflow the clock: such a timer is as good as never)
            if (!keepDue) _due = delay < TimeSpan.MaxValue - _scheduler.MonotonicClock ? _scheduler.MonotonicClock + delay : TimeSpan.MaxValue;
            // (rounded up to whole milliseconds, as the timer queue counts them)
            var wait = TimeSpan.FromMilliseconds(Math.Ceiling((delay < LongestStep ? delay : LongestStep).TotalMilliseconds));
            try
            {
                _timer.Change(wait, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Stopped (cancelled, or the scheduler ended) while being armed.
            }
        }

        private void Fire()
        {
            if (Volatile.Read(ref _done) != 0) return;
            // Never early: the timer queue counts whole milliseconds and may fire up to one before; a delay beyond one
            // timer's reach is waited in steps. Either way, wait the rest.
            var left = _due - _scheduler.MonotonicClock;
            if (left > TimeSpan.Zero)
            {
                Arm(left, keepDue: true);
                return;
            }
            if (_cancelable?.IsCancellationRequested == true)
            {
                Stop();
                return;
            }
            try
            {
                _action();
            }
            catch (Exception e)
            {
                // As Akka's own: a repeated action that fails is not run again.
                _scheduler.Log.Error(e, "A scheduled action failed");
                Stop();
                return;
            }
            // Repeated: the next run is due one interval after this one was, so the rate holds even if one ran late.
            if (_interval is { } interval && Volatile.Read(ref _done) == 0)
            {
                var next = _due + interval - _scheduler.MonotonicClock;
                Arm(next > TimeSpan.Zero ? next : TimeSpan.Zero);
            }
            else
            {
                Stop();
            }
        }

        private void Stop()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            _timer.Dispose();
            _onCancel.Dispose();
            _onStop.Dispose();
        }
    }
}
