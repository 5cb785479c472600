using System.Buffers.Binary;

namespace Paseo.Transport.Workspaces;

/// <summary>project_icon (app-workspaces.md §2.8): the first square icon file of at most 32 KiB in the usual places of a project.</summary>
public static class ProjectIcons
{
    public const int MaxBytes = 32 * 1024;

    private static readonly string[] Names =
        ["favicon.ico", "favicon.png", "favicon.svg", "favico.ico", "favico.png", "favico.svg", "icon.png", "icon.svg", "app-icon.png", "app-icon.svg", "apple-touch-icon.png", "icon-*.png", "logo.png", "logo.svg"];
    private static readonly string[] Places = ["public", "static", "priv/static", "assets", "images", "img"];
    private static readonly HashSet<string> Skipped = [".git", "node_modules", "dist", "build", ".next", ".nuxt", ".output", "coverage", ".cache", "vendor", "src", "lib", "test", "tests", "__tests__"];

    public static (byte[] Data, string MimeType)? Find(string cwd)
    {
        foreach (var candidate in Candidates(cwd))
            if (Accept(candidate) is { } icon) return icon;
        return null;
    }

    private static IEnumerable<string> Candidates(string cwd)
    {
        foreach (var file in InPlaces(cwd)) yield return file;
        foreach (var group in new[] { "packages", "apps" })
        {
            var groupDir = Path.Combine(cwd, group);
            if (!Directory.Exists(groupDir)) continue;
            foreach (var package in SafeDirectories(groupDir).Order(StringComparer.Ordinal))
            {
                foreach (var file in InPlaces(package)) yield return file;
                foreach (var file in Matching(package)) yield return file;
            }
        }
        foreach (var file in Matching(cwd)) yield return file;
    }

    private static IEnumerable<string> InPlaces(string root)
    {
        foreach (var place in Places)
        {
            var dir = Path.Combine(root, place);
            if (!Directory.Exists(dir)) continue;
            // Recursively to depth 2: the place itself, its children, their children.
            var level = new List<string> { dir };
            for (var depth = 0; depth <= 2 && level.Count > 0; depth++)
            {
                foreach (var d in level) foreach (var file in Matching(d)) yield return file;
                level = level.SelectMany(SafeDirectories).Where(d => !Skipped.Contains(Path.GetFileName(d))).Order(StringComparer.Ordinal).ToList();
            }
        }
    }

    /// <summary>The icon files of one directory, in priority order.</summary>
    private static IEnumerable<string> Matching(string dir)
    {
        foreach (var name in Names)
        {
            if (name.Contains('*'))
            {
                string[] found;
                try { found = Directory.GetFiles(dir, name).Order(StringComparer.Ordinal).ToArray(); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                foreach (var f in found) yield return f;
            }
            else if (File.Exists(Path.Combine(dir, name))) yield return Path.Combine(dir, name);
        }
    }

    private static IEnumerable<string> SafeDirectories(string dir)
    {
        try { return Directory.GetDirectories(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private static (byte[] Data, string MimeType)? Accept(string path)
    {
        try
        {
            var info = new FileInfo(path);
            // A FIFO or a device would block or never end: only regular files are read.
            if (!info.Exists || info.Length > MaxBytes || Files.UnixFiles.IsRegularFile(path) != true) return null;
            var data = File.ReadAllBytes(path);
            var ext = Path.GetExtension(path).ToLowerInvariant();
            var mime = ext switch
            {
                ".ico" => "image/x-icon", ".png" => "image/png", ".svg" => "image/svg+xml", ".jpg" or ".jpeg" => "image/jpeg", ".gif" => "image/gif", ".webp" => "image/webp",
                _ => null,
            };
            if (mime is null) return null;
            if (ext is ".ico" or ".svg") return (data, mime);
            return Dimensions(data) is { } size && size.Width == size.Height ? (data, mime) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Width and height from a PNG, GIF, JPEG or WebP header.</summary>
    public static (int Width, int Height)? Dimensions(byte[] d)
    {
        if (d.Length >= 24 && d[0] == 0x89 && d[1] == (byte)'P' && d[2] == (byte)'N' && d[3] == (byte)'G')
            return ((int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(16)), (int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(20)));
        if (d.Length >= 10 && d[0] == (byte)'G' && d[1] == (byte)'I' && d[2] == (byte)'F')
            return (BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(6)), BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(8)));
        if (d.Length >= 30 && d[0] == (byte)'R' && d[1] == (byte)'I' && d[2] == (byte)'F' && d[3] == (byte)'F' && d[8] == (byte)'W' && d[9] == (byte)'E' && d[10] == (byte)'B' && d[11] == (byte)'P')
        {
            var chunk = System.Text.Encoding.ASCII.GetString(d, 12, 4);
            if (chunk == "VP8X") return (1 + (d[24] | d[25] << 8 | d[26] << 16), 1 + (d[27] | d[28] << 8 | d[29] << 16));
            if (chunk == "VP8 ") return (BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(26)) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(28)) & 0x3FFF);
            if (chunk == "VP8L" && d.Length >= 25) { var b = BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(21)); return ((int)(b & 0x3FFF) + 1, (int)((b >> 14) & 0x3FFF) + 1); }
            return null;
        }
        if (d.Length >= 4 && d[0] == 0xFF && d[1] == 0xD8)
        {
            var i = 2;
            while (i + 9 < d.Length)
            {
                if (d[i] != 0xFF) { i++; continue; }
                var marker = d[i + 1];
                var length = d[i + 2] << 8 | d[i + 3];
                if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                    return (d[i + 7] << 8 | d[i + 8], d[i + 5] << 8 | d[i + 6]);
                i += 2 + length;
            }
        }
        return null;
    }
}
