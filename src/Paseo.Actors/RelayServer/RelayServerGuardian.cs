using Akka.Actor;
using Paseo.Actors.Guardian;

namespace Paseo.Actors.RelayServer;

/// <summary>
/// The root of the relay server's actor tree (`/user/relay-server`): it parents `relay-rooms` and supervises it as the
/// daemon's guardian supervises its subsystems (<see cref="SubsystemSupervision"/>).
/// </summary>
public sealed class RelayServerGuardian : ReceiveActor
{
    public RelayServerGuardian()
    {
        Receive<PaseoGuardianProtocol.StartSubsystem>(start => Sender.Tell(Context.ActorOf(start.Props, start.Name)));
        Receive<PaseoGuardianProtocol.GetSubsystems>(_ =>
            Sender.Tell(new PaseoGuardianProtocol.Subsystems([.. Context.GetChildren().Select(c => c.Path.Name).Order(StringComparer.Ordinal)])));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new RelayServerGuardian());

    protected override SupervisorStrategy SupervisorStrategy() => SubsystemSupervision.Strategy();
}
