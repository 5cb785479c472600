namespace Paseo.Host.RelayServer;

/// <summary>
/// The relay's `/ws` query (relay-e2ee.md §1.1): names are case-sensitive, as in Paseo's relay (ASP.NET Core's own query
/// collection is not), the first value of a name wins, `+` is a space.
/// </summary>
public static class RelayQuery
{
    public static Dictionary<string, string> Parse(string? queryString)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(queryString)) return result;
        foreach (var pair in queryString.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = pair.IndexOf('=');
            var name = Decode(at < 0 ? pair : pair[..at]);
            var value = at < 0 ? "" : Decode(pair[(at + 1)..]);
            result.TryAdd(name, value);
        }
        return result;
    }

    private static string Decode(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return text;
        }
    }

    /// <summary>`v`: absent, empty or blank → "1" (the legacy default); "1" or "2" after trimming; anything else is invalid (null).</summary>
    public static string? Version(Dictionary<string, string> query)
    {
        if (!query.TryGetValue("v", out var raw) || raw.Trim().Length == 0) return "1";
        var v = raw.Trim();
        return v is "1" or "2" ? v : null;
    }
}
