using Paseo.Transport.Git;

namespace Paseo.Transport.Workspaces;

/// <summary>Paths as Paseo compares them: trimmed, absolute, `.`/`..` resolved, no trailing separator (app-workspaces.md §1.2).</summary>
public static class WorkspacePaths
{
    public static string Normalize(string path)
    {
        var full = Path.GetFullPath(path.Trim());
        return full.Length > 1 ? full.TrimEnd('/') : full;
    }

    /// <summary>False for what cannot be a path (blank, NUL): nothing deeper should meet it.</summary>
    public static bool TryNormalize(string path, out string normalized)
    {
        normalized = "";
        if (path.Trim().Length == 0 || path.Contains('\0')) return false;
        try
        {
            normalized = Normalize(path);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or PathTooLongException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>`~` and `~/…` expanded to the daemon user's home (the requests of §1.2 that do so).</summary>
    public static string ExpandHome(string path, string home)
    {
        var trimmed = path.Trim();
        if (trimmed != "~" && !trimmed.StartsWith("~/", StringComparison.Ordinal)) return trimmed;
        return trimmed == "~" ? home : Path.Combine(home, trimmed[2..]);
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="root"/> or lies below it.</summary>
    public static bool IsUnder(string path, string root) =>
        path == root || path.StartsWith(root == "/" ? "/" : root + "/", StringComparison.Ordinal);

    public static string LastSegment(string path)
    {
        var name = Path.GetFileName(path.TrimEnd('/'));
        return string.IsNullOrEmpty(name) ? path : name;
    }
}

/// <summary>What git says of a directory (app-workspaces.md §2.2 steps 1–4); <see cref="WorktreeRoot"/> null = not a git checkout.</summary>
public sealed record CheckoutFacts(string Directory, string? WorktreeRoot, string? CurrentBranch, string? RemoteUrl, string? MainRepoRoot, string? GitDir)
{
    public bool IsGit => WorktreeRoot is not null;

    public static CheckoutFacts NotGit(string directory) => new(directory, null, null, null, null, null);

    /// <summary>
    /// Asks git about <paramref name="directory"/> (three short read-only commands). Any failure — no such directory, not a
    /// repository, git missing or hanging past its timeout — means "not git"; nothing here throws but cancellation.
    /// </summary>
    public static async Task<CheckoutFacts> ReadAsync(GitRunner git, string directory, string? paseoWorktreesRoot = null, CancellationToken cancel = default)
    {
        if (!System.IO.Directory.Exists(directory)) return NotGit(directory);
        try
        {
            var paths = await git.RunAsync(directory, ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"], GitRun.Read, cancel).ConfigureAwait(false);
            var lines = paths.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (!paths.Ok || lines.Length != 3) return NotGit(directory);
            var root = WorkspacePaths.Normalize(lines[0]);
            var gitDir = WorkspacePaths.Normalize(lines[1]);
            var commonDir = WorkspacePaths.Normalize(Path.IsPathRooted(lines[2]) ? lines[2] : Path.Combine(directory, lines[2]));
            var branch = await CurrentBranchAsync(git, directory, gitDir, cancel).ConfigureAwait(false);
            var remote = await git.RunAsync(directory, ["config", "--get", "remote.origin.url"], GitRun.Read, cancel).ConfigureAwait(false);
            var remoteUrl = remote.Ok && remote.Stdout.Trim().Length > 0 ? remote.Stdout.Trim() : null;
            var mainRoot = await MainRepoRootAsync(git, directory, commonDir, paseoWorktreesRoot, cancel).ConfigureAwait(false);
            var paseoOwned = paseoWorktreesRoot is not null && IsPaseoWorktreePath(root, paseoWorktreesRoot);
            if (mainRoot == root && !paseoOwned) mainRoot = null;
            return new CheckoutFacts(directory, root, branch, remoteUrl, mainRoot, gitDir);
        }
        catch (GitCommandException)
        {
            return NotGit(directory);
        }
    }

    /// <summary>The branch checked out, or during a rebase the branch being rebased; null when detached.</summary>
    public static async Task<string?> CurrentBranchAsync(GitRunner git, string directory, string gitDir, CancellationToken cancel)
    {
        var head = await git.RunAsync(directory, ["symbolic-ref", "--quiet", "--short", "HEAD"], GitRun.Read, cancel).ConfigureAwait(false);
        if (head.Ok && head.Stdout.Trim().Length > 0) return head.Stdout.Trim();
        foreach (var rebase in new[] { "rebase-merge/head-name", "rebase-apply/head-name" })
        {
            var file = Path.Combine(gitDir, rebase);
            if (!File.Exists(file)) continue;
            var name = (await File.ReadAllTextAsync(file, cancel).ConfigureAwait(false)).Trim();
            if (name.StartsWith("refs/heads/", StringComparison.Ordinal)) name = name["refs/heads/".Length..];
            if (name.Length > 0) return name;
        }
        return null;
    }

    private static async Task<string?> MainRepoRootAsync(GitRunner git, string directory, string commonDir, string? paseoWorktreesRoot, CancellationToken cancel)
    {
        var real = RealPath(commonDir);
        if (Path.GetFileName(real) == ".git") return Path.GetDirectoryName(real);
        // A bare layout: a non-bare checkout of it that is not Paseo's, one named `main` first.
        var list = await git.RunAsync(directory, ["worktree", "list", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false);
        if (!list.Ok) return null;
        var checkouts = list.Stdout.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n'))
            .Where(lines => !lines.Contains("bare"))
            .Select(lines => lines.FirstOrDefault(l => l.StartsWith("worktree ", StringComparison.Ordinal))?["worktree ".Length..])
            .OfType<string>()
            .Select(WorkspacePaths.Normalize)
            .Where(p => paseoWorktreesRoot is null || !IsPaseoWorktreePath(p, paseoWorktreesRoot))
            .ToList();
        return checkouts.FirstOrDefault(p => Path.GetFileName(p) == "main") ?? checkouts.FirstOrDefault();
    }

    /// <summary>Paseo-owned: the path lies under worktrees/&lt;a&gt;/&lt;b&gt; of $PASEO_HOME (app-workspaces.md §4.1).</summary>
    public static bool IsPaseoWorktreePath(string path, string worktreesRoot)
    {
        var root = WorkspacePaths.Normalize(worktreesRoot);
        if (!path.StartsWith(root + "/", StringComparison.Ordinal)) return false;
        return path[(root.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries).Length >= 2;
    }

    public static string RealPath(string path)
    {
        try
        {
            var info = new DirectoryInfo(path);
            return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName is { } target ? WorkspacePaths.Normalize(target) : path;
        }
        catch (IOException)
        {
            return path;
        }
    }
}

/// <summary>Where a directory belongs (app-workspaces.md §2.2's table): its workspace and its project.</summary>
public sealed record Membership(string WorkspaceCwd, string WorkspaceKind, string WorkspaceName, string ProjectKind, string ProjectRootPath, string ProjectKey, string ProjectName)
{
    /// <summary>
    /// The membership of <paramref name="facts"/>. With <paramref name="exactDirectory"/> the workspace is the directory
    /// itself even inside a checkout (an agent's cwd: Paseo.NET runs an agent where it was asked to, and the app opens an
    /// agent only in a workspace whose directory equals its cwd); otherwise it is the checkout's top level.
    /// </summary>
    public static Membership Of(CheckoutFacts facts, bool exactDirectory = false)
    {
        if (!facts.IsGit)
        {
            var key = facts.Directory;
            return new Membership(facts.Directory, "directory", WorkspacePaths.LastSegment(facts.Directory), "non_git", facts.Directory, key, ProjectKeys.Name(key));
        }
        var root = facts.WorktreeRoot!;
        var cwd = exactDirectory ? facts.Directory : root;
        var kind = facts.MainRepoRoot is not null ? "worktree" : "local_checkout";
        var name = cwd != root ? WorkspacePaths.LastSegment(cwd)
            : facts.CurrentBranch is { } branch && !branch.Equals("HEAD", StringComparison.OrdinalIgnoreCase) ? branch
            : WorkspacePaths.LastSegment(root);
        var projectRoot = facts.MainRepoRoot ?? root;
        var projectKey = ProjectKeys.Key(facts.RemoteUrl, facts.MainRepoRoot ?? root);
        return new Membership(cwd, kind, name, "git", projectRoot, projectKey, ProjectKeys.Name(projectKey));
    }
}
