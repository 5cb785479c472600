using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>Diff panes, commit, merge (both ways), stashes, branch switch, suggestions and validation (app-workspaces.md §3.3–3.6) on real repositories.</summary>
public sealed class GitActionsTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _origin = null!, _repo = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        _daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.git.min-refresh-interval = 200ms\npaseo.git.watch-debounce = 100ms\n");
        var seed = GitRepos.Init(_daemon.TestHome.PathIn("seed"));
        File.WriteAllText(Path.Combine(seed, "cart.ts"), string.Join("\n", Enumerable.Range(1, 20).Select(i => $"line {i}")) + "\n");
        GitRepos.Git(seed, "add", "-A");
        GitRepos.Git(seed, "commit", "-q", "-m", "cart");
        _origin = _daemon.TestHome.PathIn("origin.git");
        _repo = GitRepos.CloneWithOrigin(seed, _origin, _daemon.TestHome.PathIn("shop"));
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> Request(string type, JsonObject fields, string responseType)
    {
        var payload = ProtocolClient.Payload(await _client.RequestAsync(type, fields), responseType);
        Assert.True(payload is not null, $"expected {responseType}: {_client.Received.Last().ToJsonString()}");
        return payload!;
    }

    private static JsonObject FileOf(JsonObject payload, string path) => payload["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>() == path)!.AsObject();

    [SkippableFact]
    public async Task An_uncommitted_diff_with_hunks_untracked_and_binary_files_then_an_update_when_a_file_changes()
    {
        File.WriteAllText(Path.Combine(_repo, "cart.ts"), File.ReadAllText(Path.Combine(_repo, "cart.ts")).Replace("line 10\n", "line ten\n"));
        File.WriteAllText(Path.Combine(_repo, "notes.md"), "a\nb\n");
        File.WriteAllBytes(Path.Combine(_repo, "logo.bin"), [0x89, 0x50, 0x00, 0x01, 0x02]);
        var diff = await Request("subscribe_checkout_diff_request", new JsonObject
        {
            ["subscriptionId"] = "pane-1", ["cwd"] = _repo, ["compare"] = new JsonObject { ["mode"] = "uncommitted" },
        }, "subscribe_checkout_diff_response");
        Assert.Null(diff["error"]);
        Assert.Equal("pane-1", diff["subscriptionId"]!.GetValue<string>());
        Assert.Equal(new[] { "cart.ts", "logo.bin", "notes.md" }, diff["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()).ToArray());
        var cart = FileOf(diff, "cart.ts");
        Assert.Equal("ok", cart["status"]!.GetValue<string>());
        Assert.Equal(1, cart["additions"]!.GetValue<long>());
        Assert.Equal(1, cart["deletions"]!.GetValue<long>());
        var hunk = cart["hunks"]!.AsArray().Single()!;
        var lines = hunk["lines"]!.AsArray().Select(l => (l!["type"]!.GetValue<string>(), l["content"]!.GetValue<string>())).ToList();
        Assert.Equal("header", lines[0].Item1);
        Assert.StartsWith("@@ -7,7 +7,7 @@", lines[0].Item2);
        Assert.Contains(("remove", "line 10"), lines);
        Assert.Contains(("add", "line ten"), lines);
        Assert.Contains(("context", "line 9"), lines);
        var notes = FileOf(diff, "notes.md");
        Assert.True(notes["isNew"]!.GetValue<bool>());
        Assert.Equal(2, notes["additions"]!.GetValue<long>());
        Assert.Equal("binary", FileOf(diff, "logo.bin")["status"]!.GetValue<string>());
        Assert.Empty(FileOf(diff, "logo.bin")["hunks"]!.AsArray());

        File.AppendAllText(Path.Combine(_repo, "notes.md"), "c\n");
        var update = await _client.ExpectSessionAsync("checkout_diff_update", p => p["subscriptionId"]?.GetValue<string>() == "pane-1"
            && p["files"]!.AsArray().Any(f => f!["path"]!.GetValue<string>() == "notes.md" && f["additions"]!.GetValue<long>() == 3));
        Assert.Null(ProtocolClient.Payload(update, "checkout_diff_update")!["error"]);

        // Unsubscribed: no reply, and no more updates for that pane.
        await _client.SendAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "unsubscribe_checkout_diff_request", ["subscriptionId"] = "pane-1" } });
        Assert.NotNull(await _client.RequestAsync("ping", new JsonObject()));
        Assert.DoesNotContain(_client.Received, f => ProtocolClient.MessageType(f) is "rpc_error" or "status" && ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "error");
    }

    [SkippableFact]
    public async Task A_huge_diff_is_cut_not_sent_whole_and_a_base_diff_holds_committed_changes_only()
    {
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature");
        GitRepos.Commit(_repo, "feature.txt", "feature\n");
        File.WriteAllText(Path.Combine(_repo, "cart.ts"), new string('x', 80) + "\n" + string.Concat(Enumerable.Range(0, 40_000).Select(i => $"generated line {i} {new string('y', 60)}\n")));
        var uncommitted = await Request("subscribe_checkout_diff_request", new JsonObject
        {
            ["subscriptionId"] = "big", ["cwd"] = _repo, ["compare"] = new JsonObject { ["mode"] = "uncommitted" },
        }, "subscribe_checkout_diff_response");
        var cart = FileOf(uncommitted, "cart.ts");
        Assert.Equal("too_large", cart["status"]!.GetValue<string>());
        Assert.Empty(cart["hunks"]!.AsArray());
        Assert.True(cart["additions"]!.GetValue<long>() > 40_000);
        Assert.True(uncommitted.ToJsonString().Length < 100_000, "the cut diff is small");

        var based = await Request("subscribe_checkout_diff_request", new JsonObject
        {
            ["subscriptionId"] = "base", ["cwd"] = _repo, ["compare"] = new JsonObject { ["mode"] = "base", ["baseRef"] = "main" },
        }, "subscribe_checkout_diff_response");
        Assert.Equal(new[] { "feature.txt" }, based["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()).ToArray());
        var missing = await Request("subscribe_checkout_diff_request", new JsonObject
        {
            ["subscriptionId"] = "nobase", ["cwd"] = _repo, ["compare"] = new JsonObject { ["mode"] = "base", ["baseRef"] = "nope" },
        }, "subscribe_checkout_diff_response");
        Assert.Equal("Base branch not found locally or on origin: nope", missing["error"]!["message"]!.GetValue<string>());
        var staged = await _client.RequestAsync("subscribe_checkout_diff_request", new JsonObject
        {
            ["subscriptionId"] = "x", ["cwd"] = _repo, ["compare"] = new JsonObject { ["mode"] = "staged" },
        });
        Assert.Equal("unknown_schema", staged["message"]!["payload"]!["code"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Commit_without_a_message_writes_one_and_the_status_follows()
    {
        await Request("checkout_status_request", new JsonObject { ["cwd"] = _repo }, "checkout_status_response");
        File.WriteAllText(Path.Combine(_repo, "README.md"), "changed\n");
        var commit = await Request("checkout_commit_request", new JsonObject { ["cwd"] = _repo, ["addAll"] = true }, "checkout_commit_response");
        Assert.True(commit["success"]!.GetValue<bool>(), commit.ToJsonString());
        Assert.Null(commit["error"]);
        Assert.Equal("Update README.md", GitRepos.Git(_repo, "log", "-1", "--format=%s").Trim());
        await _client.ExpectSessionAsync("checkout_status_update", p => p["isDirty"]?.GetValue<bool>() == false && p["aheadOfOrigin"]?.GetValue<long>() == 1);

        var nothing = await Request("checkout_commit_request", new JsonObject { ["cwd"] = _repo, ["message"] = "empty" }, "checkout_commit_response");
        Assert.False(nothing["success"]!.GetValue<bool>());
        Assert.Equal("UNKNOWN", nothing["error"]!["code"]!.GetValue<string>());
        Assert.Contains("nothing to commit", nothing["error"]!["message"]!.GetValue<string>());

        var notGit = await Request("checkout_commit_request", new JsonObject { ["cwd"] = _daemon.TestHome.Root }, "checkout_commit_response");
        Assert.Equal("NOT_GIT_REPO", notGit["error"]!["code"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task A_merge_with_a_conflict_is_refused_clearly_and_leaves_the_repository_as_it_was()
    {
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature");
        GitRepos.Commit(_repo, "README.md", "feature side\n");
        GitRepos.Git(_repo, "checkout", "-q", "main");
        GitRepos.Commit(_repo, "README.md", "main side\n");
        GitRepos.Git(_repo, "checkout", "-q", "feature");
        var before = GitRepos.Git(_repo, "rev-parse", "HEAD", "main").Trim();

        var merge = await Request("checkout_merge_request", new JsonObject { ["cwd"] = _repo, ["baseRef"] = "main", ["strategy"] = "merge", ["requireCleanTarget"] = true }, "checkout_merge_response");
        Assert.False(merge["success"]!.GetValue<bool>());
        Assert.Equal("MERGE_CONFLICT", merge["error"]!["code"]!.GetValue<string>());
        Assert.Equal("Merge conflict while merging feature into main", merge["error"]!["message"]!.GetValue<string>());
        Assert.Equal(before, GitRepos.Git(_repo, "rev-parse", "HEAD", "main").Trim());
        Assert.Equal("feature", GitRepos.Git(_repo, "branch", "--show-current").Trim());
        Assert.Equal("", GitRepos.Git(_repo, "status", "--porcelain").Trim());

        var fromBase = await Request("checkout_merge_from_base_request", new JsonObject { ["cwd"] = _repo, ["baseRef"] = "main" }, "checkout_merge_from_base_response");
        Assert.Equal("MERGE_CONFLICT", fromBase["error"]!["code"]!.GetValue<string>());
        Assert.Equal("Merge conflict while merging main into feature. Please merge manually.", fromBase["error"]!["message"]!.GetValue<string>());
        Assert.Equal("", GitRepos.Git(_repo, "status", "--porcelain").Trim());
        Assert.Equal(before, GitRepos.Git(_repo, "rev-parse", "HEAD", "main").Trim());
    }

    [SkippableFact]
    public async Task A_clean_merge_into_the_base_returns_to_the_branch()
    {
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature");
        GitRepos.Commit(_repo, "feature.txt", "f\n");
        var merge = await Request("checkout_merge_request", new JsonObject { ["cwd"] = _repo, ["baseRef"] = "origin/main", ["strategy"] = "squash" }, "checkout_merge_response");
        Assert.True(merge["success"]!.GetValue<bool>(), merge.ToJsonString());
        Assert.Equal("feature", GitRepos.Git(_repo, "branch", "--show-current").Trim());
        Assert.Equal("Squash merge feature into main", GitRepos.Git(_repo, "log", "-1", "--format=%s", "main").Trim());
    }

    [SkippableFact]
    public async Task Stash_save_list_and_pop()
    {
        File.WriteAllText(Path.Combine(_repo, "README.md"), "wip\n");
        File.WriteAllText(Path.Combine(_repo, "untracked.txt"), "u\n");
        var saved = await Request("stash_save_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "main" }, "stash_save_response");
        Assert.True(saved["success"]!.GetValue<bool>(), saved.ToJsonString());
        Assert.Equal("", GitRepos.Git(_repo, "status", "--porcelain").Trim());
        var list = await Request("stash_list_request", new JsonObject { ["cwd"] = _repo }, "stash_list_response");
        var entry = list["entries"]!.AsArray().Single()!;
        Assert.Equal(0, entry["index"]!.GetValue<long>());
        Assert.True(entry["isPaseo"]!.GetValue<bool>());
        Assert.Equal("main", entry["branch"]!.GetValue<string>());
        Assert.Equal("On main: paseo-auto-stash: main", entry["message"]!.GetValue<string>());
        var popped = await Request("stash_pop_request", new JsonObject { ["cwd"] = _repo, ["stashIndex"] = 0 }, "stash_pop_response");
        Assert.True(popped["success"]!.GetValue<bool>());
        Assert.Equal("wip\n", File.ReadAllText(Path.Combine(_repo, "README.md")));
        Assert.True(File.Exists(Path.Combine(_repo, "untracked.txt")));
        var invalid = await _client.RequestAsync("stash_pop_request", new JsonObject { ["cwd"] = _repo, ["stashIndex"] = -1 });
        Assert.Equal("unknown_schema", invalid["message"]!["payload"]!["code"]!.GetValue<string>());
        var none = await Request("stash_pop_request", new JsonObject { ["cwd"] = _repo, ["stashIndex"] = 3 }, "stash_pop_response");
        Assert.False(none["success"]!.GetValue<bool>());
    }

    [SkippableFact]
    public async Task Switching_branches_refuses_a_dirty_tree_and_takes_local_or_remote_branches()
    {
        GitRepos.Git(_repo, "branch", "local-one");
        var other = _daemon.TestHome.PathIn("other");
        GitRepos.Clone(_origin, other);
        GitRepos.Git(other, "checkout", "-q", "-b", "remote-one");
        GitRepos.Git(other, "commit", "-q", "--allow-empty", "-m", "r");
        GitRepos.Git(other, "push", "-q", "origin", "remote-one");
        GitRepos.Git(_repo, "fetch", "-q", "origin");

        File.WriteAllText(Path.Combine(_repo, "README.md"), "dirty\n");
        var refused = await Request("checkout_switch_branch_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "local-one" }, "checkout_switch_branch_response");
        Assert.False(refused["success"]!.GetValue<bool>());
        Assert.False(refused.ContainsKey("source"));
        Assert.Equal("Working directory has uncommitted changes. Commit or stash before switching branches.", refused["error"]!["message"]!.GetValue<string>());
        Assert.Equal("dirty\n", File.ReadAllText(Path.Combine(_repo, "README.md")));
        GitRepos.Git(_repo, "checkout", "-q", "--", "README.md");

        var local = await Request("checkout_switch_branch_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "local-one" }, "checkout_switch_branch_response");
        Assert.Equal(new[] { "cwd", "success", "branch", "source", "error", "requestId" }, local.Select(p => p.Key).ToArray());
        Assert.Equal("local", local["source"]!.GetValue<string>());
        var remote = await Request("checkout_switch_branch_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "origin/remote-one" }, "checkout_switch_branch_response");
        Assert.Equal("remote", remote["source"]!.GetValue<string>());
        Assert.Equal("remote-one", GitRepos.Git(_repo, "branch", "--show-current").Trim());
        var missing = await Request("checkout_switch_branch_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "nope" }, "checkout_switch_branch_response");
        Assert.Equal("Branch not found: nope", missing["error"]!["message"]!.GetValue<string>());
        var invalid = await Request("checkout_switch_branch_request", new JsonObject { ["cwd"] = _repo, ["branch"] = "a..b" }, "checkout_switch_branch_response");
        Assert.Equal("Invalid branch: a..b", invalid["error"]!["message"]!.GetValue<string>());

        var suggestions = await Request("branch_suggestions_request", new JsonObject { ["cwd"] = _repo, ["query"] = "one" }, "branch_suggestions_response");
        Assert.Null(suggestions["error"]);
        Assert.Equal(new[] { "local-one", "remote-one" }, suggestions["branches"]!.AsArray().Select(b => b!.GetValue<string>()).Order().ToArray());
        var remoteDetail = suggestions["branchDetails"]!.AsArray().Single(b => b!["name"]!.GetValue<string>() == "remote-one")!;
        Assert.True(remoteDetail["hasLocal"]!.GetValue<bool>() && remoteDetail["hasRemote"]!.GetValue<bool>());
        var tooMany = await _client.RequestAsync("branch_suggestions_request", new JsonObject { ["cwd"] = _repo, ["limit"] = 201 });
        Assert.Equal("unknown_schema", tooMany["message"]!["payload"]!["code"]!.GetValue<string>());

        var valid = await Request("validate_branch_request", new JsonObject { ["cwd"] = _repo, ["branchName"] = "main" }, "validate_branch_response");
        Assert.Equal(new[] { "exists", "resolvedRef", "isRemote", "error", "requestId" }, valid.Select(p => p.Key).ToArray());
        Assert.True(valid["exists"]!.GetValue<bool>());
        GitRepos.Git(_repo, "branch", "-q", "-D", "local-one");
        var nowhere = await Request("validate_branch_request", new JsonObject { ["cwd"] = _repo, ["branchName"] = "local-one" }, "validate_branch_response");
        Assert.False(nowhere["exists"]!.GetValue<bool>());
        var notRepo = await Request("branch_suggestions_request", new JsonObject { ["cwd"] = _daemon.TestHome.Root }, "branch_suggestions_response");
        Assert.Equal($"Not a git repository: {_daemon.TestHome.Root}", notRepo["error"]!.GetValue<string>());
    }
}
