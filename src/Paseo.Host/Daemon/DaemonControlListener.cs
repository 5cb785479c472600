using Akka.Actor;
using Paseo.Actors.Sessions;

namespace Paseo.Host.Daemon;

/// <summary>What a client asked the daemon to do with itself (shutdown_server_request / restart_server_request).</summary>
public enum DaemonExitRequest { None, Shutdown, Restart }

/// <summary>
/// Hears shutdown and restart requests from client sessions (published on the event stream) and stops the host;
/// <see cref="DaemonRunner"/> then exits, or starts the daemon again for a restart.
/// </summary>
public sealed class DaemonControlListener : ReceiveActor
{
    public DaemonControlListener(Action<DaemonExitRequest, string?> stop)
    {
        Receive<SessionProtocol.DaemonControlRequested>(request =>
            stop(request.Kind == "restart" ? DaemonExitRequest.Restart : DaemonExitRequest.Shutdown, request.Reason));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(SessionProtocol.DaemonControlRequested));

    public static Props Props(Action<DaemonExitRequest, string?> stop) => Akka.Actor.Props.Create(() => new DaemonControlListener(stop));
}
