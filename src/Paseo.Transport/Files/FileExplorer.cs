using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Files;

/// <summary>`paseo.files`: how much one file_explorer request may read, list, and how long a download token lives.</summary>
public sealed record FileLimits(long MaxReadBytes, int MaxEntries, TimeSpan TokenLifetime, int MaxTokens)
{
    public static readonly FileLimits Default = new(10L << 20, 10_000, TimeSpan.FromSeconds(60), 1000);
}

/// <summary>A file_explorer / download error with the message clients show.</summary>
public sealed class FileExplorerException(string message) : Exception(message);

/// <summary>
/// The file explorer of a workspace (app-workspaces.md §6.1): paths resolved against the workspace directory and kept
/// inside it, links included (a link leading out is refused like `..`); listings and reads bounded by <see cref="FileLimits"/>.
/// </summary>
public static class FileExplorer
{
    private static readonly Dictionary<string, string> ImageTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".png"] = "image/png", [".jpg"] = "image/jpeg", [".jpeg"] = "image/jpeg", [".gif"] = "image/gif", [".webp"] = "image/webp", [".svg"] = "image/svg+xml",
    };

    /// <summary>The absolute path of <paramref name="path"/> inside <paramref name="cwd"/>, and its `/`-separated path relative to it (`.` for cwd).</summary>
    public static (string Absolute, string Relative) Resolve(string cwd, string? path, string userHome)
    {
        var root = cwd.Trim();
        if (root.Length == 0) throw new FileExplorerException("cwd is required");
        root = Path.GetFullPath(root.Length > 1 ? root.TrimEnd('/') : root);
        var requested = string.IsNullOrEmpty(path) ? "." : path;
        if (requested.Contains('\0')) throw new FileExplorerException("Access outside of workspace is not allowed");
        var expanded = Workspaces.WorkspacePaths.ExpandHome(requested, userHome);
        var absolute = Path.GetFullPath(Path.IsPathRooted(expanded) ? expanded : Path.Combine(root, expanded));
        if (absolute.Length > 1) absolute = absolute.TrimEnd('/');
        if (!Inside(absolute, root)) throw new FileExplorerException("Access outside of workspace is not allowed");
        // Also after every link is resolved: a link inside the workspace must not lead out of it.
        var realRoot = UnixFiles.RealPath(root) ?? root;
        // A path that does not resolve (missing, dangling, a loop) is judged by its parent: it must resolve inside too.
        var real = UnixFiles.RealPath(absolute) ?? (Path.GetDirectoryName(absolute) is { } parent && UnixFiles.RealPath(parent) is { } realParent
            ? Path.Combine(realParent, Path.GetFileName(absolute)) : null);
        if (real is null || !Inside(real, realRoot)) throw new FileExplorerException(real is null ? Missing(absolute).Message : "Access outside of workspace is not allowed");
        var relative = absolute == root ? "." : Path.GetRelativePath(root, absolute).Replace('\\', '/');
        return (absolute, relative);
    }

    private static bool Inside(string path, string root) => path == root || path.StartsWith(root == "/" ? "/" : root + "/", StringComparison.Ordinal);

    /// <summary>list: the entries of a directory, newest first then by name; at most <see cref="FileLimits.MaxEntries"/>, dangling links left out.</summary>
    public static JsonObject List(string absolute, string relative, FileLimits limits)
    {
        if (!Directory.Exists(absolute)) throw File.Exists(absolute) ? new FileExplorerException("Requested path is not a directory") : Missing(absolute);
        var entries = new List<(string Name, string Path, string Kind, long Size, DateTime Modified)>();
        foreach (var entry in new DirectoryInfo(absolute).EnumerateFileSystemInfos("*", new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0 }))
        {
            if (entries.Count >= limits.MaxEntries) break;
            try
            {
                var link = (entry.Attributes & FileAttributes.ReparsePoint) != 0;
                var target = link ? entry.ResolveLinkTarget(returnFinalTarget: true) : entry;
                if (target is null || !target.Exists) continue;
                var isDirectory = entry is DirectoryInfo && !link;
                var size = target is FileInfo file ? file.Length : 4096;
                entries.Add((entry.Name, relative == "." ? entry.Name : $"{relative}/{entry.Name}", isDirectory ? "directory" : "file", size, target.LastWriteTimeUtc));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A link loop, or an entry gone while listing: left out, the rest is listed.
            }
        }
        return new JsonObject
        {
            ["path"] = relative,
            ["entries"] = new JsonArray([.. entries.OrderByDescending(e => e.Modified).ThenBy(e => e.Name, StringComparer.Ordinal).Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Name, ["path"] = e.Path, ["kind"] = e.Kind, ["size"] = e.Size, ["modifiedAt"] = IsoTime.Format(new DateTimeOffset(e.Modified, TimeSpan.Zero)),
            })]),
        };
    }

    /// <summary>file (JSON form): image → base64, binary → no content, text → UTF-8; larger than the limit → an error that says to download it.</summary>
    public static JsonObject Read(string absolute, string relative, FileLimits limits)
    {
        var info = new FileInfo(absolute);
        if (!info.Exists) throw Directory.Exists(absolute) ? new FileExplorerException("Requested path is not a file") : Missing(absolute);
        if (info.Length > limits.MaxReadBytes)
            throw new FileExplorerException($"File is {info.Length} bytes, more than {limits.MaxReadBytes} (paseo.files.max-read-bytes): download it instead");
        var bytes = ReadBounded(absolute, limits);
        var (kind, mime) = Classify(absolute, bytes);
        var file = new JsonObject { ["path"] = relative, ["kind"] = kind };
        switch (kind)
        {
            case "image":
                file["encoding"] = "base64";
                file["content"] = Convert.ToBase64String(bytes);
                break;
            case "binary":
                file["encoding"] = "none";
                break;
            default:
                file["encoding"] = "utf-8";
                file["content"] = Encoding.UTF8.GetString(bytes);
                break;
        }
        file["mimeType"] = mime;
        file["size"] = info.Length;
        file["modifiedAt"] = IsoTime.Format(new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
        return file;
    }

    /// <summary>The chunk size of a file sent as frames: well under every frame limit (a relay frame is 4/3 of it in base64).</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>
    /// A file as file-transfer frames (§6.2): FileBegin (mime, size, `utf-8` for text else `binary`, modifiedAt), its bytes in
    /// chunks of <see cref="ChunkBytes"/>, FileEnd. Bounded by <see cref="FileLimits.MaxReadBytes"/> like the JSON form.
    /// </summary>
    public static IReadOnlyList<byte[]> Frames(string requestId, string absolute, FileLimits limits)
    {
        var info = new FileInfo(absolute);
        if (!info.Exists) throw Directory.Exists(absolute) ? new FileExplorerException("Requested path is not a file") : Missing(absolute);
        if (info.Length > limits.MaxReadBytes)
            throw new FileExplorerException($"File is {info.Length} bytes, more than {limits.MaxReadBytes} (paseo.files.max-read-bytes): download it instead");
        var bytes = ReadBounded(absolute, limits);
        var (kind, mime) = Classify(absolute, bytes);
        var frames = new List<byte[]>
        {
            Protocol.BinaryFrames.Begin(requestId, mime, bytes.Length, kind == "text" ? "utf-8" : "binary", IsoTime.Format(new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero))),
        };
        for (var offset = 0; offset < bytes.Length || offset == 0; offset += ChunkBytes)
        {
            frames.Add(Protocol.BinaryFrames.Chunk(requestId, bytes.AsSpan(offset, Math.Min(ChunkBytes, bytes.Length - offset))));
            if (bytes.Length == 0) break;
        }
        frames.Add(Protocol.BinaryFrames.End(requestId));
        return frames;
    }

    // Whole files in memory at once, daemon-wide (each at most max-read-bytes).
    private static readonly SemaphoreSlim Reads = new(4, 4);

    /// <summary>
    /// A regular file read whole, never more than max-read-bytes: a device, a FIFO or a /proc file (whose stat size says
    /// nothing, and whose read may block or never end) is refused before it is opened.
    /// </summary>
    public static byte[] ReadBounded(string absolute, FileLimits limits)
    {
        if (UnixFiles.IsRegularFile(absolute) == false) throw new FileExplorerException("Requested path is not a regular file");
        Reads.Wait();
        try
        {
            using var stream = new FileStream(absolute, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024);
            var kept = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                kept.Write(buffer, 0, read);
                if (kept.Length > limits.MaxReadBytes)
                    throw new FileExplorerException($"File is more than {limits.MaxReadBytes} bytes (paseo.files.max-read-bytes): download it instead");
            }
            return kept.ToArray();
        }
        finally
        {
            Reads.Release();
        }
    }

    /// <summary>image by extension; else binary (a NUL byte or &gt; 30 % control bytes) or text (`application/json` for .json).</summary>
    public static (string Kind, string Mime) Classify(string path, ReadOnlySpan<byte> head)
    {
        if (ImageTypes.TryGetValue(Path.GetExtension(path), out var image)) return ("image", image);
        // Not valid UTF-8 (beyond a character cut at the end of the head read) is binary too: it would not survive as JSON text.
        if (ContentSniffing.LooksBinary(head) || !ValidUtf8(head)) return ("binary", "application/octet-stream");
        return ("text", Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "text/plain");
    }

    private static bool ValidUtf8(ReadOnlySpan<byte> bytes)
    {
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out var consumed, out _, replaceInvalidSequences: false, isFinalBlock: false);
        return status is System.Buffers.OperationStatus.Done or System.Buffers.OperationStatus.NeedMoreData;
    }

    private static FileExplorerException Missing(string absolute) => new($"ENOENT: no such file or directory, stat '{absolute}'");
}

