using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Git;

/// <summary>A GitHub call that could not be made: gh missing, not logged in, or the command failed (app-workspaces.md §1.2).</summary>
public sealed class GitHubException(string message, bool unavailable) : Exception(message)
{
    /// <summary>gh is missing or not logged in: GitHub features are off rather than failing.</summary>
    public bool Unavailable { get; } = unavailable;

    public const string NotInstalled = "GitHub CLI (gh) is not installed or not in PATH";
    public const string AuthFailed = "GitHub CLI authentication failed";
}

/// <summary>
/// GitHub through the `gh` CLI (app-workspaces.md §3.7): pull-request status of a branch, PR creation, search, and a PR's
/// reviews and comments. Runs through a <see cref="GitRunner"/> (bounded output, timeout, its own process group);
/// answers are kept 30 s per directory and arguments (at most 256 of them), and served stale when gh then fails.
/// </summary>
public sealed class GitHubCli(GitRunner gh)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private const int MaxCached = 256;
    private static readonly string[] AuthMarkers = ["gh auth login", "not logged into any github hosts", "authentication failed", "authentication required", "bad credentials", "http 401"];
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, string Output)> _cache = new();

    public const string PrFields = "number,url,title,state,isDraft,baseRefName,headRefName,mergedAt,statusCheckRollup,reviewDecision,headRepositoryOwner";

    /// <summary>`owner/repo` of an origin on github.com (scp form or https/http/ssh URL with exactly owner/repo), else null.</summary>
    public static (string Owner, string Repo)? GitHubRepo(string? remoteUrl)
    {
        if (ProjectKeysAccess.RemoteKey(remoteUrl) is not { } remote || remote.Host is not ("github.com" or "ssh.github.com")) return null;
        var parts = remote.Path.Split('/');
        return parts.Length == 2 ? (parts[0], parts[1]) : null;
    }

    public async Task<string> RunAsync(string cwd, IReadOnlyList<string> args, bool cached = true, CancellationToken cancel = default)
    {
        var key = cwd + "\0" + string.Join('\0', args);
        (DateTimeOffset At, string? Output) hit = default;
        if (cached && _cache.TryGetValue(key, out var found))
        {
            if (DateTimeOffset.UtcNow - found.At < CacheFor) return found.Output;
            hit = found;
        }
        GitResult result;
        try
        {
            result = await gh.RunAsync(cwd, args, GitRun.Default, cancel).ConfigureAwait(false);
        }
        catch (GitCommandException e) when (e.Message.Contains("not found on PATH", StringComparison.Ordinal))
        {
            throw new GitHubException(GitHubException.NotInstalled, unavailable: true);
        }
        catch (GitCommandException e)
        {
            if (cached && hit.Output is not null) return hit.Output;
            throw new GitHubException(e.Message, unavailable: false);
        }
        if (!result.Ok)
        {
            var said = (result.Stderr + "\n" + result.Stdout).ToLowerInvariant();
            if (AuthMarkers.Any(said.Contains)) throw new GitHubException(GitHubException.AuthFailed, unavailable: true);
            if (cached && hit.Output is not null) return hit.Output;
            throw new GitHubException($"GitHub CLI command failed: gh {string.Join(' ', args)}", unavailable: false);
        }
        if (cached)
        {
            if (_cache.Count >= MaxCached) foreach (var old in _cache.OrderBy(c => c.Value.At).Take(MaxCached / 4).ToList()) _cache.TryRemove(old.Key, out _);
            _cache[key] = (DateTimeOffset.UtcNow, result.Stdout);
        }
        return result.Stdout;
    }

    /// <summary>The pull request of <paramref name="branch"/> (open or draft before merged before closed), mapped to PrStatus; null when none.</summary>
    public async Task<JsonObject?> PullRequestAsync(string cwd, string branch, CancellationToken cancel = default)
    {
        JsonNode? found = null;
        var viewed = await TryJsonAsync(cwd, ["pr", "view", branch, "--json", PrFields], cancel).ConfigureAwait(false);
        if (viewed is JsonObject view && view["headRefName"]?.GetValue<string>() == branch) found = view;
        if (found is null && await TryJsonAsync(cwd, ["pr", "list", "--state", "all", "--head", branch, "--json", PrFields, "--limit", "10"], cancel).ConfigureAwait(false) is JsonArray list)
            found = list.OfType<JsonObject>().OrderBy(p => Rank(p)).FirstOrDefault();
        return found is JsonObject pr ? MapPullRequest(pr) : null;

        static int Rank(JsonObject pr) => pr["state"]?.GetValue<string>()?.ToUpperInvariant() switch { "OPEN" => 0, "MERGED" => 1, _ => 2 };
    }

    private async Task<JsonNode?> TryJsonAsync(string cwd, string[] args, CancellationToken cancel)
    {
        try
        {
            return JsonNode.Parse(await RunAsync(cwd, args, cancel: cancel).ConfigureAwait(false));
        }
        catch (GitHubException e) when (!e.Unavailable)
        {
            return null; // "no pull requests found for branch" is a failure of gh pr view
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>gh's PR JSON → PrStatus (§3.7): state lower-cased (merged when mergedAt), checks, checksStatus, reviewDecision.</summary>
    public static JsonObject MapPullRequest(JsonObject pr)
    {
        var merged = pr["mergedAt"] is JsonValue m && m.GetValueKind() == JsonValueKind.String && m.GetValue<string>().Length > 0;
        var url = pr["url"]?.GetValue<string>() ?? "";
        var status = new JsonObject();
        if (pr["number"] is JsonValue n) status["number"] = n.GetValue<long>();
        status["url"] = url;
        status["title"] = pr["title"]?.GetValue<string>() ?? "";
        status["state"] = merged ? "merged" : (pr["state"]?.GetValue<string>() ?? "").ToLowerInvariant();
        var parts = Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.AbsolutePath.Trim('/').Split('/') : [];
        if (parts.Length >= 2)
        {
            status["repoOwner"] = parts[0];
            status["repoName"] = parts[1];
        }
        status["baseRefName"] = pr["baseRefName"]?.GetValue<string>() ?? "";
        status["headRefName"] = pr["headRefName"]?.GetValue<string>() ?? "";
        status["isMerged"] = merged;
        status["isDraft"] = pr["isDraft"] is JsonValue d && d.GetValueKind() == JsonValueKind.True;
        var checks = new Dictionary<string, JsonObject>();
        foreach (var check in pr["statusCheckRollup"]?.AsArray().OfType<JsonObject>() ?? [])
        {
            var name = check["name"]?.GetValue<string>() ?? check["context"]?.GetValue<string>() ?? "check";
            var isRun = check["__typename"]?.GetValue<string>() == "CheckRun" || check.ContainsKey("conclusion");
            string state;
            if (isRun)
            {
                var conclusion = check["conclusion"]?.GetValue<string>()?.ToUpperInvariant();
                state = check["status"]?.GetValue<string>()?.ToUpperInvariant() != "COMPLETED" ? "pending"
                    : conclusion switch { "SUCCESS" => "success", "FAILURE" or "TIMED_OUT" or "ACTION_REQUIRED" => "failure", "CANCELLED" => "cancelled", "SKIPPED" or "NEUTRAL" => "skipped", _ => "pending" };
            }
            else state = check["state"]?.GetValue<string>()?.ToUpperInvariant() switch { "SUCCESS" => "success", "FAILURE" or "ERROR" => "failure", _ => "pending" };
            var entry = new JsonObject { ["name"] = name, ["status"] = state, ["url"] = check["detailsUrl"]?.GetValue<string>() ?? check["targetUrl"]?.GetValue<string>() };
            if (check["workflowName"]?.GetValue<string>() is { Length: > 0 } workflow) entry["workflow"] = workflow;
            if (DateTimeOffset.TryParse(check["startedAt"]?.GetValue<string>(), out var started) && DateTimeOffset.TryParse(check["completedAt"]?.GetValue<string>(), out var completed) && completed >= started)
                entry["duration"] = Duration(completed - started);
            checks[name] = entry; // the newest per name (gh lists them oldest first)
        }
        status["checks"] = new JsonArray([.. checks.Values]);
        var statuses = checks.Values.Select(c => c["status"]!.GetValue<string>()).ToList();
        status["checksStatus"] = statuses.Count == 0 ? "none" : statuses.Contains("failure") ? "failure" : statuses.Contains("pending") ? "pending" : "success";
        status["reviewDecision"] = pr["reviewDecision"]?.GetValue<string>() switch
        {
            "APPROVED" => "approved", "CHANGES_REQUESTED" => "changes_requested", "REVIEW_REQUIRED" => "pending", _ => null,
        };
        return status;
    }

    private static string Duration(TimeSpan span)
    {
        var parts = new List<string>();
        if (span.Hours > 0 || span.Days > 0) parts.Add($"{(int)span.TotalHours}h");
        if (span.Minutes > 0) parts.Add($"{span.Minutes}m");
        parts.Add($"{span.Seconds}s");
        return string.Join(' ', parts);
    }

    /// <summary>github_search (§3.7): issues and PRs matching the query, newest first; a kind whose call fails for another reason than gh's absence is left out.</summary>
    public async Task<(JsonArray Items, bool FeaturesEnabled)> SearchAsync(string cwd, string query, int limit, bool issues, bool pulls, CancellationToken cancel = default)
    {
        var items = new List<JsonObject>();
        var unavailable = 0;
        var calls = 0;
        async Task Kind(string kind, string[] args, bool isPr)
        {
            calls++;
            try
            {
                if (JsonNode.Parse(await RunAsync(cwd, args, cancel: cancel).ConfigureAwait(false)) is not JsonArray found) return;
                foreach (var entry in found.OfType<JsonObject>())
                    items.Add(new JsonObject
                    {
                        ["kind"] = kind, ["number"] = entry["number"]?.GetValue<long>() ?? 0, ["title"] = entry["title"]?.GetValue<string>() ?? "",
                        ["url"] = entry["url"]?.GetValue<string>() ?? "", ["state"] = entry["state"]?.GetValue<string>() ?? "", ["body"] = entry["body"]?.GetValue<string>(),
                        ["labels"] = new JsonArray([.. (entry["labels"]?.AsArray().OfType<JsonObject>() ?? []).Select(l => (JsonNode)(l["name"]?.GetValue<string>() ?? ""))]),
                        ["baseRefName"] = isPr ? entry["baseRefName"]?.GetValue<string>() : null, ["headRefName"] = isPr ? entry["headRefName"]?.GetValue<string>() : null,
                        ["updatedAt"] = entry["updatedAt"]?.GetValue<string>(),
                    });
            }
            catch (GitHubException e) when (e.Unavailable) { unavailable++; }
            catch (GitHubException) { }
            catch (JsonException) { }
        }
        var n = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (issues) await Kind("issue", ["issue", "list", $"--search={query}", "--json", "number,title,url,state,body,labels,updatedAt", "--limit", n], false).ConfigureAwait(false);
        if (pulls) await Kind("pr", ["pr", "list", $"--search={query}", "--json", "number,title,url,state,body,labels,baseRefName,headRefName,updatedAt", "--limit", n], true).ConfigureAwait(false);
        if (calls > 0 && unavailable == calls) return ([], false);
        return (new JsonArray([.. items.OrderByDescending(i => i["updatedAt"]?.GetValue<string>() ?? "", StringComparer.Ordinal)]), true);
    }
}

public static class GitHubTimeline
{
    public const string Query = "query($owner:String!,$name:String!,$number:Int!){repository(owner:$owner,name:$name){pullRequest(number:$number){" +
        "reviews(first:100){totalCount nodes{id author{login} body state submittedAt url}} comments(first:100){totalCount nodes{id author{login} body createdAt url}}}}}";

    /// <summary>The graphql answer → `{items, truncated}` or null when the pull request does not exist.</summary>
    public static (JsonArray Items, bool Truncated)? Map(JsonNode? answer)
    {
        if (answer?["data"]?["repository"]?["pullRequest"] is not JsonObject pr) return null;
        var items = new List<(long At, string Id, JsonObject Item)>();
        var truncated = false;
        foreach (var (list, kind) in new[] { ("reviews", "review"), ("comments", "comment") })
        {
            var nodes = pr[list]?["nodes"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
            if (pr[list]?["totalCount"] is JsonValue total && total.GetValue<long>() > nodes.Count) truncated = true;
            foreach (var node in nodes)
            {
                var body = node["body"]?.GetValue<string>() ?? "";
                string? reviewState = null;
                if (kind == "review")
                {
                    reviewState = node["state"]?.GetValue<string>() switch { "APPROVED" => "approved", "CHANGES_REQUESTED" => "changes_requested", "COMMENTED" => "commented", _ => null };
                    if (reviewState is null)
                    {
                        if (body.Trim().Length == 0) continue;
                        reviewState = "commented";
                    }
                }
                var at = DateTimeOffset.TryParse((node["submittedAt"] ?? node["createdAt"])?.GetValue<string>(), out var t) ? t.ToUnixTimeMilliseconds() : 0;
                var id = node["id"]?.GetValue<string>() ?? "";
                var item = new JsonObject
                {
                    ["kind"] = kind, ["id"] = id, ["author"] = node["author"]?["login"]?.GetValue<string>() ?? "unknown", ["body"] = body, ["createdAt"] = at,
                    ["url"] = node["url"]?.GetValue<string>() ?? "",
                };
                if (reviewState is not null) item["reviewState"] = reviewState;
                items.Add((at, id, item));
            }
        }
        return (new JsonArray([.. items.OrderBy(i => i.At).ThenBy(i => i.Id, StringComparer.Ordinal).Select(i => (JsonNode)i.Item)]), truncated);
    }
}

/// <summary>Access to the project-key URL parser for the GitHub rules (same parsing, §2.2 and §3.7).</summary>
internal static class ProjectKeysAccess
{
    public static (string Host, string Path)? RemoteKey(string? url) => Workspaces.ProjectKeys.RemoteKey(url);
}
