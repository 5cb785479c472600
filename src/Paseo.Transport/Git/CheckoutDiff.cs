using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Git;

/// <summary>What a diff subscription compares (app-workspaces.md §3.3).</summary>
public sealed record DiffCompare(string Mode, string? BaseRef, bool IgnoreWhitespace);

/// <summary>
/// The files of a diff pane (app-workspaces.md §3.3), computed at the repository's top level: hunks parsed from git's
/// patch. Bounded: a binary file, a file with more than <see cref="MaxChangedLines"/> changed lines, an untracked file over
/// <see cref="MaxUntrackedBytes"/>, or every tracked file when the whole patch is over <see cref="MaxPatchBytes"/>, is sent
/// with its status (`binary` / `too_large`) and counts, without hunks — never whole.
/// </summary>
public static class CheckoutDiff
{
    public const int MaxChangedLines = 40_000;
    public const long MaxUntrackedBytes = 1 << 20;
    public const long MaxPatchBytes = 2 << 20;
    /// <summary>Untracked files diffed (each one git process); the rest are listed as too_large. Their hunks together stay under <see cref="MaxPatchBytes"/>.</summary>
    public const int MaxUntrackedDiffed = 200;
    private const string EmptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    public sealed record Result(JsonArray Files, CheckoutError? Error);

