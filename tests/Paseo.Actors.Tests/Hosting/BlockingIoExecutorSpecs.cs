using Akka.Actor;
using Akka.Dispatch;
using Paseo.Actors.Hosting;
using Paseo.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Hosting;

/// <summary>
/// The blocking-io dispatcher's executor (paseo.hocon): actors on it run on its own threads, in order, one blocked actor
/// does not hold up another, and a shut-down executor ends its threads and refuses new work.
/// </summary>
public sealed class BlockingIoExecutorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private sealed class ThreadReporter : ReceiveActor
    {
        public ThreadReporter(TaskCompletionSource? gate)
        {
            Receive<int>(n =>
            {
                if (n < 0) gate?.Task.Wait(TimeSpan.FromSeconds(30)); // a blocking write that takes long
                Sender.Tell((n, Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
            });
        }
    }

    private IActorRef OnBlockingIo(TaskCompletionSource? gate = null) =>
        Sys.ActorOf(Props.Create(() => new ThreadReporter(gate)).WithDispatcher("akka.actor.blocking-io-dispatcher"));

    [Fact]
    public void Actors_on_it_run_on_its_own_threads_in_order()
    {
        var actor = OnBlockingIo();
        for (var i = 0; i < 500; i++) actor.Tell(i);
        for (var i = 0; i < 500; i++)
        {
            var (n, thread, pooled) = ExpectMsg<(int, string?, bool)>();
            Assert.Equal(i, n);
            Assert.StartsWith("akka.actor.blocking-io-dispatcher-", thread);
            Assert.False(pooled);
        }
    }

    [Fact]
    public void One_blocked_actor_does_not_hold_up_another()
    {
        var gate = new TaskCompletionSource();
        var blocked = OnBlockingIo(gate);
        var other = OnBlockingIo();
        blocked.Tell(-1);
        other.Tell(7);
        Assert.Equal(7, ExpectMsg<(int N, string?, bool)>().N);
        gate.SetResult();
        Assert.Equal(-1, ExpectMsg<(int N, string?, bool)>().N);
    }

    [Fact]
    public void After_shutdown_it_refuses_work_and_its_threads_end()
    {
        var executor = new BlockingIoExecutor("spec-executor", 2);
        // Two runs that meet: each holds one of the two threads, so both threads are seen.
        using var meeting = new Barrier(2);
        var threads = new System.Collections.Concurrent.ConcurrentBag<Thread>();
        var done = new CountdownEvent(2);
        for (var i = 0; i < 2; i++)
            executor.Execute(new ActionRunnable(() =>
            {
                threads.Add(Thread.CurrentThread);
                meeting.SignalAndWait(TimeSpan.FromSeconds(10));
                done.Signal();
            }));
        Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(["spec-executor-0", "spec-executor-1"], threads.Select(t => t.Name).Order());
        executor.Shutdown();
        Assert.Throws<RejectedExecutionException>(() => executor.Execute(new ActionRunnable(() => { })));
        AwaitCondition(() => threads.All(t => !t.IsAlive), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_thread_count_below_one_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BlockingIoExecutor("spec-zero", 0));
        Assert.Contains("thread-count", e.Message);
    }
}
