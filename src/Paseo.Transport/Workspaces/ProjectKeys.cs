namespace Paseo.Transport.Workspaces;

/// <summary>
/// A project's key and name from its origin URL (app-workspaces.md §2.2): `remote:&lt;host&gt;/&lt;path&gt;` for an scp-style or
/// `scheme://` remote whose path has a `/`, else the directory the project lives in.
/// </summary>
public static class ProjectKeys
{
    public static string Key(string? remoteUrl, string fallbackDirectory) =>
        RemoteKey(remoteUrl) is { } remote ? $"remote:{remote.Host}/{remote.Path}" : fallbackDirectory;

    public static string Name(string key)
    {
        if (key.StartsWith("remote:github.com/", StringComparison.Ordinal)) return key["remote:github.com/".Length..];
        var trimmed = key.TrimEnd('/', '\\');
        var cut = trimmed.LastIndexOfAny(['/', '\\']);
        var last = cut >= 0 ? trimmed[(cut + 1)..] : trimmed;
        return last.Length > 0 ? last : key;
    }

    /// <summary>The host (lower-cased) and path (no surrounding `/`, no `.git`) of a remote URL, or null when it has no `owner/…` path.</summary>
    public static (string Host, string Path)? RemoteKey(string? remoteUrl)
    {
        if (string.IsNullOrWhiteSpace(remoteUrl)) return null;
        var url = remoteUrl.Trim();
        string host, path;
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host)) return null;
            host = uri.Host;
            path = Uri.UnescapeDataString(uri.AbsolutePath);
        }
        else
        {
            // scp form: [user@]host:path (a local path has no ':' before its first '/')
            var colon = url.IndexOf(':');
            var slash = url.IndexOf('/');
            if (colon <= 0 || (slash >= 0 && slash < colon)) return null;
            host = url[..colon];
            var at = host.LastIndexOf('@');
            if (at >= 0) host = host[(at + 1)..];
            path = url[(colon + 1)..];
        }
        host = host.ToLowerInvariant();
        path = path.Trim('/');
        if (path.EndsWith(".git", StringComparison.Ordinal)) path = path[..^4];
        path = path.Trim('/');
        if (host.Length == 0 || !path.Contains('/')) return null;
        return (host, path);
    }
}
