using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>checkout_status_request and checkout_status_update (app-workspaces.md §3.1–3.2) on real repositories made in temp folders.</summary>
public sealed class CheckoutStatusTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _origin = null!, _repo = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        // A short git timeout for the hanging-repository test; reads are quick here.
        _daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.git.timeout = 3s\npaseo.git.min-refresh-interval = 200ms\npaseo.git.watch-debounce = 100ms\npaseo.git.fetch-interval = 1s\n");
        var seed = GitRepos.Init(_daemon.TestHome.PathIn("seed"));
        _origin = _daemon.TestHome.PathIn("origin.git");
        _repo = GitRepos.CloneWithOrigin(seed, _origin, _daemon.TestHome.PathIn("shop"));
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> StatusAsync(string cwd)
    {
        var payload = ProtocolClient.Payload(await _client.RequestAsync("checkout_status_request", new JsonObject { ["cwd"] = cwd }), "checkout_status_response")!;
        WireShapes.CheckoutStatus(payload);
        Assert.Equal(cwd, payload["cwd"]!.GetValue<string>());
        return payload;
    }

    [SkippableFact]
    public async Task A_clean_clone_on_its_default_branch()
    {
        var status = await StatusAsync(_repo);
        Assert.True(status["isGit"]!.GetValue<bool>());
        Assert.Equal(_repo, status["repoRoot"]!.GetValue<string>());
        Assert.Null(status["mainRepoRoot"]);
        Assert.Equal("main", status["currentBranch"]!.GetValue<string>());
        Assert.False(status["isDirty"]!.GetValue<bool>());
        Assert.Equal("main", status["baseRef"]!.GetValue<string>());
        Assert.Null(status["aheadBehind"]);
        Assert.Equal(0, status["aheadOfOrigin"]!.GetValue<long>());
        Assert.Equal(0, status["behindOfOrigin"]!.GetValue<long>());
        Assert.True(status["hasRemote"]!.GetValue<bool>());
        Assert.Equal(_origin, status["remoteUrl"]!.GetValue<string>());
        Assert.Null(status["error"]);
        Assert.False(status["isPaseoOwnedWorktree"]!.GetValue<bool>());
    }

    [SkippableFact]
    public async Task Dirty_ahead_and_behind_a_branch_and_its_origin()
    {
        // main moves on origin (another clone pushes), and a feature branch gets two commits of its own.
        var other = _daemon.TestHome.PathIn("other");
        GitRepos.Clone(_origin, other);
        GitRepos.Commit(other, "upstream.txt", "u\n");
        GitRepos.Git(other, "push", "-q", "origin", "main");
        GitRepos.Git(_repo, "fetch", "-q", "origin");
        GitRepos.Git(_repo, "checkout", "-q", "-b", "feature/cart");
        GitRepos.Commit(_repo, "a.txt", "a\n");
        GitRepos.Commit(_repo, "b.txt", "b\n");
        File.WriteAllText(Path.Combine(_repo, "README.md"), "edited\n");

        var status = await StatusAsync(_repo);
        Assert.Equal("feature/cart", status["currentBranch"]!.GetValue<string>());
        Assert.True(status["isDirty"]!.GetValue<bool>());
        Assert.Equal("main", status["baseRef"]!.GetValue<string>());
        // Compared with origin/main, which is one commit ahead of where the branch started.
        Assert.Equal(2, status["aheadBehind"]!["ahead"]!.GetValue<long>());
        Assert.Equal(1, status["aheadBehind"]!["behind"]!.GetValue<long>());
        // No origin/feature/cart: every commit of the branch counts as not pushed.
        Assert.Equal(3, status["aheadOfOrigin"]!.GetValue<long>());
        Assert.Null(status["behindOfOrigin"]);

        GitRepos.Git(_repo, "checkout", "-q", "main");
        GitRepos.Git(_repo, "checkout", "-q", "--", "README.md");
        var main = await StatusAsync(_repo);
        Assert.Equal(1, main["behindOfOrigin"]!.GetValue<long>());
        Assert.Equal(0, main["aheadOfOrigin"]!.GetValue<long>());
    }

    [SkippableFact]
    public async Task What_someone_else_pushed_shows_without_anyone_fetching_by_hand()
    {
        var first = await StatusAsync(_repo);
        Assert.Equal(0, first["behindOfOrigin"]!.GetValue<long>());
        var other = _daemon.TestHome.PathIn("pusher");
        GitRepos.Clone(_origin, other);
        GitRepos.Commit(other, "theirs.txt", "t\n");
        GitRepos.Git(other, "push", "-q", "origin", "main");
        // The observer fetches origin every fetch-interval (1 s here) and pushes the new counts.
        await _client.ExpectSessionAsync("checkout_status_update", p => p["behindOfOrigin"]?.GetValue<long>() == 1);
    }

    [SkippableFact]
    public async Task Detached_head_and_a_merge_conflict_in_progress()
    {
        var head = GitRepos.Git(_repo, "rev-parse", "HEAD").Trim();
        GitRepos.Git(_repo, "checkout", "-q", "--detach", head);
        var detached = await StatusAsync(_repo);
        Assert.True(detached["isGit"]!.GetValue<bool>());
        Assert.Null(detached["currentBranch"]);
        Assert.Null(detached["aheadBehind"]);

        GitRepos.Git(_repo, "checkout", "-q", "main");
        GitRepos.Git(_repo, "checkout", "-q", "-b", "left");
        GitRepos.Commit(_repo, "README.md", "left\n");
        GitRepos.Git(_repo, "checkout", "-q", "main");
        GitRepos.Commit(_repo, "README.md", "right\n");
        Assert.Throws<InvalidOperationException>(() => GitRepos.Git(_repo, "merge", "left"));
        var conflicted = await StatusAsync(_repo);
        Assert.Equal("main", conflicted["currentBranch"]!.GetValue<string>());
        Assert.True(conflicted["isDirty"]!.GetValue<bool>());
        Assert.Null(conflicted["error"]);
    }

    [SkippableFact]
    public async Task Not_a_repository_a_missing_directory_and_a_file_are_not_git_without_error()
    {
        var plain = _daemon.TestHome.PathIn("plain");
        Directory.CreateDirectory(plain);
        var file = _daemon.TestHome.PathIn("file.txt");
        File.WriteAllText(file, "x");
        foreach (var cwd in new[] { plain, _daemon.TestHome.PathIn("missing"), file, Path.Combine(plain, "..", "plain") })
        {
            var status = await StatusAsync(cwd);
            Assert.False(status["isGit"]!.GetValue<bool>());
            Assert.False(status["hasRemote"]!.GetValue<bool>());
            Assert.Null(status["error"]);
        }
    }

    [SkippableFact]
    public async Task A_file_changed_on_disk_is_pushed_as_a_checkout_status_update()
    {
        var first = await StatusAsync(_repo);
        Assert.False(first["isDirty"]!.GetValue<bool>());
        File.WriteAllText(Path.Combine(_repo, "new.txt"), "new\n");
        // Watched (inotify), not polled: the update follows the write within the debounce and one read (here: at most 15 s, the client's wait).
        var update = await _client.ExpectSessionAsync("checkout_status_update", p => p["isDirty"]?.GetValue<bool>() == true);
        var payload = ProtocolClient.Payload(update, "checkout_status_update")!;
        WireShapes.CheckoutStatus(payload);
        Assert.Equal($"subscription:{_repo}", payload["requestId"]!.GetValue<string>());
        Assert.Equal(_repo, payload["prStatus"]!["cwd"]!.GetValue<string>());

        // A commit made by someone else (git on the command line) is seen too.
        GitRepos.Git(_repo, "add", "-A");
        GitRepos.Git(_repo, "commit", "-q", "-m", "added");
        await _client.ExpectSessionAsync("checkout_status_update", p => p["isDirty"]?.GetValue<bool>() == false && p["aheadOfOrigin"]?.GetValue<long>() == 1);
    }

    [SkippableFact]
    public async Task A_repository_whose_git_hangs_times_out_with_a_clear_error_and_stalls_nothing_else()
    {
        // git status runs the configured fsmonitor hook; this one never answers.
        var hook = _daemon.TestHome.PathIn("hang.sh");
        var marker = $"600.{Random.Shared.Next(1000, 9999)}";
        File.WriteAllText(hook, $"#!/bin/sh\nsleep {marker}\n");
        File.SetUnixFileMode(hook, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var hanging = GitRepos.Init(_daemon.TestHome.PathIn("hanging"));
        GitRepos.Git(hanging, "config", "core.fsmonitor", hook);

        var hangingId = await _client.SendSessionAsync("checkout_status_request", new JsonObject { ["cwd"] = hanging });
        // Meanwhile the session answers other requests at once.
        var healthy = await StatusAsync(_repo);
        Assert.Null(healthy["error"]);
        var pong = await _client.RequestAsync("ping", new JsonObject());
        Assert.NotNull(ProtocolClient.Payload(pong, "pong"));
        Assert.DoesNotContain(_client.Received, f => ProtocolClient.Payload(f, "checkout_status_response")?["requestId"]?.GetValue<string>() == hangingId);

        var answer = ProtocolClient.Payload(await _client.ExpectSessionAsync("checkout_status_response", p => p["requestId"]?.GetValue<string>() == hangingId), "checkout_status_response")!;
        WireShapes.CheckoutStatus(answer);
        Assert.False(answer["isGit"]!.GetValue<bool>());
        Assert.Equal("UNKNOWN", answer["error"]!["code"]!.GetValue<string>());
        Assert.StartsWith("Git command timed out after 3000ms: git status", answer["error"]!["message"]!.GetValue<string>());
        // The hook was killed with git: no sleeper left behind.
        await Eventually.HoldsAsync(() => !System.Diagnostics.Process.GetProcessesByName("sleep").Any(p => CommandLine(p.Id).Contains(marker)), "the hanging hook is gone");
    }

    private static string CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '); }
        catch (IOException) { return ""; }
    }
}
