using System.Text.RegularExpressions;

namespace Paseo.Transport.Security;

/// <summary>
/// Where a client's password travels (app-protocol.md §6): `Authorization: Bearer &lt;token&gt;` on HTTP, and the
/// WebSocket subprotocol `paseo.bearer.&lt;token&gt;` on /ws (browsers cannot set headers on a WebSocket).
/// </summary>
public static partial class BearerCredentials
{
    public const string SubprotocolPrefix = "paseo.bearer.";

    /// <summary>
    /// The token of an Authorization header. The value must split on whitespace into exactly two parts, the first
    /// exactly "Bearer" (so leading or trailing blanks, or a lowercase scheme, give no token).
    /// </summary>
    public static string? FromAuthorizationHeader(string? header)
    {
        if (header is null) return null;
        var parts = Whitespace().Split(header);
        return parts.Length == 2 && parts[0] == "Bearer" && parts[1].Length > 0 ? parts[1] : null;
    }

    /// <summary>
    /// The first requested subprotocol of the form `paseo.bearer.&lt;token&gt;` (three or more dot segments), with the
    /// token being everything after the second dot, so tokens may contain dots. Returns the whole entry too,
    /// because the server selects (echoes) that entry, as Paseo's clients expect.
    /// </summary>
    public static (string Entry, string Token)? FromSubprotocols(IEnumerable<string> requested)
    {
        foreach (var raw in requested)
        {
            var entry = raw.Trim();
            var segments = entry.Split('.');
            if (segments.Length >= 3 && segments[0] == "paseo" && segments[1] == "bearer")
                return (entry, string.Join('.', segments.Skip(2)));
        }
        return null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
