using Paseo.Transport.Identity;

namespace Paseo.Actors.Guardian;

/// <summary>Messages of the root guardian (`/user/paseo`).</summary>
public static class PaseoGuardianProtocol
{
    /// <summary>Who this daemon is, as /api/status and `server_info` report it.</summary>
    public sealed record ServerInfo(ServerId ServerId, string Hostname, string Version, string Listen, DateTimeOffset StartedAt);

    /// <summary>Asks for the current <see cref="ServerInfo"/>.</summary>
    public sealed record GetServerInfo
    {
        public static readonly GetServerInfo Instance = new();
        private GetServerInfo() { }
    }

    /// <summary>Asks for the current <see cref="DaemonIdentity"/> (server id and keypair) that new relay connections use.</summary>
    public sealed record GetIdentity
    {
        public static readonly GetIdentity Instance = new();
        private GetIdentity() { }
    }

    /// <summary>
    /// The identity files were read again (after `paseo daemon pair --rotate`): connections opened from now on use
    /// this server id and keypair, so offers made before stop working. Answered with <see cref="IdentityReloaded"/>.
    /// </summary>
    public sealed record ReloadIdentity(DaemonIdentity Identity);

    public sealed record IdentityReloaded(ServerId ServerId);

    /// <summary>Published on the event stream after a reload: the relay tunnel reconnects under the new identity.</summary>
    public sealed record IdentityChanged(DaemonIdentity Identity);

    /// <summary>
    /// From the daemon's wiring at start: make this subsystem a child of the guardian (`/user/paseo/&lt;name&gt;`); answered
    /// with its <see cref="Akka.Actor.IActorRef"/>.
    /// </summary>
    public sealed record StartSubsystem(Akka.Actor.Props Props, string Name);

    /// <summary>Asks for the names of the guardian's children (the subsystems running), answered with <see cref="Subsystems"/>.</summary>
    public sealed record GetSubsystems
    {
        public static readonly GetSubsystems Instance = new();
        private GetSubsystems() { }
    }

    public sealed record Subsystems(IReadOnlyList<string> Names);

    /// <summary>The front door bound its listener: record the address actually bound (a port of 0 becomes the real one).</summary>
    public sealed record ListenerBound(string Listen);
}
