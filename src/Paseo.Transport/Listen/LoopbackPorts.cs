using System.Net;
using System.Net.Sockets;

namespace Paseo.Transport.Listen;

/// <summary>Ports a child process is told to listen on (OpenCode's server, a worktree's PASEO_WORKTREE_PORT, a workspace service).</summary>
public static class LoopbackPorts
{
    /// <summary>A TCP port free on 127.0.0.1 right now (the kernel's choice; the caller hands it on).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
