using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Paseo.Host.Web;

/// <summary>
/// The phone web client (web/, built into web/dist and embedded in this binary as `web/…` resources), served at `/` by
/// the relay and by the daemon. Only these files, with a strict Content-Security-Policy: no inline script, no
/// third-party origin, WebSocket connections to this host only. The files hold no secret (the pairing offer stays in
/// the URL fragment, which the browser never sends), so the daemon serves them without its password; every action
/// goes through /ws, which asks for it.
/// </summary>
public sealed class WebClientAssets
{
    private const string ResourcePrefix = "web/";

    private sealed record Asset(byte[] Body, string ContentType, string ETag, bool Revalidate);

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".webmanifest"] = "application/manifest+json",
        [".png"] = "image/png",
    }.ToFrozenDictionary();

    private readonly FrozenDictionary<string, Asset> _assets;

    private WebClientAssets(FrozenDictionary<string, Asset> assets) => _assets = assets;

    /// <summary>The files embedded in this binary (none when it was built without the web client).</summary>
    public static WebClientAssets Embedded { get; } = Load(typeof(WebClientAssets).Assembly);

    /// <summary>The paths served (`/` is index.html).</summary>
    public IReadOnlyCollection<string> Paths => _assets.Keys;

    private static WebClientAssets Load(Assembly assembly)
    {
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var body = copy.ToArray();
            var file = name[ResourcePrefix.Length..];
            var extension = Path.GetExtension(file);
            if (!ContentTypes.TryGetValue(extension, out var type)) continue;
            var etag = $"\"{Convert.ToHexString(SHA256.HashData(body))[..16]}\"";
            assets["/" + (file == "index.html" ? "" : file)] = new Asset(body, type, etag, Revalidate: true);
        }
        return new WebClientAssets(assets.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Whether <paramref name="path"/> is one of the web client's files.</summary>
    public bool Serves(PathString path) => _assets.ContainsKey(path.Value ?? "");

    /// <summary>Maps every file as a GET (and HEAD) endpoint.</summary>
    public void MapTo(IEndpointRouteBuilder endpoints)
    {
        foreach (var path in _assets.Keys) endpoints.MapMethods(path, [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => ServeAsync(http, path));
    }

    private Task ServeAsync(HttpContext http, string path)
    {
        var asset = _assets[path];
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy(http.Request.Host.Value);
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.ETag = asset.ETag;
        // Not fingerprinted: always revalidated (cheap with the ETag), so a new daemon or relay serves its new client at once.
        headers.CacheControl = "no-cache";
        if (http.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        http.Response.ContentType = asset.ContentType;
        http.Response.ContentLength = asset.Body.Length;
        return HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask : http.Response.Body.WriteAsync(asset.Body).AsTask();
    }

    /// <summary>Scripts, styles, images and the manifest from this host only; sockets to this host only; no frames, no forms, no plugins.</summary>
    public static string ContentSecurityPolicy(string? host)
    {
        var sockets = string.IsNullOrEmpty(host) ? "" : $" ws://{host} wss://{host}";
        return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; manifest-src 'self'; worker-src 'self'; " +
               $"connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }
}