/// <summary>A file a download token was given for (app-workspaces.md §6.3).</summary>
public sealed record DownloadGrant(string Path, string FileName, string MimeType, long Size, DateTimeOffset Expires, string? RealPath = null);

/// <summary>
/// Download tokens: random, single-use, valid for <see cref="FileLimits.TokenLifetime"/>; at most
/// <see cref="FileLimits.MaxTokens"/> outstanding (expired ones are dropped first, then the oldest).
/// </summary>
public sealed class DownloadTokens(FileLimits limits, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, DownloadGrant> _grants = new(StringComparer.Ordinal);

    public string Issue(string path, string fileName, string mime, long size, string? realPath = null)
    {
        var now = time.GetUtcNow();
        if (_grants.Count >= limits.MaxTokens)
        {
            foreach (var expired in _grants.Where(g => g.Value.Expires <= now).Select(g => g.Key).ToList()) _grants.TryRemove(expired, out _);
            foreach (var oldest in _grants.OrderBy(g => g.Value.Expires).Take(Math.Max(0, _grants.Count - limits.MaxTokens + 1)).Select(g => g.Key).ToList()) _grants.TryRemove(oldest, out _);
        }
        var token = Guid.NewGuid().ToString("D");
        _grants[token] = new DownloadGrant(path, fileName, mime, size, now + limits.TokenLifetime, realPath);
        return token;
    }

    /// <summary>The grant, consumed (even when expired: a token is used once); null when unknown, used or expired.</summary>
    public DownloadGrant? Redeem(string token) =>
        _grants.TryRemove(token, out var grant) && grant.Expires > time.GetUtcNow() ? grant : null;
}
