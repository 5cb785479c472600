using Paseo.Host.Hosting;
using Paseo.Transport.Listen;
using Paseo.Transport.Security;

namespace Paseo.Host.FrontDoor;

/// <summary>Everything the front door decides with: who may connect, from where, with which password, within which limits.</summary>
public sealed class FrontDoorPolicies(ListenTarget listen, HostAllowlist hosts, IReadOnlyList<string> corsOrigins, PasswordGate password, FrontDoorLimits limits)
{
    private volatile CorsPolicy _cors = new(corsOrigins, listen);

    public ListenTarget Listen { get; } = listen;
    public HostAllowlist Hosts { get; } = hosts;
    public PasswordGate Password { get; } = password;
    public FrontDoorLimits Limits { get; } = limits;

    /// <summary>The daemon's own origins depend on the port actually bound, known only once Kestrel has started.</summary>
    public CorsPolicy Cors => _cors;

    /// <summary>Paseo checks the Host header of plain HTTP only on TCP listeners; a unix socket has no DNS to rebind.</summary>
    public bool ChecksHttpHost => Listen is TcpListenTarget;

    public void ListenerBound(ListenTarget bound) => _cors = new CorsPolicy(corsOrigins, bound);
}
