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

    /// <summary>The front door bound its listener: record the address actually bound (a port of 0 becomes the real one).</summary>
    public sealed record ListenerBound(string Listen);
}
