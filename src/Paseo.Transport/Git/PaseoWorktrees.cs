using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Transport.Workspaces;

namespace Paseo.Transport.Git;

/// <summary>Naming rules of Paseo's worktrees (app-workspaces.md §4.1).</summary>
public static partial class WorktreeNames
{
    /// <summary>8 characters: SHA-256 of the repository root, first 8 bytes as a big-endian integer in base 36, zero-padded to 13, first 8 kept.</summary>
    public static string RepoHash(string repoRoot)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(repoRoot));
        var value = new BigInteger(digest.AsSpan(0, 8), isUnsigned: true, isBigEndian: true);
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var text = new StringBuilder();
        do { text.Insert(0, digits[(int)(value % 36)]); value /= 36; } while (value > 0);
        return text.ToString().PadLeft(13, '0')[..8];
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NotSlug();

    /// <summary>Lower-case, runs of anything else as one `-`, trimmed; over 50 cut at 50 (at the last `-` when past 25).</summary>
    public static string Slugify(string text)
    {
        var slug = NotSlug().Replace(text.ToLowerInvariant(), "-").Trim('-');
        if (slug.Length <= 50) return slug;
        var cut = slug[..50];
        var dash = cut.LastIndexOf('-');
        return (dash > 25 ? cut[..dash] : cut).Trim('-');
    }

    /// <summary>The reason a branch or worktree name is invalid, or null.</summary>
    public static string? Invalid(string name)
    {
        if (name.Length == 0) return "Branch name cannot be empty";
        if (name.Length > 100) return "Branch name is too long (max 100 characters)";
        if (name.Any(c => !(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '/'))) return "Branch name must contain only lowercase letters, numbers, hyphens, and forward slashes";
        if (name.StartsWith('-') || name.EndsWith('-')) return "Branch name cannot start or end with a hyphen";
        if (name.Contains("--")) return "Branch name cannot have consecutive hyphens";
        return null;
    }
}

/// <summary>A failed worktree request: the message and Paseo's error code (unknown, unknown_branch, branch_already_checked_out, missing_checkout_target).</summary>
public sealed class WorktreeException(string message, string code = "unknown") : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>A created (or reused) Paseo worktree.</summary>
public sealed record CreatedWorktree(string Path, string Branch, string BaseRef, string RepoRoot, bool Reused);

/// <summary>A Paseo worktree as `paseo_worktree_list` shows it.</summary>
public sealed record ListedWorktree(string Path, DateTimeOffset CreatedAt, string? Branch, string? Head);

/// <summary>
/// Paseo-owned worktrees (app-workspaces.md §4): `$PASEO_HOME/worktrees/&lt;hash&gt;/&lt;slug&gt;`, made with `git worktree add`,
/// with their metadata in the worktree's git directory; listed from `git worktree list`; archived by teardown, removal
/// and prune — a worktree with uncommitted changes only when told to (its work would be lost).
/// </summary>
public sealed class PaseoWorktrees(GitRunner git, string worktreesRoot)
{
    public string Root { get; } = WorkspacePaths.Normalize(worktreesRoot);

    /// <summary>
    /// Paseo-owned: the path, every link in it resolved, is exactly `&lt;worktrees&gt;/&lt;hash&gt;/&lt;slug&gt;` — not a directory inside a
    /// worktree, not a link leading out of `$PASEO_HOME`.
    /// </summary>
    public bool Owns(string path)
    {
        if (!WorkspacePaths.TryNormalize(path, out var normalized)) return false;
        var real = Files.UnixFiles.RealPath(normalized) ?? normalized;
        var root = Files.UnixFiles.RealPath(Root) ?? Root;
        if (!normalized.StartsWith(Root + "/", StringComparison.Ordinal) || !real.StartsWith(root + "/", StringComparison.Ordinal)) return false;
        var relative = normalized[(Root.Length + 1)..];
        return relative.Split('/').Length == 2 && real[(root.Length + 1)..] == relative;
    }

    /// <summary>The repository a request's cwd belongs to: its main checkout, also from inside one of Paseo's worktrees.</summary>
    public async Task<string> RepoRootAsync(string cwd, CancellationToken cancel)
    {
        var facts = await CheckoutFacts.ReadAsync(git, WorkspacePaths.Normalize(cwd), Root, cancel).ConfigureAwait(false);
        if (!facts.IsGit) throw new WorktreeException("Create worktree requires a git repository");
        return facts.MainRepoRoot ?? facts.WorktreeRoot!;
    }

