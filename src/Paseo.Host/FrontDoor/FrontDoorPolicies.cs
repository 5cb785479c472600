using Paseo.Host.Hosting;
using Paseo.Transport.Listen;
using Paseo.Transport.Security;

namespace Paseo.Host.FrontDoor;

/// <summary>Everything the front door decides with: who may connect, from where, with which password, within which limits.</summary>
public sealed record FrontDoorPolicies(
    ListenTarget Listen,
    HostAllowlist Hosts,
    CorsPolicy Cors,
    PasswordGate Password,
    FrontDoorLimits Limits)
{
    /// <summary>Paseo checks the Host header of plain HTTP only on TCP listeners; a unix socket has no DNS to rebind.</summary>
    public bool ChecksHttpHost => Listen is TcpListenTarget;
}
