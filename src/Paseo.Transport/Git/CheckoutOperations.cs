using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Paseo.Transport.Git;

/// <summary>A checkout mutation that did not happen, with the error clients show (app-workspaces.md §1.1, §3.4).</summary>
public sealed class CheckoutFailure(CheckoutError error) : Exception(error.Message)
{
    public CheckoutError Error { get; } = error;
}

/// <summary>
/// The git actions of the workspace screen (app-workspaces.md §3.4–3.6): commit, merge (both ways), pull, push, branch
/// switch, stashes, branch suggestions and validation. Each runs git in the checkout, refuses what would lose work (a
/// dirty tree before a switch or a merge that requires a clean one), and undoes a conflicted merge so the repository is
/// left as it was.
/// </summary>
public sealed partial class CheckoutOperations(GitRunner git)
{
    [GeneratedRegex("^[A-Za-z0-9._/-]+$")]
    private static partial Regex BranchPattern();

    /// <summary>A branch or ref name clients may send: git's safe characters, no `..` or `@{`, and never a leading `-` (it would be read as an option).</summary>
    public static bool IsValidBranch(string name) => BranchPattern().IsMatch(name) && !name.StartsWith('-') && !name.Contains("..") && !name.Contains("@{");

    private static string ValidRef(string name, string what) => IsValidBranch(name) ? name : throw new CheckoutFailure(CheckoutError.Unknown($"Invalid {what}: {name}"));

    private async Task<string> RootAsync(string cwd, CancellationToken cancel)
    {
        if (!Directory.Exists(cwd)) throw new CheckoutFailure(CheckoutError.NotGitRepo(cwd));
        var top = await git.RunAsync(cwd, ["rev-parse", "--show-toplevel"], GitRun.Read, cancel).ConfigureAwait(false);
        return top.Ok ? top.Stdout.Trim() : throw new CheckoutFailure(CheckoutError.NotGitRepo(cwd));
    }

    private async Task<string> Run(string root, string[] args, GitRun? run, CancellationToken cancel)
    {
        try
        {
            return await git.RunCheckedAsync(root, args, run, cancel).ConfigureAwait(false);
        }
        catch (GitCommandException e)
        {
            throw new CheckoutFailure(CheckoutError.Unknown(e.Message));
        }
    }

