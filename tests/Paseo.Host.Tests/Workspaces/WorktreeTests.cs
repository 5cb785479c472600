using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Git;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>Paseo's worktrees (app-workspaces.md §4) made from a real repository: create with paseo.json setup, list, archive with teardown.</summary>
public sealed class WorktreeTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _repo = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        _daemon = await InProcessDaemon.StartAsync();
        _repo = GitRepos.Init(_daemon.TestHome.PathIn("shop"));
        // Not committed: Paseo copies the repository's paseo.json into a worktree that lacks it.
        File.WriteAllText(Path.Combine(_repo, "paseo.json"), new JsonObject
        {
            ["worktree"] = new JsonObject
            {
                ["setup"] = new JsonArray("echo preparing $PASEO_BRANCH_NAME", "printf '%s' \"$PASEO_WORKTREE_PATH\" > setup-ran.txt"),
                ["teardown"] = "printf '%s' \"$PASEO_BRANCH_NAME\" > \"$PASEO_ROOT_PATH/../teardown-ran.txt\"",
            },
        }.ToJsonString());
        File.WriteAllText(Path.Combine(_repo, ".gitignore"), "paseo.json\nsetup-ran.txt\n");
        GitRepos.Git(_repo, "add", ".gitignore");
        GitRepos.Git(_repo, "commit", "-q", "-m", "ignore");
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await _client.RequestAsync("fetch_workspaces_request", new JsonObject { ["subscribe"] = new JsonObject() });
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> Reply(string type, JsonObject fields, string responseType) =>
        ProtocolClient.Payload(await _client.RequestAsync(type, fields), responseType) ?? throw new Xunit.Sdk.XunitException($"no {responseType}: {_client.Received.Last().ToJsonString()}");

    private async Task<JsonObject> CreateAsync(string slug, string? prompt = "Fix login")
    {
        var fields = new JsonObject { ["cwd"] = _repo, ["worktreeSlug"] = slug, ["action"] = "branch-off", ["refName"] = "main" };
        if (prompt is not null) fields["firstAgentContext"] = new JsonObject { ["prompt"] = prompt };
        return await Reply("create_paseo_worktree_request", fields, "create_paseo_worktree_response");
    }

    [SkippableFact]
    public async Task A_worktree_is_created_set_up_listed_and_seen_as_Paseos()
    {
        var created = await CreateAsync("brave-otter");
        Assert.Null(created["error"]);
        Assert.True(created.ContainsKey("setupTerminalId") && created["setupTerminalId"] is null);
        var workspace = created["workspace"]!.AsObject();
        WireShapes.Workspace(workspace);
        var expected = Path.Combine(_daemon.TestHome.Home.WorktreesDir, WorktreeNames.RepoHash(_repo), "brave-otter");
        Assert.Equal(expected, workspace["id"]!.GetValue<string>());
        Assert.Equal("fix-login", workspace["name"]!.GetValue<string>());
        Assert.Equal("worktree", workspace["workspaceKind"]!.GetValue<string>());
        Assert.False(workspace.ContainsKey("project"));
        Assert.True(workspace["gitRuntime"]!["isPaseoOwnedWorktree"]!.GetValue<bool>());
        Assert.Equal(_repo, workspace["projectRootPath"]!.GetValue<string>());

        await _client.ExpectSessionAsync("workspace_update", p => p["workspace"]?["id"]?.GetValue<string>() == expected);
        var done = ProtocolClient.Payload(await _client.ExpectSessionAsync("workspace_setup_progress", p => p["status"]?.GetValue<string>() == "completed"), "workspace_setup_progress")!;
        Assert.Equal(expected, done["workspaceId"]!.GetValue<string>());
        var commands = done["detail"]!["commands"]!.AsArray();
        Assert.Equal(2, commands.Count);
        Assert.Equal("preparing fix-login", commands[0]!["log"]!.GetValue<string>());
        Assert.Equal(0, commands[0]!["exitCode"]!.GetValue<int>());
        Assert.Equal("worktree_setup", done["detail"]!["type"]!.GetValue<string>());
        Assert.Contains("==> [1/2] Running: echo preparing $PASEO_BRANCH_NAME", done["detail"]!["log"]!.GetValue<string>());
        Assert.Equal(expected, File.ReadAllText(Path.Combine(expected, "setup-ran.txt")));
        var status = await Reply("workspace_setup_status_request", new JsonObject { ["workspaceId"] = expected }, "workspace_setup_status_response");
        Assert.Equal("completed", status["snapshot"]!["status"]!.GetValue<string>());
        var none = await Reply("workspace_setup_status_request", new JsonObject { ["workspaceId"] = _repo }, "workspace_setup_status_response");
        Assert.Null(none["snapshot"]);

        var checkout = await Reply("checkout_status_request", new JsonObject { ["cwd"] = expected }, "checkout_status_response");
        WireShapes.CheckoutStatus(checkout);
        Assert.True(checkout["isPaseoOwnedWorktree"]!.GetValue<bool>());
        Assert.Equal("main", checkout["baseRef"]!.GetValue<string>());
        Assert.Equal(_repo, checkout["mainRepoRoot"]!.GetValue<string>());
        Assert.Equal("fix-login", checkout["currentBranch"]!.GetValue<string>());

        var list = await Reply("paseo_worktree_list_request", new JsonObject { ["cwd"] = _repo }, "paseo_worktree_list_response");
        var listed = list["worktrees"]!.AsArray().Single()!;
        Assert.Equal(expected, listed["worktreePath"]!.GetValue<string>());
        Assert.Equal("fix-login", listed["branchName"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{40}$", listed["head"]!.GetValue<string>());

        // The same slug again: reused, no git and no setup.
        var again = await CreateAsync("brave-otter", prompt: null);
        Assert.Equal(expected, again["workspace"]!["id"]!.GetValue<string>());
        Assert.Single((await Reply("paseo_worktree_list_request", new JsonObject { ["repoRoot"] = _repo }, "paseo_worktree_list_response"))["worktrees"]!.AsArray());
    }

    [SkippableFact]
    public async Task Archive_refuses_a_dirty_worktree_then_tears_down_removes_and_deletes_its_agents()
    {
        var path = (await CreateAsync("calm-heron"))["workspace"]!["id"]!.GetValue<string>();
        await _client.ExpectSessionAsync("workspace_setup_progress", p => p["status"]?.GetValue<string>() == "completed");
        var agent = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = path },
        }), "status")!;
        var agentId = agent["agentId"]!.GetValue<string>();

        File.WriteAllText(Path.Combine(path, "work.txt"), "unsaved work\n");
        var refused = await Reply("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = path }, "paseo_worktree_archive_response");
        Assert.False(refused["success"]!.GetValue<bool>());
        Assert.Contains("uncommitted changes", refused["error"]!["message"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(path, "work.txt")));
        Assert.Equal(agentId, ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = agentId }), "fetch_agent_response")!["agent"]!["id"]!.GetValue<string>());
        File.Delete(Path.Combine(path, "work.txt"));

        // agent_deleted carries the archive's requestId too: the reply is matched by its type.
        var archiveId = await _client.SendSessionAsync("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = path });
        var archived = ProtocolClient.Payload(await _client.ExpectSessionAsync("paseo_worktree_archive_response", p => p["requestId"]?.GetValue<string>() == archiveId), "paseo_worktree_archive_response")!;
        Assert.True(archived["success"]!.GetValue<bool>(), archived.ToJsonString());
        Assert.Equal(new[] { agentId }, archived["removedAgents"]!.AsArray().Select(a => a!.GetValue<string>()).ToArray());
        Assert.False(Directory.Exists(path));
        Assert.Equal("fix-login", File.ReadAllText(_daemon.TestHome.PathIn("teardown-ran.txt")));
        Assert.DoesNotContain(path, GitRepos.Git(_repo, "worktree", "list"));
        await _client.ExpectSessionAsync("agent_deleted", p => p["agentId"]?.GetValue<string>() == agentId && p["requestId"]?.GetValue<string>() == archiveId);
        await _client.ExpectSessionAsync("workspace_update", p => p["kind"]?.GetValue<string>() == "remove" && p["id"]?.GetValue<string>() == path);

        // Inside a worktree, or a directory that only looks like one: never removed.
        var other = (await CreateAsync("other-one", prompt: null))["workspace"]!["id"]!.GetValue<string>();
        Directory.CreateDirectory(Path.Combine(other, "sub"));
        var inside = await Reply("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = Path.Combine(other, "sub") }, "paseo_worktree_archive_response");
        Assert.Equal("NOT_ALLOWED", inside["error"]!["code"]!.GetValue<string>());
        var lookalike = Path.Combine(_daemon.TestHome.Home.WorktreesDir, "abcdefgh", "lookalike");
        Directory.CreateDirectory(lookalike);
        var fake = await Reply("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = lookalike, ["force"] = true }, "paseo_worktree_archive_response");
        Assert.False(fake["success"]!.GetValue<bool>());
        Assert.True(Directory.Exists(lookalike));
        Assert.True(Directory.Exists(Path.Combine(other, "sub")));
        Directory.Delete(Path.Combine(other, "sub"));
        // Told to, a worktree with uncommitted work goes all the same.
        File.WriteAllText(Path.Combine(other, "draft.txt"), "unsaved\n");
        var forcedId = await _client.SendSessionAsync("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = other, ["force"] = true });
        var forced = ProtocolClient.Payload(await _client.ExpectSessionAsync("paseo_worktree_archive_response", p => p["requestId"]?.GetValue<string>() == forcedId), "paseo_worktree_archive_response")!;
        Assert.True(forced["success"]!.GetValue<bool>(), forced.ToJsonString());
        Assert.False(Directory.Exists(other));
        var injected = await Reply("create_paseo_worktree_request", new JsonObject { ["cwd"] = _repo, ["action"] = "checkout", ["refName"] = "--upload-pack=touch /tmp/pwned" }, "create_paseo_worktree_response");
        Assert.Equal("Invalid branch: --upload-pack=touch /tmp/pwned", injected["error"]!.GetValue<string>());

        var notOurs = await Reply("paseo_worktree_archive_request", new JsonObject { ["worktreePath"] = _repo }, "paseo_worktree_archive_response");
        Assert.Equal("NOT_ALLOWED", notOurs["error"]!["code"]!.GetValue<string>());
        Assert.Equal("Worktree is not a Paseo-owned worktree", notOurs["error"]!["message"]!.GetValue<string>());
        Assert.True(Directory.Exists(_repo));
        var archiveWorkspace = await Reply("archive_workspace_request", new JsonObject { ["workspaceId"] = path }, "archive_workspace_response");
        Assert.NotNull(archiveWorkspace["error"]);
    }

    [SkippableFact]
    public async Task A_failing_setup_is_reported_and_an_agent_can_be_made_in_a_new_worktree()
    {
        File.WriteAllText(Path.Combine(_repo, "paseo.json"), """{"worktree":{"setup":["echo first","echo broken >&2; exit 3","echo never"]}}""");
        var created = await CreateAsync("sad-panda", prompt: null);
        var failed = ProtocolClient.Payload(await _client.ExpectSessionAsync("workspace_setup_progress", p => p["status"]?.GetValue<string>() == "failed"), "workspace_setup_progress")!;
        Assert.Equal("Worktree setup command failed: echo broken >&2; exit 3\nbroken", failed["error"]!.GetValue<string>());
        Assert.Equal(2, failed["detail"]!["commands"]!.AsArray().Count);
        Assert.Equal(3, failed["detail"]!["commands"]![1]!["exitCode"]!.GetValue<int>());
        Assert.NotNull(created["workspace"]);

        var agent = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _repo },
            ["git"] = new JsonObject { ["createWorktree"] = true, ["createNewBranch"] = true, ["newBranchName"] = "Agent Branch", ["baseBranch"] = "main" },
        }), "status")!;
        Assert.Equal("agent_created", agent["status"]!.GetValue<string>());
        var cwd = agent["agent"]!["cwd"]!.GetValue<string>();
        Assert.StartsWith(_daemon.TestHome.Home.WorktreesDir, cwd);
        Assert.Equal("agent-branch", GitRepos.Git(cwd, "branch", "--show-current").Trim());
        await _client.ExpectSessionAsync("workspace_update", p => p["workspace"]?["workspaceDirectory"]?.GetValue<string>() == cwd);
        // Its setup (failing here) is reported in the agent's own timeline: live rows while it runs, then one committed row.
        var agentId = agent["agentId"]!.GetValue<string>();
        JsonObject? setupRow = null;
        await Eventually.HoldsAsync(async () =>
        {
            var timeline = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_timeline_request", new JsonObject { ["agentId"] = agentId, ["projection"] = "canonical" }),
                "fetch_agent_timeline_response")!;
            setupRow = timeline["entries"]!.AsArray().Select(e => e!["item"]!.AsObject()).FirstOrDefault(i => i["name"]?.GetValue<string>() == "paseo_worktree_setup");
            return setupRow is not null;
        }, "the setup row is committed to the agent's timeline");
        WireShapes.TimelineItem(setupRow);
        Assert.Equal("failed", setupRow!["status"]!.GetValue<string>());
        Assert.StartsWith("Worktree setup command failed: echo broken", setupRow["error"]!["message"]!.GetValue<string>());
        Assert.Equal("worktree_setup", setupRow["detail"]!["type"]!.GetValue<string>());
        Assert.Equal(cwd, setupRow["detail"]!["worktreePath"]!.GetValue<string>());

        var bad = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _repo },
            ["git"] = new JsonObject { ["createWorktree"] = true, ["baseBranch"] = "no-such-base" },
        }), "status")!;
        Assert.Equal("agent_create_failed", bad["status"]!.GetValue<string>());
        Assert.Equal("Base branch not found: no-such-base", bad["error"]!.GetValue<string>());
        Assert.Equal("unknown", bad["errorCode"]!.GetValue<string>());

        var notGit = await Reply("create_paseo_worktree_request", new JsonObject { ["cwd"] = _daemon.TestHome.Root }, "create_paseo_worktree_response");
        Assert.Equal("Create worktree requires a git repository", notGit["error"]!.GetValue<string>());
        Assert.Null(notGit["workspace"]);
        var checkoutWithoutRef = await Reply("create_paseo_worktree_request", new JsonObject { ["cwd"] = _repo, ["action"] = "checkout" }, "create_paseo_worktree_response");
        Assert.Equal("missing_checkout_target", checkoutWithoutRef["errorCode"]!.GetValue<string>());
        var emptyRef = await _client.RequestAsync("create_paseo_worktree_request", new JsonObject { ["cwd"] = _repo, ["refName"] = "" });
        Assert.Equal("unknown_schema", emptyRef["message"]!["payload"]!["code"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task An_agents_worktree_opens_its_paseo_json_terminals_after_setup()
    {
        TerminalSupport.Require();
        File.WriteAllText(Path.Combine(_repo, "paseo.json"), """{"worktree":{"setup":"echo ready","terminals":[{"name":"branch","command":"echo on-$PASEO_BRANCH_NAME"},{"command":"  "}]}}""");
        var agent = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _repo },
            ["git"] = new JsonObject { ["createWorktree"] = true, ["createNewBranch"] = true, ["newBranchName"] = "term-branch", ["baseBranch"] = "main" },
        }), "status")!;
        var cwd = agent["agent"]!["cwd"]!.GetValue<string>();
        // One terminal (the blank command is skipped), in the worktree, named as configured, the command typed into its shell.
        JsonObject? terminal = null;
        await Eventually.HoldsAsync(async () =>
        {
            var listed = ProtocolClient.Payload(await _client.RequestAsync("list_terminals_request", new JsonObject { ["cwd"] = cwd }), "list_terminals_response")!;
            terminal = listed["terminals"]!.AsArray().SingleOrDefault()?.AsObject();
            return terminal is not null;
        }, "the worktree's terminal is open");
        Assert.Equal("branch", terminal!["name"]!.GetValue<string>());
        var id = terminal["id"]!.GetValue<string>();
        await Eventually.HoldsAsync(async () => ProtocolClient.Payload(await _client.RequestAsync("capture_terminal_request", new JsonObject { ["terminalId"] = id }),
            "capture_terminal_response")!["lines"]!.AsArray().Any(l => l!.GetValue<string>() == "on-term-branch"), "the command ran with the worktree's environment");
    }
}
