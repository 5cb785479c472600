using Akka.Actor;

namespace Paseo.Actors.Guardian;

/// <summary>How a root guardian (the daemon's <see cref="PaseoGuardian"/>, the relay server's <see cref="RelayServer.RelayServerGuardian"/>) supervises its subsystems.</summary>
public static class SubsystemSupervision
{
    /// <summary>
    /// A subsystem that throws while handling a message is resumed, keeping its state and its children: restarting
    /// `agents` would stop every agent (and kill its CLI), restarting `sessions` would drop every client's session,
    /// `relay` every phone's connection and `relay-rooms` every room — for one bad message. The exception is logged. A
    /// subsystem that cannot start at all (its constructor or PreStart threw) is stopped, logged, and the process goes on
    /// without it; a killed one stays stopped. Nothing escalates: a fault in one subsystem never stops the process.
    /// </summary>
    public static SupervisorStrategy Strategy() =>
        new OneForOneStrategy(Decider.From(Directive.Resume,
            Directive.Stop.When<ActorInitializationException>(),
            Directive.Stop.When<ActorKilledException>(),
            Directive.Stop.When<DeathPactException>()));
}
