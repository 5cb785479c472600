using System.Diagnostics;

namespace Paseo.Transport.Workspaces;

/// <summary>`paseo.workspaces.suggestions`: how far one directory_suggestions search may go.</summary>
public sealed record SuggestionLimits(int MaxDepth, int MaxDirectories, int MaxEntries, TimeSpan TimeBudget)
{
    public static readonly SuggestionLimits Default = new(6, 5000, 50_000, TimeSpan.FromSeconds(2));
}

public sealed record Suggestion(string Path, bool IsDirectory);

/// <summary>
/// directory_suggestions (app-workspaces.md §2.12): the project picker (no cwd: directories under the daemon user's
/// home, absolute paths) and the composer's `@` (inside cwd, relative paths, files too). Breadth-first and bounded: depth,
/// directories visited, entries looked at and a time budget, whichever comes first — a 100 000-file directory costs at
/// most <see cref="SuggestionLimits.MaxEntries"/> looks. Hidden names are skipped, and so are symbolic links that leave
/// the root searched, and anything the daemon user cannot read.
/// </summary>
public static class DirectorySuggestions
{
    private static readonly HashSet<string> Ignored = ["node_modules", "dist", "build", "target", "out", "coverage", "vendor", "__pycache__"];

    /// <summary>The picker: absolute directory paths under <paramref name="home"/>.</summary>
    public static IReadOnlyList<Suggestion> UnderHome(string home, string query, int limit, SuggestionLimits limits)
    {
        var q = query.Trim();
        if (q.Length == 0) return [];
        var root = CheckoutFacts.RealPath(WorkspacePaths.Normalize(home));
        string? browse = null;
        var last = "";
        if (q == "~" || q == "~/") browse = root;
        else if ((q.StartsWith("~/", StringComparison.Ordinal) || q.StartsWith("./", StringComparison.Ordinal) || q.StartsWith('/')) && q[1..].Contains('/') || q.StartsWith('/'))
        {
            var absolute = q.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(root, q[2..])
                : q.StartsWith("./", StringComparison.Ordinal) ? Path.Combine(root, q[2..]) : q;
            var cut = absolute.LastIndexOf('/');
            browse = WorkspacePaths.Normalize(cut <= 0 ? "/" : absolute[..cut]);
            last = absolute[(cut + 1)..];
            if (!WorkspacePaths.IsUnder(browse, root)) return [];
        }
        var found = browse is not null
            ? Children(browse, root, last, includeFiles: false, includeDirectories: true, limits)
            : Search(root, root, q, includeFiles: false, includeDirectories: true, limits, skipIgnored: false);
        return Rank(found.Select(f => f with { Path = f.Path }), q, root, limit, absolute: true);
    }

    /// <summary>The composer: paths relative to <paramref name="cwd"/>, `/`-separated.</summary>
    public static IReadOnlyList<Suggestion> InDirectory(string cwd, string query, bool includeFiles, bool includeDirectories, int limit, SuggestionLimits limits)
    {
        if (!includeFiles && !includeDirectories) return [];
        var root = WorkspacePaths.Normalize(cwd);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Directory does not exist: {root}");
        var q = query.Trim();
        IEnumerable<Suggestion> found;
        if (q.Length == 0 || q.Contains('/'))
        {
            var cut = q.LastIndexOf('/');
            var parent = cut < 0 ? root : WorkspacePaths.Normalize(Path.Combine(root, q[..cut].TrimStart('/')));
            if (!WorkspacePaths.IsUnder(parent, root)) return [];
            found = Children(parent, root, cut < 0 ? q : q[(cut + 1)..], includeFiles, includeDirectories, limits, skipIgnored: true);
        }
        else found = Search(root, root, q, includeFiles, includeDirectories, limits, skipIgnored: true);
        return Rank(found, q, root, limit, absolute: false);
    }

    private static IEnumerable<Suggestion> Children(string directory, string root, string contains, bool includeFiles, bool includeDirectories, SuggestionLimits limits, bool skipIgnored = false)
    {
        var result = new List<Suggestion>();
        var looked = 0;
        foreach (var entry in Entries(directory))
        {
            if (++looked > limits.MaxEntries) break;
            if (entry.Name.StartsWith('.') || (skipIgnored && Ignored.Contains(entry.Name)) || !entry.Name.Contains(contains, StringComparison.OrdinalIgnoreCase)) continue;
            var isDirectory = IsDirectoryInside(entry, root);
            if (isDirectory is null) continue;
            if (isDirectory.Value ? includeDirectories : includeFiles) result.Add(new Suggestion(entry.FullName, isDirectory.Value));
        }
        return result;
    }

