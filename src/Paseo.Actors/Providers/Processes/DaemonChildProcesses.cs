using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Processes;

namespace Paseo.Actors.Providers.Processes;

/// <summary>
/// The agent CLIs (and provider servers) one daemon started, as an actor-system extension: every provider starts its
/// processes with <see cref="Tracker"/>. Stopping a process never blocks an actor (a CLI that ignores SIGTERM is killed
/// after `paseo.providers.kill-grace` by a timer, not by a waiting thread), so the daemon's shutdown waits here instead:
/// once the agents are stopped (AgentSupervisor, phase service-stop), what is still running is asked to stop and waited
/// for (phase before-actor-system-terminate) — no CLI outlives the daemon.
/// </summary>
public sealed class DaemonChildProcesses : IExtension
{
    public ChildProcessTracker Tracker { get; } = new();

    public DaemonChildProcesses(ExtendedActorSystem system)
    {
        var config = system.Settings.Config;
        var grace = config.HasPath("paseo.providers.kill-grace") ? config.GetTimeSpan("paseo.providers.kill-grace") : TimeSpan.FromSeconds(3);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "stop-child-processes", async () =>
        {
            if (Tracker.Count == 0) return Akka.Done.Instance;
            Tracker.StopAll();
            // SIGTERM, kill-grace, SIGKILL, then up to a second for the kernel to reap: each process's StopAsync.
            if (!await Tracker.WhenIdleAsync(grace + TimeSpan.FromSeconds(2)))
                system.Log.Error("Child processes still running at shutdown after SIGKILL: {0}", string.Join(", ", Tracker.Pids));
            return Akka.Done.Instance;
        });
    }

    public static DaemonChildProcesses Get(ActorSystem system) => system.WithExtension<DaemonChildProcesses, DaemonChildProcessesId>();
}

public sealed class DaemonChildProcessesId : ExtensionIdProvider<DaemonChildProcesses>
{
    public override DaemonChildProcesses CreateExtension(ExtendedActorSystem system) => new(system);
}
