using System.Text.Json.Nodes;
using Paseo.Host.Tests.Providers;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>
/// GitHub features through gh (app-workspaces.md §3.7), with gh replaced by tests/standins/fake-gh.cjs — the only stand-in
/// here, since the real one needs GitHub. The repository's origin is a github.com URL that git rewrites to a local bare
/// repository (url.insteadOf), so pushes stay on this machine.
/// </summary>
public sealed class GitHubTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _repo = null!, _ghDir = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        _ghDir = Directory.CreateTempSubdirectory("paseo-gh-").FullName;
        var gh = Path.Combine(_ghDir, "gh");
        File.Copy(StandIns.Path("fake-gh.cjs"), gh);
        File.SetUnixFileMode(gh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        WriteState(loggedIn: true);
        _daemon = await InProcessDaemon.StartAsync(extraHocon: $"paseo.github.cli = \"{gh}\"\n");
        var bare = _daemon.TestHome.PathIn("origin.git");
        var seed = GitRepos.Init(_daemon.TestHome.PathIn("seed"));
        _repo = GitRepos.CloneWithOrigin(seed, bare, _daemon.TestHome.PathIn("shop"));
        GitRepos.Git(_repo, "remote", "set-url", "origin", "git@github.com:acme/shop.git");
        GitRepos.Git(_repo, "config", $"url.{bare}.insteadOf", "git@github.com:acme/shop.git");
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature/cart");
        GitRepos.Commit(_repo, "cart.ts", "total\n", "Fix cart totals");
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
        if (_ghDir is not null && Directory.Exists(_ghDir)) Directory.Delete(_ghDir, recursive: true);
    }

    private void WriteState(bool loggedIn) => File.WriteAllText(Path.Combine(_ghDir, "gh-state.json"), new JsonObject
    {
        ["loggedIn"] = loggedIn,
        ["prs"] = new JsonArray(new JsonObject
        {
            ["number"] = 42, ["url"] = "https://github.com/acme/shop/pull/42", ["title"] = "Fix cart totals", ["state"] = "OPEN", ["isDraft"] = false,
            ["baseRefName"] = "main", ["headRefName"] = "feature/cart", ["mergedAt"] = null, ["reviewDecision"] = "APPROVED",
            ["updatedAt"] = "2026-12-01T10:00:00Z", ["body"] = "b", ["labels"] = new JsonArray(new JsonObject { ["name"] = "bug" }),
            ["statusCheckRollup"] = new JsonArray(new JsonObject
            {
                ["__typename"] = "CheckRun", ["name"] = "test", ["status"] = "COMPLETED", ["conclusion"] = "SUCCESS", ["workflowName"] = "CI",
                ["detailsUrl"] = "https://github.com/acme/shop/actions/runs/1", ["startedAt"] = "2026-12-01T10:00:00Z", ["completedAt"] = "2026-12-01T10:02:05Z",
            }),
        }),
        ["issues"] = new JsonArray(new JsonObject
        {
            ["number"] = 7, ["title"] = "Cart rounding", ["url"] = "https://github.com/acme/shop/issues/7", ["state"] = "OPEN", ["body"] = null,
            ["labels"] = new JsonArray(), ["updatedAt"] = "2026-12-02T10:00:00Z",
        }),
        ["timelines"] = new JsonObject
        {
            ["42"] = new JsonObject
            {
                ["reviews"] = new JsonObject { ["totalCount"] = 2, ["nodes"] = new JsonArray(
                    new JsonObject { ["id"] = "r1", ["author"] = new JsonObject { ["login"] = "ann" }, ["body"] = "", ["state"] = "APPROVED", ["submittedAt"] = "2026-12-01T12:00:00Z", ["url"] = "u1" },
                    new JsonObject { ["id"] = "r2", ["author"] = new JsonObject { ["login"] = "bob" }, ["body"] = "", ["state"] = "DISMISSED", ["submittedAt"] = "2026-12-01T13:00:00Z", ["url"] = "u2" }) },
                ["comments"] = new JsonObject { ["totalCount"] = 1, ["nodes"] = new JsonArray(
                    new JsonObject { ["id"] = "c1", ["author"] = new JsonObject { ["login"] = "cy" }, ["body"] = "LGTM", ["createdAt"] = "2026-12-01T11:00:00Z", ["url"] = "u3" }) },
            },
        },
    }.ToJsonString());

    private async Task<JsonObject> Reply(string type, JsonObject fields, string responseType) =>
        ProtocolClient.Payload(await _client.RequestAsync(type, fields), responseType) ?? throw new Xunit.Sdk.XunitException($"no {responseType}: {_client.Received.Last().ToJsonString()}");

    [SkippableFact]
    public async Task Pull_request_status_in_the_checkout_the_workspace_and_its_own_request()
    {
        var status = await Reply("checkout_pr_status_request", new JsonObject { ["cwd"] = _repo }, "checkout_pr_status_response");
        Assert.True(status["githubFeaturesEnabled"]!.GetValue<bool>());
        Assert.Null(status["error"]);
        var pr = status["status"]!;
        Assert.Equal(42, pr["number"]!.GetValue<long>());
        Assert.Equal("open", pr["state"]!.GetValue<string>());
        Assert.Equal("acme", pr["repoOwner"]!.GetValue<string>());
        Assert.Equal("success", pr["checksStatus"]!.GetValue<string>());
        Assert.Equal("approved", pr["reviewDecision"]!.GetValue<string>());
        Assert.Equal("2m 5s", pr["checks"]![0]!["duration"]!.GetValue<string>());
        Assert.Equal("CI", pr["checks"]![0]!["workflow"]!.GetValue<string>());

        await _client.RequestAsync("open_project_request", new JsonObject { ["cwd"] = _repo });
        await _client.RequestAsync("fetch_workspaces_request", new JsonObject { ["subscribe"] = new JsonObject() });
        var update = await _client.ExpectSessionAsync("workspace_update", p => p["workspace"]?["githubRuntime"]?["pullRequest"]?["number"]?.GetValue<long>() == 42);
        WireShapes.Workspace(ProtocolClient.Payload(update, "workspace_update")!["workspace"]);
        var checkout = await _client.ExpectSessionAsync("checkout_status_update", p => p["prStatus"]?["status"]?["number"]?.GetValue<long>() == 42);
        Assert.Equal($"subscription:{_repo}", ProtocolClient.Payload(checkout, "checkout_status_update")!["prStatus"]!["requestId"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Creating_a_pull_request_pushes_the_branch_and_writes_its_title()
    {
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature/tax");
        GitRepos.Commit(_repo, "tax.ts", "tax\n", "Add tax rules");
        var created = await Reply("checkout_pr_create_request", new JsonObject { ["cwd"] = _repo }, "checkout_pr_create_response");
        Assert.Null(created["error"]);
        Assert.Equal(101, created["number"]!.GetValue<long>());
        Assert.Equal("https://api.github.com/repos/acme/shop/pulls/101", created["url"]!.GetValue<string>());
        Assert.Contains("feature/tax", GitRepos.Git(_daemon.TestHome.PathIn("origin.git"), "branch", "--list"));
        var calls = File.ReadAllLines(Path.Combine(_ghDir, "gh-calls.log")).Select(l => JsonNode.Parse(l)!.AsArray().Select(a => a!.GetValue<string>()).ToArray()).ToList();
        var post = calls.Single(c => c.Contains("POST"));
        Assert.Contains("title=Add tax rules", post);
        Assert.Contains("base=main", post);
        Assert.Contains("head=feature/tax", post);
        Assert.Contains("body=- Fix cart totals\n- Add tax rules", post);
    }

    [SkippableFact]
    public async Task Search_and_a_pull_requests_timeline()
    {
        var search = await Reply("github_search_request", new JsonObject { ["cwd"] = _repo, ["query"] = "cart", ["limit"] = 20 }, "github_search_response");
        Assert.True(search["githubFeaturesEnabled"]!.GetValue<bool>());
        Assert.Equal(new[] { "issue:7", "pr:42" }, search["items"]!.AsArray().Select(i => $"{i!["kind"]}:{i["number"]}").ToArray());
        var issue = search["items"]![0]!;
        Assert.Null(issue["baseRefName"]);
        Assert.Equal("bug", search["items"]![1]!["labels"]![0]!.GetValue<string>());
        var prsOnly = await Reply("github_search_request", new JsonObject { ["cwd"] = _repo, ["query"] = "cart", ["kinds"] = new JsonArray("github-pr") }, "github_search_response");
        Assert.Single(prsOnly["items"]!.AsArray());
        var tooMany = await _client.RequestAsync("github_search_request", new JsonObject { ["cwd"] = _repo, ["query"] = "x", ["limit"] = 51 });
        Assert.Equal("unknown_schema", tooMany["message"]!["payload"]!["code"]!.GetValue<string>());

        var timeline = await Reply("pull_request_timeline_request", new JsonObject { ["cwd"] = _repo, ["prNumber"] = 42, ["repoOwner"] = "acme", ["repoName"] = "shop" }, "pull_request_timeline_response");
        Assert.Null(timeline["error"]);
        Assert.False(timeline["truncated"]!.GetValue<bool>());
        Assert.Equal(new[] { "comment:cy", "review:ann" }, timeline["items"]!.AsArray().Select(i => $"{i!["kind"]}:{i["author"]}").ToArray());
        Assert.Equal("approved", timeline["items"]![1]!["reviewState"]!.GetValue<string>());
        var missing = await Reply("pull_request_timeline_request", new JsonObject { ["cwd"] = _repo, ["prNumber"] = 5, ["repoOwner"] = "acme", ["repoName"] = "shop" }, "pull_request_timeline_response");
        Assert.Equal("not_found", missing["error"]!["kind"]!.GetValue<string>());
        var invalid = await Reply("pull_request_timeline_request", new JsonObject { ["cwd"] = _repo, ["prNumber"] = 5, ["repoOwner"] = "ac me", ["repoName"] = "shop" }, "pull_request_timeline_response");
        Assert.Equal("Pull request timeline request has invalid PR identity", invalid["error"]!["message"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Logged_out_gh_turns_GitHub_features_off_and_the_timeline_says_why()
    {
        WriteState(loggedIn: false);
        var search = await Reply("github_search_request", new JsonObject { ["cwd"] = _repo, ["query"] = "cart" }, "github_search_response");
        Assert.False(search["githubFeaturesEnabled"]!.GetValue<bool>());
        Assert.Empty(search["items"]!.AsArray());
        Assert.Null(search["error"]);
        var timeline = await _client.RequestAsync("pull_request_timeline_request", new JsonObject { ["cwd"] = _repo, ["prNumber"] = 42, ["repoOwner"] = "acme", ["repoName"] = "shop" });
        Assert.Equal("handler_error", timeline["message"]!["payload"]!["code"]!.GetValue<string>());
        Assert.Equal("Request failed: GitHub CLI authentication failed", timeline["message"]!["payload"]!["error"]!.GetValue<string>());
        var status = await Reply("checkout_pr_status_request", new JsonObject { ["cwd"] = _repo }, "checkout_pr_status_response");
        Assert.False(status["githubFeaturesEnabled"]!.GetValue<bool>());
        Assert.Null(status["status"]);
    }
}

/// <summary>A daemon whose gh is missing: GitHub features are off, and the one request Paseo fails loudly says so.</summary>
public sealed class GitHubMissingTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        _daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.github.cli = \"/nonexistent/bin/gh\"\n");
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
    }

    [SkippableFact]
    public async Task Without_gh_the_spec_error_is_given()
    {
        var repo = GitRepos.Init(_daemon.TestHome.PathIn("shop"), origin: "git@github.com:acme/shop.git");
        var timeline = await _client.RequestAsync("pull_request_timeline_request", new JsonObject { ["cwd"] = repo, ["prNumber"] = 1, ["repoOwner"] = "acme", ["repoName"] = "shop" });
        Assert.Equal("Request failed: GitHub CLI (gh) is not installed or not in PATH", timeline["message"]!["payload"]!["error"]!.GetValue<string>());
        var search = ProtocolClient.Payload(await _client.RequestAsync("github_search_request", new JsonObject { ["cwd"] = repo, ["query"] = "x" }), "github_search_response")!;
        Assert.False(search["githubFeaturesEnabled"]!.GetValue<bool>());
        var status = ProtocolClient.Payload(await _client.RequestAsync("checkout_pr_status_request", new JsonObject { ["cwd"] = repo }), "checkout_pr_status_response")!;
        Assert.False(status["githubFeaturesEnabled"]!.GetValue<bool>());
        Assert.Null(status["error"]);
    }
}