    private static IEnumerable<Suggestion> Search(string start, string root, string query, bool includeFiles, bool includeDirectories, SuggestionLimits limits, bool skipIgnored)
    {
        var clock = Stopwatch.StartNew();
        var result = new List<Suggestion>();
        var queue = new Queue<(string Path, int Depth)>();
        queue.Enqueue((start, 0));
        int directories = 0, looked = 0;
        while (queue.Count > 0 && directories < limits.MaxDirectories && looked < limits.MaxEntries && clock.Elapsed < limits.TimeBudget)
        {
            var (directory, depth) = queue.Dequeue();
            directories++;
            foreach (var entry in Entries(directory))
            {
                if (++looked > limits.MaxEntries || clock.Elapsed >= limits.TimeBudget) break;
                if (entry.Name.StartsWith('.') || (skipIgnored && Ignored.Contains(entry.Name))) continue;
                var isDirectory = IsDirectoryInside(entry, root);
                if (isDirectory is null) continue;
                var relative = System.IO.Path.GetRelativePath(root, entry.FullName).Replace('\\', '/');
                if ((isDirectory.Value ? includeDirectories : includeFiles) && relative.Contains(query, StringComparison.OrdinalIgnoreCase))
                    result.Add(new Suggestion(entry.FullName, isDirectory.Value));
                if (isDirectory.Value && depth + 1 < limits.MaxDepth) queue.Enqueue((entry.FullName, depth + 1));
            }
        }
        return result;
    }

    private static IEnumerable<FileSystemInfo> Entries(string directory)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFileSystemInfos("*", new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, ReturnSpecialDirectories = false });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException)
        {
            return [];
        }
    }

    /// <summary>True for a directory, false for a file, null for what is skipped (a link leading outside the root, a dangling link).</summary>
    private static bool? IsDirectoryInside(FileSystemInfo entry, string root)
    {
        try
        {
            if (entry.LinkTarget is null) return entry is DirectoryInfo;
            var target = entry.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists || !WorkspacePaths.IsUnder(WorkspacePaths.Normalize(target.FullName), root)) return null;
            return target is DirectoryInfo;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IReadOnlyList<Suggestion> Rank(IEnumerable<Suggestion> found, string query, string root, int limit, bool absolute)
    {
        var q = query.Trim().ToLowerInvariant();
        var last = q.Contains('/') ? q[(q.LastIndexOf('/') + 1)..] : q;
        return found
            .Select(s =>
            {
                var relative = System.IO.Path.GetRelativePath(root, s.Path).Replace('\\', '/');
                var path = relative.ToLowerInvariant();
                var segments = path.Split('/');
                int tier = 4, segment = segments.Length, offset = last.Length == 0 ? 0 : path.IndexOf(last, StringComparison.Ordinal);
                if (last.Length == 0) tier = 3;
                else
                {
                    for (var i = 0; i < segments.Length; i++)
                    {
                        var t = segments[i] == last ? 0 : segments[i].StartsWith(last, StringComparison.Ordinal) ? 1 : segments[i].Contains(last, StringComparison.Ordinal) ? 2 : 4;
                        if (t < tier) { tier = t; segment = i; }
                    }
                    if (tier == 4 && path.StartsWith(last, StringComparison.Ordinal)) tier = 3;
                }
                return (Suggestion: absolute ? s : s with { Path = relative }, tier, segment, offset: offset < 0 ? int.MaxValue : offset, depth: segments.Length, relative);
            })
            .OrderBy(r => r.tier).ThenBy(r => r.segment).ThenBy(r => r.offset).ThenBy(r => r.depth)
            .ThenBy(r => r.Suggestion.IsDirectory ? 0 : 1).ThenBy(r => r.relative, StringComparer.Ordinal)
            .Take(limit)
            .Select(r => r.Suggestion)
            .ToList();
    }
}
