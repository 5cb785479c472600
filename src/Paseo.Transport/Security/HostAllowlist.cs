using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Paseo.Transport.Configuration;

namespace Paseo.Transport.Security;

/// <summary>
/// The DNS-rebinding guard: which Host headers the daemon answers (app-protocol.md §6). localhost, *.localhost
/// and IP literals always; `.example.com` means the domain and its subdomains; any other pattern is exact;
/// `true` allows every host.
/// </summary>
public sealed partial class HostAllowlist(HostnamesSetting setting)
{
    private readonly string[] _patterns = setting.Patterns.Select(p => p.Trim().ToLowerInvariant()).Where(p => p.Length > 0).ToArray();

    public bool AllowsAny => setting.AllowAny;

    /// <summary>The host part of a Host header: `[v6]:port` gives v6, otherwise everything before the first `:`; trimmed, lowercased.</summary>
    public static string? HostOf(string? hostHeader)
    {
        if (hostHeader is null) return null;
        var text = hostHeader.Trim();
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            text = close > 0 ? text[1..close] : text[1..];
        }
        else
        {
            var colon = text.IndexOf(':');
            if (colon >= 0) text = text[..colon];
        }
        text = text.Trim().ToLowerInvariant();
        return text.Length == 0 ? null : text;
    }

    public bool IsAllowed(string? hostHeader)
    {
        var host = HostOf(hostHeader);
        if (host is null) return false;
        if (host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal)) return true;
        if (IsIpLiteral(host)) return true;
        if (setting.AllowAny) return true;
        foreach (var pattern in _patterns)
        {
            if (pattern.StartsWith('.'))
            {
                if (host == pattern[1..] || host.EndsWith(pattern, StringComparison.Ordinal)) return true;
            }
            else if (host == pattern) return true;
        }
        return false;
    }

    /// <summary>
    /// An IP literal in the strict sense of Node's net.isIP: dotted-quad IPv4 without leading zeros, or IPv6.
    /// (IPAddress.TryParse alone would take "1" or "0x7f.1" as addresses.)
    /// </summary>
    public static bool IsIpLiteral(string host)
    {
        if (Ipv4().IsMatch(host)) return true;
        return host.Contains(':') && IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
    }

    [GeneratedRegex(@"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$")]
    private static partial Regex Ipv4();
}
