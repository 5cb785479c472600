using System.Text.Json.Nodes;
using Paseo.Transport.Workspaces;

namespace Paseo.Transport.Git;

/// <summary>A CheckoutError (app-workspaces.md §1.1): NOT_GIT_REPO, NOT_ALLOWED, MERGE_CONFLICT or UNKNOWN, with its message.</summary>
public sealed record CheckoutError(string Code, string Message)
{
    public JsonObject ToJson() => new() { ["code"] = Code, ["message"] = Message };

    public static CheckoutError Unknown(string message) => new("UNKNOWN", message);
    public static CheckoutError NotGitRepo(string cwd) => new("NOT_GIT_REPO", $"Not a git repository: {cwd}");
}

public sealed record AheadBehind(long Ahead, long Behind)
{
    public JsonObject ToJson() => new() { ["ahead"] = Ahead, ["behind"] = Behind };
}

public sealed record DiffStat(long Additions, long Deletions)
{
    public JsonObject ToJson() => new() { ["additions"] = Additions, ["deletions"] = Deletions };
}

/// <summary>
/// What git says of one directory right now (app-workspaces.md §3.1): the data of checkout_status and of a workspace's
/// gitRuntime and diffStat. Computed off any actor's thread by <see cref="ReadAsync"/>; two snapshots are equal when
/// nothing a client sees changed.
/// </summary>
public sealed record CheckoutSnapshot(
    bool IsGit, string? RepoRoot, string? MainRepoRoot, string? CurrentBranch, string? RemoteUrl, bool IsPaseoOwnedWorktree,
    bool IsDirty, string? BaseRef, AheadBehind? AheadBehind, long? AheadOfOrigin, long? BehindOfOrigin, bool HasRemote, DiffStat? DiffStat,
    CheckoutError? Error)
{
    /// <summary>GitHub's side (§3.1 `github`): features on (a GitHub origin, gh installed and logged in), the branch's pull request as JSON text (so snapshots compare by value), the lookup error.</summary>
    public bool GitHubEnabled { get; init; }
    public string? PullRequestJson { get; init; }
    public string? GitHubError { get; init; }

    public JsonObject? PullRequest => PullRequestJson is null ? null : JsonNode.Parse(PullRequestJson) as JsonObject;

    /// <summary>A workspace's githubRuntime (§2.4).</summary>
    public JsonObject GitHubRuntime() => new()
    {
        ["featuresEnabled"] = GitHubEnabled, ["pullRequest"] = PullRequest, ["error"] = GitHubError is { } e ? new JsonObject { ["message"] = e } : null,
    };

    /// <summary>checkout_pr_status_response and the prStatus of checkout_status_update (§3.7).</summary>
    public JsonObject PrStatusJson(string cwd, string requestId) => new()
    {
        ["cwd"] = cwd, ["status"] = PullRequest, ["githubFeaturesEnabled"] = GitHubEnabled,
        ["error"] = GitHubError is { } e ? CheckoutError.Unknown(e).ToJson() : null, ["requestId"] = requestId,
    };

    public static CheckoutSnapshot NotGit(CheckoutError? error = null) =>
        new(false, null, null, null, null, false, false, null, null, null, null, false, null, error);

    /// <summary>checkout_status_response / checkout_status_update (§3.2): NotGit ‖ GitPlain ‖ GitPaseo, every key present.</summary>
    public JsonObject ToStatusJson(string cwd, string requestId)
    {
        var json = new JsonObject { ["cwd"] = cwd, ["isGit"] = IsGit, ["isPaseoOwnedWorktree"] = IsGit && IsPaseoOwnedWorktree };
        if (!IsGit)
        {
            foreach (var key in new[] { "repoRoot", "currentBranch", "isDirty", "baseRef", "aheadBehind", "aheadOfOrigin", "behindOfOrigin" }) json[key] = null;
            json["hasRemote"] = false;
            json["remoteUrl"] = null;
        }
        else
        {
            json["repoRoot"] = RepoRoot;
            json["mainRepoRoot"] = MainRepoRoot;
            json["currentBranch"] = CurrentBranch;
            json["isDirty"] = IsDirty;
            json["baseRef"] = BaseRef;
            json["aheadBehind"] = AheadBehind?.ToJson();
            json["aheadOfOrigin"] = AheadOfOrigin;
            json["behindOfOrigin"] = BehindOfOrigin;
            json["hasRemote"] = HasRemote;
            json["remoteUrl"] = RemoteUrl;
        }
        json["error"] = Error?.ToJson();
        json["requestId"] = requestId;
        return json;
    }

    /// <summary>A workspace's gitRuntime (§2.4), or null when the directory is not git.</summary>
    public JsonObject? GitRuntime() => !IsGit ? null : new JsonObject
    {
        ["currentBranch"] = CurrentBranch, ["remoteUrl"] = RemoteUrl, ["isPaseoOwnedWorktree"] = IsPaseoOwnedWorktree, ["isDirty"] = IsDirty,
        ["aheadBehind"] = AheadBehind?.ToJson(), ["aheadOfOrigin"] = AheadOfOrigin, ["behindOfOrigin"] = BehindOfOrigin,
    };

    /// <summary>
    /// Reads the snapshot of <paramref name="cwd"/>. Not a repository → NotGit without error; a git command that fails or
    /// times out → NotGit with the error (UNKNOWN), so a hanging repository costs one timeout and stalls nothing else.
    /// </summary>
    public static async Task<CheckoutSnapshot> ReadAsync(GitRunner git, string cwd, string? worktreesRoot, CancellationToken cancel = default, GitHubCli? github = null)
    {
        try
        {
            var facts = await CheckoutFacts.ReadAsync(git, cwd, worktreesRoot, cancel).ConfigureAwait(false);
            if (!facts.IsGit) return NotGit();
            var root = facts.WorktreeRoot!;
            var status = await git.RunCheckedAsync(root, ["status", "--porcelain"], GitRun.Read, cancel).ConfigureAwait(false);
            var branch = facts.CurrentBranch;
            var paseoPath = worktreesRoot is not null && CheckoutFacts.IsPaseoWorktreePath(root, worktreesRoot);
            var baseRef = paseoPath && facts.GitDir is { } gitDir ? WorktreeMetadata.ReadBaseRef(gitDir) : null;
            baseRef ??= await DefaultBranchAsync(git, root, cancel).ConfigureAwait(false);
            var hasRemote = facts.RemoteUrl is not null;
            var baseName = baseRef is null ? null : baseRef.StartsWith("origin/", StringComparison.Ordinal) ? baseRef[7..] : baseRef;

            AheadBehind? aheadBehind = null;
            string? compare = null;
            if (baseName is not null && branch is not null && branch != baseName)
            {
                compare = await RefExistsAsync(git, root, $"refs/remotes/origin/{baseName}", cancel).ConfigureAwait(false) ? $"origin/{baseName}"
                    : await RefExistsAsync(git, root, $"refs/heads/{baseName}", cancel).ConfigureAwait(false) ? baseName : null;
                if (compare is null) throw new GitCommandException($"Base branch not found locally or on origin: {baseName}");
                var counts = (await git.RunCheckedAsync(root, ["rev-list", "--left-right", "--count", $"{compare}...{branch}"], GitRun.Read, cancel).ConfigureAwait(false))
                    .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
                if (counts.Length == 2) aheadBehind = new AheadBehind(long.Parse(counts[1]), long.Parse(counts[0]));
            }

            long? aheadOfOrigin = null, behindOfOrigin = null;
            var originBranch = branch is not null && hasRemote && await RefExistsAsync(git, root, $"refs/remotes/origin/{branch}", cancel).ConfigureAwait(false);
            if (hasRemote && branch is not null)
            {
                aheadOfOrigin = await CountAsync(git, root, originBranch ? $"origin/{branch}..{branch}" : branch, cancel).ConfigureAwait(false);
                behindOfOrigin = originBranch ? await CountAsync(git, root, $"{branch}..origin/{branch}", cancel).ConfigureAwait(false) : null;
            }

            DiffStat? diffStat = null;
            var reference = compare ?? (originBranch ? $"origin/{branch}" : null);
            if (reference is not null)
            {
                var mergeBase = await git.RunAsync(root, ["merge-base", "HEAD", reference], GitRun.Read, cancel).ConfigureAwait(false);
                if (mergeBase.Ok)
                {
                    var shortstat = await git.RunCheckedAsync(root, ["diff", "--shortstat", mergeBase.Stdout.Trim()], GitRun.Read, cancel).ConfigureAwait(false);
                    diffStat = ParseShortstat(shortstat);
                }
            }

            var snapshot = new CheckoutSnapshot(true, root, facts.MainRepoRoot, branch, facts.RemoteUrl, paseoPath && baseRef is not null, status.Trim().Length > 0,
                baseRef, aheadBehind, aheadOfOrigin, behindOfOrigin, hasRemote, diffStat, null);
            if (github is null || GitHubCli.GitHubRepo(facts.RemoteUrl) is null) return snapshot;
            try
            {
                var pr = branch is null ? null : await github.PullRequestAsync(root, branch, cancel).ConfigureAwait(false);
                return snapshot with { GitHubEnabled = true, PullRequestJson = pr?.ToJsonString() };
            }
            catch (GitHubException e) when (e.Unavailable)
            {
                return snapshot;
            }
            catch (GitHubException e)
            {
                return snapshot with { GitHubEnabled = true, GitHubError = e.Message };
            }
        }
        catch (GitCommandException e)
        {
            return NotGit(CheckoutError.Unknown(e.Message));
        }
    }

    /// <summary>The repository's default branch (§3.1 baseRef): origin's HEAD (local name when that branch exists), else main, else master.</summary>
    public static async Task<string?> DefaultBranchAsync(GitRunner git, string root, CancellationToken cancel)
    {
        var originHead = await git.RunAsync(root, ["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], GitRun.Read, cancel).ConfigureAwait(false);
        if (originHead.Ok && originHead.Stdout.Trim() is { Length: > 0 } target && target.StartsWith("refs/remotes/origin/", StringComparison.Ordinal))
        {
            var name = target["refs/remotes/origin/".Length..];
            return await RefExistsAsync(git, root, $"refs/heads/{name}", cancel).ConfigureAwait(false) ? name : $"origin/{name}";
        }
        foreach (var candidate in new[] { "main", "master" })
            if (await RefExistsAsync(git, root, $"refs/heads/{candidate}", cancel).ConfigureAwait(false)) return candidate;
        return null;
    }

    public static async Task<bool> RefExistsAsync(GitRunner git, string root, string fullRef, CancellationToken cancel) =>
        (await git.RunAsync(root, ["show-ref", "--verify", "--quiet", fullRef], GitRun.Read, cancel).ConfigureAwait(false)).Ok;

    private static async Task<long?> CountAsync(GitRunner git, string root, string range, CancellationToken cancel)
    {
        var result = await git.RunAsync(root, ["rev-list", "--count", range], GitRun.Read, cancel).ConfigureAwait(false);
        return result.Ok && long.TryParse(result.Stdout.Trim(), out var n) ? n : null;
    }

    /// <summary>` 3 files changed, 12 insertions(+), 3 deletions(-)` → (12, 3); null when both are 0.</summary>
    public static DiffStat? ParseShortstat(string text)
    {
        long additions = 0, deletions = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var words = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2 || !long.TryParse(words[0], out var n)) continue;
            if (words[1].StartsWith("insertion", StringComparison.Ordinal)) additions = n;
            else if (words[1].StartsWith("deletion", StringComparison.Ordinal)) deletions = n;
        }
        return additions == 0 && deletions == 0 ? null : new DiffStat(additions, deletions);
    }
}

/// <summary>A Paseo worktree's metadata, `&lt;worktree git dir&gt;/paseo/worktree.json` (app-workspaces.md §4.1).</summary>
public static class WorktreeMetadata
{
    public static string PathIn(string gitDir) => Path.Combine(gitDir, "paseo", "worktree.json");

    public static string? ReadBaseRef(string gitDir)
    {
        try
        {
            var path = PathIn(gitDir);
            if (!File.Exists(path)) return null;
            return JsonNode.Parse(File.ReadAllText(path))?["baseRefName"] is JsonValue v && v.TryGetValue<string>(out var name) && name.Length > 0 ? name : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
