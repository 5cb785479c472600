using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Paseo.Transport.Listen;

/// <summary>
/// Where the daemon listens: a TCP host and port, or a unix socket path (app-protocol.md §1.1).
/// </summary>
public abstract record ListenTarget
{
    /// <summary>Only this machine can reach it (loopback TCP, or a unix socket).</summary>
    public abstract bool IsLocalOnly { get; }

    /// <summary>Parses a listen string as Paseo does: `host:port`, a bare port, `[v6]:port`, `unix:///abs`, `/abs`, `~/path`.</summary>
    public static ListenTarget Parse(string raw, IReadOnlyDictionary<string, string?>? env = null)
    {
        var text = raw.Trim();
        if (text.Length == 0) throw new FormatException("the listen address is empty; expected host:port, a port, or unix:///path");
        if (text.StartsWith(@"\\.\pipe\", StringComparison.Ordinal) || text.StartsWith("pipe://", StringComparison.Ordinal))
            throw new FormatException($"'{raw}': Windows named pipes are not supported here; use unix:///path");
        if (text.Length >= 3 && char.IsAsciiLetter(text[0]) && text[1] == ':' && (text[2] == '\\' || text[2] == '/'))
            throw new FormatException($"'{raw}': a Windows drive path is not a listen address");
        if (text.StartsWith("unix://", StringComparison.Ordinal))
        {
            var path = text["unix://".Length..];
            if (!path.StartsWith('/')) throw new FormatException($"'{raw}': a unix socket path must be absolute (unix:///abs/path)");
            return new UnixListenTarget(path);
        }
        if (text.StartsWith('/')) return new UnixListenTarget(text);
        // Paseo takes `~` literally here; expanding it is what a user means.
        if (text.StartsWith('~')) return new UnixListenTarget(Configuration.PaseoHome.ExpandTilde(text, env ?? new Dictionary<string, string?>()));
        if (text.All(char.IsAsciiDigit)) return new TcpListenTarget("127.0.0.1", ParsePort(text, raw));

        string host, port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
                throw new FormatException($"'{raw}': expected [ipv6]:port");
            host = text[1..close];
            port = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                throw new FormatException($"'{raw}': '{host}' is not an IPv6 address");
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0) throw new FormatException($"'{raw}': expected host:port, a port number, or unix:///path");
            host = text[..colon];
            port = text[(colon + 1)..];
            if (host.Contains(':')) throw new FormatException($"'{raw}': write IPv6 addresses in brackets, e.g. [::1]:6767");
            if (host.Length == 0) host = "127.0.0.1";
        }
        return new TcpListenTarget(host.ToLowerInvariant(), ParsePort(port, raw));
    }

    private static int ParsePort(string text, string raw)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
            throw new FormatException($"'{raw}': '{text}' is not a port number (0-65535)");
        return port;
    }
}

public sealed record TcpListenTarget(string Host, int Port) : ListenTarget
{
    public bool IsLocalhostName => Host == "localhost";

    public override bool IsLocalOnly => IsLocalhostName || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The host as it appears in a URL or Origin: IPv6 in brackets.</summary>
    public string UrlHost => Host.Contains(':') ? $"[{Host}]" : Host;

    public TcpListenTarget WithPort(int port) => this with { Port = port };

    public override string ToString() => $"{UrlHost}:{Port}";
}

public sealed record UnixListenTarget(string Path) : ListenTarget
{
    public override bool IsLocalOnly => true;

    public override string ToString() => $"unix://{Path}";
}
