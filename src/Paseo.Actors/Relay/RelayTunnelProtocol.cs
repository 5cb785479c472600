using Paseo.Transport.Crypto;

namespace Paseo.Actors.Relay;

/// <summary>Where and how the daemon reaches its relay (relay-e2ee.md §1.2), and the tunnel's timings.</summary>
/// <param name="Endpoint">`host:port` (IPv6 as `[::1]:port`).</param>
/// <param name="UseTls">wss:// instead of ws://.</param>
public sealed record RelayTunnelSettings(
    string Endpoint,
    bool UseTls,
    TimeSpan PingInterval,
    TimeSpan StaleAfter,
    TimeSpan ReadyTimeout,
    TimeSpan MaxBackoff,
    TimeSpan BackoffStep,
    int MaxDataSockets)
{
    public static RelayTunnelSettings For(string endpoint, bool? useTls = null) => new(
        endpoint,
        // Paseo uses TLS only for its hosted relay; any endpoint on port 443 is taken as TLS here.
        useTls ?? endpoint.EndsWith(":443", StringComparison.Ordinal),
        TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), 1000);

    public Uri Url(string serverId, string? connectionId)
    {
        var query = $"serverId={Uri.EscapeDataString(serverId)}&role=server&v=2";
        if (connectionId is not null) query += $"&connectionId={Uri.EscapeDataString(connectionId)}";
        return new Uri($"{(UseTls ? "wss" : "ws")}://{Endpoint}/ws?{query}");
    }
}

public static class RelayTunnelProtocol
{
    /// <summary>How the tunnel is doing (for /api/status and tests).</summary>
    public sealed record GetTunnelState
    {
        public static readonly GetTunnelState Instance = new();
        private GetTunnelState() { }
    }

    public sealed record TunnelState(bool ControlReady, int ReconnectAttempt, IReadOnlyList<string> DataConnections);

    /// <summary>
    /// From a <see cref="RelayConnectionActor"/> as it starts: it now owns the data socket the tunnel opened for
    /// <paramref name="ConnectionId"/> in epoch <paramref name="Epoch"/> (the tunnel keeps its ref, or ends it if the phone left meanwhile).
    /// </summary>
    public sealed record DataConnectionStarted(string ConnectionId, int Epoch);
}