    private async Task<bool> IsDirtyAsync(string root, CancellationToken cancel) =>
        (await Run(root, ["status", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false)).Trim().Length > 0;

    private async Task<string?> BranchAsync(string root, CancellationToken cancel)
    {
        var head = await git.RunAsync(root, ["symbolic-ref", "--quiet", "--short", "HEAD"], GitRun.Read, cancel).ConfigureAwait(false);
        return head.Ok && head.Stdout.Trim().Length > 0 ? head.Stdout.Trim() : null;
    }

    private async Task<bool> HasOriginAsync(string root, CancellationToken cancel) =>
        (await git.RunAsync(root, ["config", "--get", "remote.origin.url"], GitRun.Read, cancel).ConfigureAwait(false)).Stdout.Trim().Length > 0;

    /// <summary>commit: `git add -A` (unless addAll is false), then commit with the message, or one written from the changed files.</summary>
    public async Task CommitAsync(string cwd, string? message, bool addAll, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        if (addAll) await Run(root, ["add", "-A"], GitRun.Slow, cancel).ConfigureAwait(false);
        var text = message?.Trim() is { Length: > 0 } m ? m : await WriteMessageAsync(root, cancel).ConfigureAwait(false);
        await Run(root, ["-c", "commit.gpgsign=false", "commit", "-m", text], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// A commit message when the client sends none (the app never does). Paseo asks a model; Paseo.NET writes one from the
    /// staged files, imperative and at most 72 characters: "Update README.md and src/cart.ts", "Add 3 files and update 2".
    /// </summary>
    public async Task<string> WriteMessageAsync(string root, CancellationToken cancel)
    {
        var staged = await Run(root, ["-c", "core.quotePath=false", "diff", "--cached", "--name-status"], GitRun.Read, cancel).ConfigureAwait(false);
        var entries = staged.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(p => p.Length >= 2)
            .Select(p => (Verb: p[0][0] switch { 'A' => "Add", 'D' => "Remove", 'R' => "Rename", _ => "Update" }, Path: p[^1])).ToList();
        if (entries.Count == 0) return "Update files";
        if (entries.Count <= 2)
        {
            var verb = entries.Select(e => e.Verb).Distinct().Count() == 1 ? entries[0].Verb : "Update";
            var text = $"{verb} {string.Join(" and ", entries.Select(e => Path.GetFileName(e.Path)))}";
            if (text.Length <= 72) return text;
        }
        var groups = entries.GroupBy(e => e.Verb).Select(g => $"{g.Key.ToLowerInvariant()} {g.Count()} file{(g.Count() == 1 ? "" : "s")}").ToList();
        var summary = string.Join(" and ", groups);
        return char.ToUpperInvariant(summary[0]) + summary[1..];
    }

    /// <summary>A branch name as clients send it, without `refs/remotes/origin/`, `refs/heads/` or `origin/`.</summary>
    public static string BranchName(string reference) =>
        reference.StartsWith("refs/remotes/origin/", StringComparison.Ordinal) ? reference[20..]
        : reference.StartsWith("refs/heads/", StringComparison.Ordinal) ? reference[11..]
        : reference.StartsWith("origin/", StringComparison.Ordinal) ? reference[7..] : reference;

    /// <summary>A Paseo worktree works against its own base: another one asked for is refused (§3.4, §3.3, §3.7).</summary>
    public static void CheckBase(string? requested, string? stored, bool paseoWorktree)
    {
        if (paseoWorktree && requested is not null && stored is not null && BranchName(requested) != BranchName(stored))
            throw new CheckoutFailure(CheckoutError.Unknown($"Base ref mismatch: expected {BranchName(stored)}, got {BranchName(requested)}"));
    }

    /// <summary>merge: the current branch into the base, where the base is checked out (another worktree, else here and back).</summary>
    public async Task MergeAsync(string cwd, string? baseRef, string strategy, bool requireCleanTarget, string? snapshotBase, bool paseoWorktree, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        if (requireCleanTarget && await IsDirtyAsync(root, cancel).ConfigureAwait(false)) throw new CheckoutFailure(CheckoutError.Unknown("Working directory has uncommitted changes."));
        CheckBase(baseRef, snapshotBase, paseoWorktree);
        var target = (baseRef?.Trim() is { Length: > 0 } b ? b : snapshotBase) is { } found ? ValidRef(BranchName(found), "base branch") : throw new CheckoutFailure(CheckoutError.Unknown("Base branch is required for merge"));
        var branch = await BranchAsync(root, cancel).ConfigureAwait(false) ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine current branch for merge"));
        if (branch == target) return;
        var where = await WorktreeWithBranchAsync(root, target, cancel).ConfigureAwait(false);
        var here = where is null;
        var runIn = where ?? root;
        if (here) await Run(root, ["checkout", target], GitRun.Slow, cancel).ConfigureAwait(false);
        try
        {
            var merge = strategy == "squash"
                ? await git.RunAsync(runIn, ["merge", "--squash", branch], GitRun.Slow, cancel).ConfigureAwait(false)
                : await git.RunAsync(runIn, ["-c", "commit.gpgsign=false", "merge", "--no-edit", branch], GitRun.Slow, cancel).ConfigureAwait(false);
            var conflict = await HasConflictsAsync(runIn, merge, cancel).ConfigureAwait(false);
            if (!merge.Ok || conflict)
            {
                await AbortMergeAsync(runIn, squash: strategy == "squash", cancel).ConfigureAwait(false);
                if (conflict)
                    throw new CheckoutFailure(new CheckoutError("MERGE_CONFLICT", $"Merge conflict while merging {branch} into {target}"));
                throw new CheckoutFailure(CheckoutError.Unknown(git.FailureMessage(["merge", branch], merge)));
            }
            if (strategy == "squash")
                await Run(runIn, ["-c", "commit.gpgsign=false", "commit", "-m", $"Squash merge {branch} into {target}"], GitRun.Slow, cancel).ConfigureAwait(false);
        }
        finally
        {
            if (here) await git.RunAsync(root, ["checkout", branch], GitRun.Slow, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>merge_from_base: the base (the newer of local and origin) into the current branch; a conflict is aborted.</summary>
    public async Task MergeFromBaseAsync(string cwd, string? baseRef, bool requireCleanTarget, string? snapshotBase, bool paseoWorktree, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        if (requireCleanTarget && await IsDirtyAsync(root, cancel).ConfigureAwait(false)) throw new CheckoutFailure(CheckoutError.Unknown("Working directory has uncommitted changes."));
        CheckBase(baseRef, snapshotBase, paseoWorktree);
        var target = (baseRef?.Trim() is { Length: > 0 } b ? b : snapshotBase) is { } found ? ValidRef(BranchName(found), "base branch") : throw new CheckoutFailure(CheckoutError.Unknown("Base branch is required for merge"));
        var branch = await BranchAsync(root, cancel).ConfigureAwait(false) ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine current branch for merge"));
        var local = await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/heads/{target}", cancel).ConfigureAwait(false);
        var remote = await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/remotes/origin/{target}", cancel).ConfigureAwait(false);
        var source = target;
        if (remote && !local) source = $"origin/{target}";
        else if (remote && local)
        {
            var counts = (await Run(root, ["rev-list", "--left-right", "--count", $"{target}...origin/{target}"], GitRun.Read, cancel).ConfigureAwait(false))
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (counts.Length == 2 && long.Parse(counts[1]) > long.Parse(counts[0])) source = $"origin/{target}";
        }
        else if (!local) throw new CheckoutFailure(CheckoutError.Unknown($"Base branch not found locally or on origin: {target}"));
        var merge = await git.RunAsync(root, ["-c", "commit.gpgsign=false", "merge", "--no-edit", source], GitRun.Slow, cancel).ConfigureAwait(false);
        if (merge.Ok && !await HasConflictsAsync(root, merge, cancel).ConfigureAwait(false)) return;
        var conflict = Conflicted(merge) || await HasConflictsAsync(root, merge, cancel).ConfigureAwait(false);
        await AbortMergeAsync(root, squash: false, cancel).ConfigureAwait(false);
        if (conflict) throw new CheckoutFailure(new CheckoutError("MERGE_CONFLICT", $"Merge conflict while merging {target} into {branch}. Please merge manually."));
        throw new CheckoutFailure(CheckoutError.Unknown(git.FailureMessage(["merge", source], merge)));
    }

    private static bool Conflicted(GitResult merge) =>
        (merge.Stdout + merge.Stderr).Contains("CONFLICT", StringComparison.Ordinal) || (merge.Stdout + merge.Stderr).Contains("Automatic merge failed", StringComparison.Ordinal);

    private async Task<bool> HasConflictsAsync(string root, GitResult merge, CancellationToken cancel) =>
        Conflicted(merge) || (await git.RunAsync(root, ["diff", "--name-only", "--diff-filter=U"], GitRun.Read, cancel).ConfigureAwait(false)).Stdout.Trim().Length > 0;

    private async Task AbortMergeAsync(string root, bool squash, CancellationToken cancel)
    {
        // A squash merge leaves no MERGE_HEAD: reset the index and tree to HEAD instead.
        if (squash) await git.RunAsync(root, ["reset", "--hard", "--quiet", "HEAD"], GitRun.Slow, cancel).ConfigureAwait(false);
        else await git.RunAsync(root, ["merge", "--abort"], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    private async Task<string?> WorktreeWithBranchAsync(string root, string branch, CancellationToken cancel)
    {
        var list = await git.RunAsync(root, ["worktree", "list", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false);
        foreach (var block in list.Stdout.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            var path = lines.FirstOrDefault(l => l.StartsWith("worktree ", StringComparison.Ordinal))?[9..];
            if (path is not null && path != root && lines.Contains($"branch refs/heads/{branch}")) return path;
        }
        return null;
    }

    public async Task PullAsync(string cwd, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        _ = await BranchAsync(root, cancel).ConfigureAwait(false) ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine current branch for pull"));
        if (!await HasOriginAsync(root, cancel).ConfigureAwait(false)) throw new CheckoutFailure(CheckoutError.Unknown("Remote 'origin' is not configured."));
        var pull = await git.RunAsync(root, ["-c", "commit.gpgsign=false", "pull", "--no-edit"], GitRun.Slow, cancel).ConfigureAwait(false);
        if (pull.Ok) return;
        await git.RunAsync(root, ["merge", "--abort"], GitRun.Slow, cancel).ConfigureAwait(false);
        await git.RunAsync(root, ["rebase", "--abort"], GitRun.Slow, cancel).ConfigureAwait(false);
        throw new CheckoutFailure(CheckoutError.Unknown(git.FailureMessage(["pull"], pull)));
    }

    public async Task PushAsync(string cwd, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        var branch = await BranchAsync(root, cancel).ConfigureAwait(false) ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine current branch for push"));
        if (!await HasOriginAsync(root, cancel).ConfigureAwait(false)) throw new CheckoutFailure(CheckoutError.Unknown("Remote 'origin' is not configured."));
        await Run(root, ["push", "-u", "origin", branch], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    /// <summary>switch_branch: a local branch, or a new one tracking origin's; a dirty tree is refused. Returns "local" or "remote".</summary>
    public async Task<string> SwitchBranchAsync(string cwd, string branch, CancellationToken cancel = default)
    {
        if (!IsValidBranch(branch)) throw new CheckoutFailure(CheckoutError.Unknown($"Invalid branch: {branch}"));
        var name = branch.StartsWith("refs/heads/", StringComparison.Ordinal) ? branch[11..]
            : branch.StartsWith("refs/remotes/", StringComparison.Ordinal) ? branch[13..] : branch;
        if (name.StartsWith("origin/", StringComparison.Ordinal)) name = name[7..];
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        var local = await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/heads/{name}", cancel).ConfigureAwait(false);
        var remote = !local && await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/remotes/origin/{name}", cancel).ConfigureAwait(false);
        if (!local && !remote) throw new CheckoutFailure(CheckoutError.Unknown($"Branch not found: {branch}"));
        if (local && await BranchAsync(root, cancel).ConfigureAwait(false) == name) return "local";
        if (await IsDirtyAsync(root, cancel).ConfigureAwait(false))
            throw new CheckoutFailure(CheckoutError.Unknown("Working directory has uncommitted changes. Commit or stash before switching branches."));
        if (local) await Run(root, ["checkout", name], GitRun.Slow, cancel).ConfigureAwait(false);
        else await Run(root, ["checkout", "-b", name, "--track", $"origin/{name}"], GitRun.Slow, cancel).ConfigureAwait(false);
        return local ? "local" : "remote";
    }

    /// <summary>create_agent's `git.createNewBranch` without a worktree (§4.4): `git checkout -b &lt;new&gt; &lt;base&gt;` in place, on a clean tree.</summary>
    public async Task CreateBranchAsync(string cwd, string branch, string? baseBranch, CancellationToken cancel = default)
    {
        ValidRef(branch, "branch name");
        if (baseBranch is not null) ValidRef(baseBranch, "base branch");
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        if (await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/heads/{branch}", cancel).ConfigureAwait(false))
            throw new CheckoutFailure(CheckoutError.Unknown($"Branch already exists: {branch}"));
        if (baseBranch is not null && !(await git.RunAsync(root, ["rev-parse", "--verify", "--quiet", baseBranch], GitRun.Read, cancel).ConfigureAwait(false)).Ok)
            throw new CheckoutFailure(CheckoutError.Unknown($"Base branch not found: {baseBranch}"));
        if (await IsDirtyAsync(root, cancel).ConfigureAwait(false))
            throw new CheckoutFailure(CheckoutError.Unknown("Working directory has uncommitted changes. Commit or stash before switching branches."));
        await Run(root, baseBranch is null ? ["checkout", "-b", branch] : ["checkout", "-b", branch, baseBranch], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    public async Task StashSaveAsync(string cwd, string? branch, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        var label = branch?.Trim() is { Length: > 0 } b ? b : "unnamed";
        await Run(root, ["stash", "push", "--include-untracked", "-m", $"paseo-auto-stash: {label}"], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    public async Task StashPopAsync(string cwd, long index, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        await Run(root, ["stash", "pop", $"stash@{{{index}}}"], GitRun.Slow, cancel).ConfigureAwait(false);
    }

    public async Task<JsonArray> StashListAsync(string cwd, bool paseoOnly, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        var list = await Run(root, ["stash", "list", "--format=%gd%x00%s"], GitRun.Read, cancel).ConfigureAwait(false);
        var entries = new JsonArray();
        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\0');
            if (parts.Length < 2) continue;
            var open = parts[0].IndexOf('{');
            var close = parts[0].IndexOf('}');
            if (open < 0 || close < open || !long.TryParse(parts[0][(open + 1)..close], out var index)) continue;
            var subject = parts[1];
            var marker = subject.IndexOf("paseo-auto-stash:", StringComparison.Ordinal);
            var isPaseo = marker >= 0;
            if (paseoOnly && !isPaseo) continue;
            var branch = isPaseo ? subject[(marker + "paseo-auto-stash:".Length)..].Trim() : null;
            entries.Add(new JsonObject { ["index"] = index, ["message"] = subject, ["branch"] = string.IsNullOrEmpty(branch) ? null : branch, ["isPaseo"] = isPaseo });
        }
        return entries;
    }

    /// <summary>branch_suggestions: local and origin branches, newest commit first, prefix matches first.</summary>
    public async Task<JsonArray> BranchSuggestionsAsync(string cwd, string? query, int limit, CancellationToken cancel = default)
    {
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        var refs = await Run(root, ["for-each-ref", "--sort=-committerdate", "--format=%(refname)%09%(committerdate:unix)", "refs/heads", "refs/remotes/origin"], GitRun.Read, cancel).ConfigureAwait(false);
        var branches = new Dictionary<string, (long Date, bool Local, bool Remote)>(StringComparer.Ordinal);
        foreach (var line in refs.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length < 2) continue;
            var local = parts[0].StartsWith("refs/heads/", StringComparison.Ordinal);
            var name = local ? parts[0][11..] : parts[0]["refs/remotes/origin/".Length..];
            if (name is "HEAD" or "origin" || name.Length == 0) continue;
            long.TryParse(parts[1], out var date);
            var known = branches.GetValueOrDefault(name);
            branches[name] = (Math.Max(known.Date, date), known.Local || local, known.Remote || !local);
        }
        var q = query?.Trim() ?? "";
        return new JsonArray([.. branches
            .Where(b => q.Length == 0 || b.Key.Contains(q, StringComparison.OrdinalIgnoreCase))
            .OrderBy(b => q.Length > 0 && b.Key.StartsWith(q, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenByDescending(b => b.Value.Date).ThenBy(b => b.Key, StringComparer.Ordinal)
            .Take(limit)
            .Select(b => (JsonNode)new JsonObject { ["name"] = b.Key, ["committerDate"] = b.Value.Date, ["hasLocal"] = b.Value.Local, ["hasRemote"] = b.Value.Remote })]);
    }

    /// <summary>validate_branch: a local branch, else origin's, else none.</summary>
    public async Task<(bool Exists, string? ResolvedRef, bool IsRemote)> ValidateBranchAsync(string cwd, string branch, CancellationToken cancel = default)
    {
        if (!IsValidBranch(branch)) throw new CheckoutFailure(CheckoutError.Unknown($"Invalid branch: {branch}"));
        var root = await RootAsync(cwd, cancel).ConfigureAwait(false);
        if (await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/heads/{branch}", cancel).ConfigureAwait(false)) return (true, branch, false);
        if (await CheckoutSnapshot.RefExistsAsync(git, root, $"refs/remotes/origin/{branch}", cancel).ConfigureAwait(false)) return (true, $"origin/{branch}", true);
        return (false, null, false);
    }
}
