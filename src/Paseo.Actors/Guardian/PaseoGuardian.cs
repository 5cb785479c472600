using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Identity;
using static Paseo.Actors.Guardian.PaseoGuardianProtocol;

namespace Paseo.Actors.Guardian;

/// <summary>
/// The root of the daemon's actor tree (`/user/paseo`). It owns the daemon's identity and parents every subsystem —
/// `agents`, `sessions`, `relay` (the tunnel), `client-keys`, `workspaces`, `checkouts`, `worktrees`, `scripts`,
/// `terminals`, `daemon-control` — started by the wiring in order (<see cref="PaseoGuardianProtocol.StartSubsystem"/>).
/// docs/architecture.md draws the tree; a test compares it with the running daemon.
/// </summary>
public sealed class PaseoGuardian : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ServerInfo _info;
    private DaemonIdentity _identity;

    public PaseoGuardian(ServerInfo info, DaemonIdentity identity)
    {
        _info = info with { ServerId = identity.ServerId };
        _identity = identity;
        Receive<GetServerInfo>(_ => Sender.Tell(_info));
        Receive<GetIdentity>(_ => Sender.Tell(_identity));
        Receive<ReloadIdentity>(reload =>
        {
            var previous = _identity.ServerId;
            _identity = reload.Identity;
            _info = _info with { ServerId = reload.Identity.ServerId };
            _log.Info("Identity reloaded: server id {0} (was {1}); earlier pairing offers no longer work", reload.Identity.ServerId, previous);
            Sender.Tell(new IdentityReloaded(reload.Identity.ServerId));
            Context.System.EventStream.Publish(new IdentityChanged(reload.Identity));
        });
        Receive<StartSubsystem>(start => Sender.Tell(Context.ActorOf(start.Props, start.Name)));
        Receive<GetSubsystems>(_ => Sender.Tell(new Subsystems([.. Context.GetChildren().Select(c => c.Path.Name).Order(StringComparer.Ordinal)])));
        Receive<ListenerBound>(bound =>
        {
            _info = _info with { Listen = bound.Listen };
            _log.Info("Listening on {0}", bound.Listen);
        });
    }

    public static Props Props(ServerInfo info, DaemonIdentity identity) => Akka.Actor.Props.Create(() => new PaseoGuardian(info, identity));

    protected override SupervisorStrategy SupervisorStrategy() => SubsystemSupervision.Strategy();
}
