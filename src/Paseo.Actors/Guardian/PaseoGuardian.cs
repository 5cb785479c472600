using Akka.Actor;
using Akka.Event;
using static Paseo.Actors.Guardian.PaseoGuardianProtocol;

namespace Paseo.Actors.Guardian;

/// <summary>
/// The root of the daemon's actor tree (`/user/paseo`). It owns the daemon's identity and will parent the
/// agents, client sessions and relay tunnel subsystems; its supervision strategy keeps one failing child
/// from taking the others down.
/// </summary>
public sealed class PaseoGuardian : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ServerInfo _info;

    public PaseoGuardian(ServerInfo info)
    {
        _info = info;
        Receive<GetServerInfo>(_ => Sender.Tell(_info));
        Receive<ListenerBound>(bound =>
        {
            _info = _info with { Listen = bound.Listen };
            _log.Info("Listening on {0}", bound.Listen);
        });
    }

    public static Props Props(ServerInfo info) => Akka.Actor.Props.Create(() => new PaseoGuardian(info));

    // A child that throws is restarted on its own; it never escalates to the daemon.
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(Decider.From(Directive.Restart));
}