    public async Task<CreatedWorktree> CreateAsync(string cwd, string? worktreeSlug, string? refName, string? action, string? seed, CancellationToken cancel)
    {
        if (refName is not null && !CheckoutOperations.IsValidBranch(refName)) throw new WorktreeException($"Invalid branch: {refName}");
        var repo = await RepoRootAsync(cwd, cancel).ConfigureAwait(false);
        if (action == "checkout" && refName is null) throw new WorktreeException("action \"checkout\" requires refName or githubPrNumber", "missing_checkout_target");
        var checkout = action == "checkout";
        string baseRef;
        string branch;
        if (checkout)
        {
            baseRef = refName!;
            branch = refName!;
        }
        else
        {
            baseRef = refName ?? await CheckoutSnapshot.DefaultBranchAsync(git, repo, cancel).ConfigureAwait(false)
                      ?? throw new WorktreeException("Unable to resolve repository default branch");
            branch = worktreeSlug is { Length: > 0 } s ? WorktreeNames.Slugify(s) : WorktreeNames.Slugify(Guid.NewGuid().ToString());
        }
        var slug = worktreeSlug is { Length: > 0 } given ? WorktreeNames.Slugify(given) : WorktreeNames.Slugify(branch);
        if (WorktreeNames.Invalid(slug) is { } reason) throw new WorktreeException($"Invalid worktree name: {reason}");
        var parent = Path.Combine(Root, WorktreeNames.RepoHash(CheckoutFacts.RealPath(repo)));
        var existing = (await ListAsync(repo, cancel).ConfigureAwait(false)).FirstOrDefault(w => w.Path.EndsWith("/" + slug, StringComparison.Ordinal));
        if (existing is not null)
            return new CreatedWorktree(existing.Path, existing.Branch ?? branch, WorktreeMetadata.ReadBaseRef(await GitDirAsync(existing.Path, cancel).ConfigureAwait(false)) ?? baseRef, repo, Reused: true);
        Directory.CreateDirectory(parent);
        var path = Path.Combine(parent, slug);
        for (var n = 1; Directory.Exists(path); n++) path = Path.Combine(parent, $"{slug}-{n}");

        string metadataBase;
        if (checkout)
        {
            if (!await CheckoutSnapshot.RefExistsAsync(git, repo, $"refs/heads/{branch}", cancel).ConfigureAwait(false))
            {
                var fetched = await git.RunAsync(repo, ["fetch", "origin", $"{branch}:{branch}"], GitRun.Slow, cancel).ConfigureAwait(false);
                if (!fetched.Ok) throw new WorktreeException($"Unknown branch: {branch}", "unknown_branch");
            }
            if (await CheckedOutElsewhereAsync(repo, branch, cancel).ConfigureAwait(false))
                throw new WorktreeException($"Branch already checked out: {branch}", "branch_already_checked_out");
            await Run(repo, ["worktree", "add", path, branch], cancel).ConfigureAwait(false);
            metadataBase = branch;
        }
        else
        {
            var name = baseRef.StartsWith("origin/", StringComparison.Ordinal) ? baseRef[7..] : baseRef;
            var start = (await git.RunAsync(repo, ["rev-parse", "--verify", "--quiet", $"origin/{name}"], GitRun.Read, cancel).ConfigureAwait(false)).Ok ? $"origin/{name}"
                : (await git.RunAsync(repo, ["rev-parse", "--verify", "--quiet", name], GitRun.Read, cancel).ConfigureAwait(false)).Ok ? name
                : throw new WorktreeException($"Base branch not found: {name}");
            if (WorktreeNames.Invalid(branch) is { } invalid) throw new WorktreeException($"Invalid branch name: {invalid}");
            if (await CheckoutSnapshot.RefExistsAsync(git, repo, $"refs/heads/{branch}", cancel).ConfigureAwait(false))
            {
                // The branch exists already: the worktree starts from it, under the next free name.
                if (await CheckedOutElsewhereAsync(repo, branch, cancel).ConfigureAwait(false))
                    throw new WorktreeException($"Branch already checked out: {branch}", "branch_already_checked_out");
                await Run(repo, ["worktree", "add", path, branch], cancel).ConfigureAwait(false);
            }
            else await Run(repo, ["worktree", "add", path, "-b", branch, start], cancel).ConfigureAwait(false);
            metadataBase = name;
            if (seed is { Length: > 0 } && WorktreeNames.Slugify(seed) is { Length: > 0 } seeded && seeded != branch
                && !await CheckoutSnapshot.RefExistsAsync(git, repo, $"refs/heads/{seeded}", cancel).ConfigureAwait(false))
            {
                await Run(path, ["branch", "-m", seeded], cancel).ConfigureAwait(false);
                branch = seeded;
            }
        }
        var gitDir = await GitDirAsync(path, cancel).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(gitDir, "paseo"));
        await File.WriteAllTextAsync(WorktreeMetadata.PathIn(gitDir), new JsonObject { ["version"] = 1, ["baseRefName"] = metadataBase }.ToJsonString(), cancel).ConfigureAwait(false);
        // The repository's paseo.json comes along when the branch does not carry it (e.g. never committed).
        var config = Path.Combine(repo, ProjectConfigFile.FileName);
        if (File.Exists(config) && !File.Exists(Path.Combine(path, ProjectConfigFile.FileName))) File.Copy(config, Path.Combine(path, ProjectConfigFile.FileName));
        return new CreatedWorktree(WorkspacePaths.Normalize(path), branch, metadataBase, repo, Reused: false);
    }

    public async Task<IReadOnlyList<ListedWorktree>> ListAsync(string repoRoot, CancellationToken cancel)
    {
        var prefix = Path.Combine(Root, WorktreeNames.RepoHash(CheckoutFacts.RealPath(repoRoot))) + "/";
        var list = await Run(repoRoot, ["worktree", "list", "--porcelain"], cancel, GitRun.Read).ConfigureAwait(false);
        var result = new List<ListedWorktree>();
        foreach (var block in list.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            var path = lines.FirstOrDefault(l => l.StartsWith("worktree ", StringComparison.Ordinal))?[9..];
            if (path is null || !path.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var branch = lines.FirstOrDefault(l => l.StartsWith("branch ", StringComparison.Ordinal))?[7..];
            if (branch?.StartsWith("refs/heads/", StringComparison.Ordinal) == true) branch = branch[11..];
            var head = lines.FirstOrDefault(l => l.StartsWith("HEAD ", StringComparison.Ordinal))?[5..];
            var created = Directory.Exists(path) ? new DateTimeOffset(Directory.GetCreationTimeUtc(path), TimeSpan.Zero) : DateTimeOffset.UnixEpoch;
            result.Add(new ListedWorktree(path, created, branch, head));
        }
        return result;
    }

    /// <summary>
    /// Removes a Paseo worktree: <paramref name="beforeRemoval"/> once it is known to go (its agents), teardown commands (run by
    /// <paramref name="teardown"/>; a failure keeps the worktree),
    /// then `git worktree remove`, the directory, and `git worktree prune`. A worktree with uncommitted or untracked changes
    /// is refused unless <paramref name="force"/>: that work exists nowhere else.
    /// </summary>
    public async Task ArchiveAsync(string path, bool force, Func<Task> beforeRemoval, Func<string, Task> teardown, CancellationToken cancel)
    {
        if (!Owns(path)) throw new CheckoutFailure(new CheckoutError("NOT_ALLOWED", "Worktree is not a Paseo-owned worktree"));
        var root = WorkspacePaths.Normalize(path);
        string? repo = null;
        if (Directory.Exists(root))
        {
            var common = await git.RunAsync(root, ["rev-parse", "--path-format=absolute", "--git-common-dir"], GitRun.Read, cancel).ConfigureAwait(false);
            if (common.Ok) repo = Path.GetDirectoryName(common.Stdout.Trim());
            if (!force)
            {
                var status = await git.RunAsync(root, ["status", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false);
                if (status.Ok && status.Stdout.Trim().Length > 0)
                    throw new CheckoutFailure(CheckoutError.Unknown($"Worktree has uncommitted changes: {root}. Commit or stash them, or archive with force to discard them"));
            }
            // Only a worktree git knows of is removed (never a directory that merely sits there).
            var listed = repo is null ? null : await git.RunAsync(repo, ["worktree", "list", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false);
            if (listed is null || !listed.Ok || !listed.Stdout.Split('\n').Contains($"worktree {root}"))
                throw new CheckoutFailure(CheckoutError.Unknown($"{root} is not a worktree of a repository git knows"));
            await beforeRemoval().ConfigureAwait(false);
            await teardown(root).ConfigureAwait(false);
            var removed = await git.RunAsync(repo!, ["worktree", "remove", "--force", root], GitRun.Slow, cancel).ConfigureAwait(false);
            if (!removed.Ok) throw new CheckoutFailure(CheckoutError.Unknown(git.FailureMessage(["worktree", "remove", "--force", root], removed)));
            foreach (var delay in new[] { 0, 100, 300, 700, 1500 })
            {
                if (!Directory.Exists(root)) break;
                await Task.Delay(delay, cancel).ConfigureAwait(false);
                try { Directory.Delete(root, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            if (Directory.Exists(root)) throw new CheckoutFailure(CheckoutError.Unknown($"Could not remove {root}"));
        }
        else await beforeRemoval().ConfigureAwait(false);
        if (repo is not null) await git.RunAsync(repo, ["worktree", "prune"], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    private async Task<bool> CheckedOutElsewhereAsync(string repo, string branch, CancellationToken cancel)
    {
        var list = await Run(repo, ["worktree", "list", "--porcelain"], cancel, GitRun.Read).ConfigureAwait(false);
        return list.Split('\n').Contains($"branch refs/heads/{branch}");
    }

    private async Task<string> GitDirAsync(string worktree, CancellationToken cancel) =>
        (await Run(worktree, ["rev-parse", "--absolute-git-dir"], cancel, GitRun.Read).ConfigureAwait(false)).Trim();

    private async Task<string> Run(string cwd, string[] args, CancellationToken cancel, GitRun? run = null)
    {
        try
        {
            return await git.RunCheckedAsync(cwd, args, run ?? GitRun.Slow, cancel).ConfigureAwait(false);
        }
        catch (GitCommandException e)
        {
            throw new WorktreeException(e.Message);
        }
    }
}
