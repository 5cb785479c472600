using Paseo.Transport.Listen;

namespace Paseo.Transport.Security;

/// <summary>
/// Which browser origins may call the daemon (app-protocol.md §6): the configured origins, `paseo://app`, and for a
/// TCP listener the daemon's own http origins. `*` allows every origin.
/// </summary>
public sealed class CorsPolicy
{
    public const string AllowMethods = "GET, POST, DELETE, OPTIONS";
    public const string AllowHeaders = "Content-Type, Authorization";

    private readonly HashSet<string> _origins;

    public bool AllowsAll { get; }

    public IReadOnlyCollection<string> Origins => _origins;

    public CorsPolicy(IEnumerable<string> configured, ListenTarget listen)
    {
        var origins = configured.Select(o => o.Trim()).Where(o => o.Length > 0).ToList();
        AllowsAll = origins.Contains("*");
        _origins = new HashSet<string>(origins.Where(o => o != "*"), StringComparer.Ordinal) { "paseo://app" };
        if (listen is TcpListenTarget tcp)
        {
            _origins.Add($"http://{tcp.UrlHost}:{tcp.Port}");
            _origins.Add($"http://localhost:{tcp.Port}");
            _origins.Add($"http://127.0.0.1:{tcp.Port}");
        }
    }

    public bool IsAllowedOrigin(string? origin) => origin is not null && (AllowsAll || _origins.Contains(origin));

    /// <summary>A WebSocket upgrade may come with no Origin (non-browser clients), an allowed origin, or its own origin.</summary>
    public bool IsAllowedWebSocketOrigin(string? origin, string? hostHeader)
    {
        if (string.IsNullOrEmpty(origin)) return true;
        if (IsAllowedOrigin(origin)) return true;
        return hostHeader is not null && (origin == $"http://{hostHeader}" || origin == $"https://{hostHeader}");
    }
}
