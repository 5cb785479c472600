using Akka.Configuration;
using Akka.Dispatch;

namespace Paseo.Actors.Hosting;

/// <summary>
/// The executor of <c>akka.actor.blocking-io-dispatcher</c> (the agent store's and the client-key ledger's file writes):
/// a few dedicated threads that sleep on a monitor until work arrives. Akka's own dedicated thread pool (the
/// ForkJoinDispatcher) spins its idle threads through <c>Thread.Sleep(0)</c> before they block, and the store is woken
/// for every timeline row an agent streams: with one agent streaming 1 000 deltas a second to 10 clients, that spin was
/// 38 % of the daemon's CPU samples (perf; bench/README.md, "Efficiency"). Blocking file I/O still never runs on the
/// default dispatcher's (the .NET thread pool's) threads.
/// </summary>
/// <remarks>Configured in the dispatcher's section: <c>executor = "Paseo.Actors.Hosting.BlockingIoExecutorConfigurator, Paseo.Actors"</c>
/// and <c>blocking-io-executor.thread-count</c> (default 2).</remarks>
public sealed class BlockingIoExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites) : ExecutorServiceConfigurator(config, prerequisites)
{
    private readonly int _threadCount = config.GetInt("blocking-io-executor.thread-count", 2);

    public override ExecutorService Produce(string id) => new BlockingIoExecutor(id, _threadCount);
}

/// <summary>The dispatchers paseo.hocon defines that actors ask for by name.</summary>
public static class PaseoDispatchers
{
    /// <summary>Blocking file I/O (the stores, the client-key ledger), on <see cref="BlockingIoExecutor"/>'s threads.</summary>
    public const string BlockingIo = "akka.actor.blocking-io-dispatcher";
}

/// <summary>Fixed threads over one FIFO queue of mailbox runs (at most one per actor of the dispatcher, so it is bounded by them).</summary>
public sealed class BlockingIoExecutor : ExecutorService
{
    private readonly Queue<IRunnable> _queue = new();
    private readonly Thread[] _threads;
    private int _idle;
    private bool _shutdown;

    public BlockingIoExecutor(string id, int threadCount) : base(id)
    {
        if (threadCount < 1) throw new ArgumentOutOfRangeException(nameof(threadCount), threadCount, "blocking-io-executor.thread-count must be at least 1");
        _threads = new Thread[threadCount];
        for (var i = 0; i < threadCount; i++)
        {
            // Background threads: a process that ends without terminating the actor system is not held up by them.
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{id}-{i}" };
            _threads[i].Start();
        }
    }

    public override void Execute(IRunnable run)
    {
        lock (_queue)
        {
            if (_shutdown) throw new RejectedExecutionException($"{Id} has been shut down");
            _queue.Enqueue(run);
            // Only a sleeping thread needs waking; a busy one takes the run when it comes back.
            if (_idle > 0) Monitor.Pulse(_queue);
        }
    }

    /// <summary>Takes no more work; the threads finish what is queued and end.</summary>
    public override void Shutdown()
    {
        lock (_queue)
        {
            _shutdown = true;
            Monitor.PulseAll(_queue);
        }
    }

    private void Work()
    {
        while (true)
        {
            IRunnable run;
            lock (_queue)
            {
                while (_queue.Count == 0)
                {
                    if (_shutdown) return;
                    _idle++;
                    Monitor.Wait(_queue);
                    _idle--;
                }
                run = _queue.Dequeue();
            }
            // A mailbox run catches its actor's failures itself; anything that still escapes must not end this thread.
            try
            {
                run.Run();
            }
            catch (Exception e) when (e is not ThreadAbortException)
            {
                Console.Error.WriteLine($"{Id}: a task failed outside its actor: {e}");
            }
        }
    }
}