    public static async Task<Result> ComputeAsync(GitRunner git, string cwd, DiffCompare compare, string? snapshotBaseRef, bool paseoWorktree, CancellationToken cancel = default)
    {
        try
        {
            if (!Directory.Exists(cwd)) return new Result([], CheckoutError.NotGitRepo(cwd));
            var top = await git.RunAsync(cwd, ["rev-parse", "--show-toplevel"], GitRun.Read, cancel).ConfigureAwait(false);
            if (!top.Ok) return new Result([], CheckoutError.NotGitRepo(cwd));
            var root = top.Stdout.Trim();
            var hasHead = (await git.RunAsync(root, ["rev-parse", "--verify", "--quiet", "HEAD"], GitRun.Read, cancel).ConfigureAwait(false)).Ok;
            string[] range;
            var untracked = false;
            if (compare.Mode == "base")
            {
                var requested = compare.BaseRef?.Trim() is { Length: > 0 } b ? b : null;
                CheckoutOperations.CheckBase(requested, snapshotBaseRef, paseoWorktree);
                var baseRef = requested ?? snapshotBaseRef;
                if (baseRef is null || !hasHead) return new Result([], null);
                var name = CheckoutOperations.BranchName(baseRef);
                if (!CheckoutOperations.IsValidBranch(name)) return new Result([], CheckoutError.Unknown($"Invalid base branch: {name}"));
                var cmp = await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/remotes/origin/{name}", cancel).ConfigureAwait(false) ? $"origin/{name}"
                    : (await git.RunAsync(root, ["rev-parse", "--verify", "--quiet", name], GitRun.Read, cancel).ConfigureAwait(false)).Ok ? name : null;
                if (cmp is null) return new Result([], CheckoutError.Unknown($"Base branch not found locally or on origin: {baseRef}"));
                var mergeBase = await git.RunCheckedAsync(root, ["merge-base", cmp, "HEAD"], GitRun.Read, cancel).ConfigureAwait(false);
                range = [mergeBase.Trim(), "HEAD"];
            }
            else
            {
                range = [hasHead ? "HEAD" : EmptyTree];
                untracked = true;
            }
            string[] options = compare.IgnoreWhitespace ? ["-w"] : [];
            var files = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);

            var numstat = await git.RunCheckedAsync(root, ["-c", "core.quotePath=false", "diff", "--numstat", "-M", .. options, .. range], GitRun.Read, cancel).ConfigureAwait(false);
            var nameStatus = await git.RunCheckedAsync(root, ["-c", "core.quotePath=false", "diff", "--name-status", "-M", .. range], GitRun.Read, cancel).ConfigureAwait(false);
            var statuses = new Dictionary<string, char>(StringComparer.Ordinal);
            foreach (var line in nameStatus.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split('\t');
                if (parts.Length >= 2) statuses[parts[^1]] = parts[0][0];
            }
            var patch = await git.RunAsync(root, ["-c", "core.quotePath=false", "diff", "-M", "--no-color", "--no-ext-diff", .. options, .. range], GitRun.Read, cancel).ConfigureAwait(false);
            var wholeTooLarge = patch.StdoutCut || patch.Stdout.Length > MaxPatchBytes;
            var hunks = wholeTooLarge ? [] : ParsePatch(patch.Stdout);
            foreach (var line in numstat.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split('\t');
                if (parts.Length < 3) continue;
                var path = RenamedPath(parts[2]);
                var binary = parts[0] == "-";
                long.TryParse(parts[0], out var additions);
                long.TryParse(parts[1], out var deletions);
                if (compare.IgnoreWhitespace && !binary && additions == 0 && deletions == 0) continue;
                var status = statuses.GetValueOrDefault(path, 'M');
                var file = File(path, status == 'A', status == 'D', additions, deletions);
                if (binary) file["status"] = "binary";
                else if (wholeTooLarge || additions + deletions > MaxChangedLines) file["status"] = "too_large";
                else
                {
                    file["hunks"] = hunks.GetValueOrDefault(path) ?? [];
                    file["status"] = "ok";
                }
                files[path] = file;
            }

            if (untracked)
            {
                var others = await git.RunCheckedAsync(root, ["ls-files", "--others", "--exclude-standard", "-z"], GitRun.Read, cancel).ConfigureAwait(false);
                long budget = MaxPatchBytes;
                var diffed = 0;
                foreach (var path in others.Split('\0', StringSplitOptions.RemoveEmptyEntries))
                {
                    var size = new FileInfo(Path.Combine(root, path)) is { Exists: true } f ? f.Length : 0;
                    if (diffed >= MaxUntrackedDiffed || size > budget) { files[path] = File(path, true, false, 0, 0, "too_large"); continue; }
                    diffed++;
                    budget -= size;
                    files[path] = await UntrackedAsync(git, root, path, cancel).ConfigureAwait(false);
                }
            }
            return new Result([.. files.Values], null);
        }
        catch (GitCommandException e)
        {
            return new Result([], CheckoutError.Unknown(e.Message));
        }
        catch (CheckoutFailure e)
        {
            return new Result([], e.Error);
        }
    }

    private static async Task<JsonObject> UntrackedAsync(GitRunner git, string root, string path, CancellationToken cancel)
    {
        var full = Path.Combine(root, path);
        var info = new FileInfo(full);
        if (!info.Exists) return File(path, true, false, 0, 0, "ok");
        if (info.Length > MaxUntrackedBytes) return File(path, true, false, 0, 0, "too_large");
        // A FIFO or a device is not read (it could block): shown as binary.
        if (UnixFiles.IsRegularFile(full) == false) return File(path, true, false, 0, 0, "binary");
        var head = new byte[Math.Min(16 * 1024, info.Length)];
        await using (var stream = info.OpenRead()) _ = await stream.ReadAsync(head, cancel).ConfigureAwait(false);
        if (ContentSniffing.LooksBinary(head)) return File(path, true, false, 0, 0, "binary");
        var patch = await git.RunAsync(root, ["-c", "core.quotePath=false", "diff", "--no-index", "--no-color", "--", "/dev/null", path], GitRun.Read, cancel).ConfigureAwait(false);
        var parsed = ParsePatch(patch.Stdout);
        var hunks = parsed.Values.FirstOrDefault() ?? [];
        var additions = hunks.Sum(h => h!["lines"]!.AsArray().Count(l => l!["type"]!.GetValue<string>() == "add"));
        var file = File(path, true, false, additions, 0, "ok");
        file["hunks"] = hunks;
        return file;
    }

    private static JsonObject File(string path, bool isNew, bool isDeleted, long additions, long deletions, string? status = null)
    {
        var file = new JsonObject { ["path"] = path, ["isNew"] = isNew, ["isDeleted"] = isDeleted, ["additions"] = additions, ["deletions"] = deletions, ["hunks"] = new JsonArray() };
        if (status is not null) file["status"] = status;
        return file;
    }

    /// <summary>`old => new` and `dir/{old => new}/f` (numstat's rename forms) → the new path.</summary>
    private static string RenamedPath(string path)
    {
        var brace = path.IndexOf('{');
        if (brace >= 0 && path.IndexOf(" => ", brace, StringComparison.Ordinal) is var arrow and > 0 && path.IndexOf('}', arrow) is var close and > 0)
            return (path[..brace] + path[(arrow + 4)..close] + path[(close + 1)..]).Replace("//", "/");
        var plain = path.IndexOf(" => ", StringComparison.Ordinal);
        return plain >= 0 ? path[(plain + 4)..] : path;
    }

    /// <summary>A unified patch → hunks per (new) path: header lines `@@ -a,b +c,d @@`, then add/remove/context lines.</summary>
    public static Dictionary<string, JsonArray> ParsePatch(string patch)
    {
        var result = new Dictionary<string, JsonArray>(StringComparer.Ordinal);
        JsonArray? hunks = null;
        JsonArray? lines = null;
        string? oldPath = null;
        foreach (var raw in patch.Split('\n'))
        {
            if (raw.StartsWith("diff --git ", StringComparison.Ordinal)) { hunks = null; lines = null; oldPath = null; continue; }
            if (lines is null && raw.StartsWith("--- ", StringComparison.Ordinal)) { oldPath = raw[4..]; continue; }
            if (lines is null && raw.StartsWith("+++ ", StringComparison.Ordinal))
            {
                var target = raw[4..] == "/dev/null" ? oldPath ?? "" : raw[4..];
                var path = target.StartsWith("a/", StringComparison.Ordinal) || target.StartsWith("b/", StringComparison.Ordinal) ? target[2..] : target;
                hunks = [];
                result[path] = hunks;
                continue;
            }
            if (hunks is null) continue;
            if (raw.StartsWith("@@", StringComparison.Ordinal))
            {
                var end = raw.IndexOf("@@", 2, StringComparison.Ordinal);
                var header = end > 0 ? raw[..(end + 2)] : raw;
                var (oldStart, oldCount, newStart, newCount) = ParseRange(header);
                lines = [new JsonObject { ["type"] = "header", ["content"] = header }];
                hunks.Add(new JsonObject { ["oldStart"] = oldStart, ["oldCount"] = oldCount, ["newStart"] = newStart, ["newCount"] = newCount, ["lines"] = lines });
                continue;
            }
            if (lines is null || raw.Length == 0 || raw[0] == '\\') continue;
            var type = raw[0] switch { '+' => "add", '-' => "remove", ' ' => "context", _ => null };
            if (type is not null) lines.Add(new JsonObject { ["type"] = type, ["content"] = raw[1..] });
        }
        return result;
    }

    private static (long, long, long, long) ParseRange(string header)
    {
        // @@ -a[,b] +c[,d] @@
        var parts = header.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        static (long, long) Range(string part)
        {
            var body = part[1..];
            var comma = body.IndexOf(',');
            return comma < 0 ? (long.Parse(body), 1) : (long.Parse(body[..comma]), long.Parse(body[(comma + 1)..]));
        }
        var (a, b) = parts.Length > 1 ? Range(parts[1]) : (0, 0);
        var (c, d) = parts.Length > 2 ? Range(parts[2]) : (0, 0);
        return (a, b, c, d);
    }
}
