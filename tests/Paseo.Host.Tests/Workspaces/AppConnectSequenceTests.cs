using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>
/// The phone app's connect sequence (app-workspaces.md §0.1) replayed over a real socket against a daemon with three agents:
/// one in a git repository with a GitHub origin, one in a sub-directory of a second repository, one in a plain directory.
/// </summary>
public sealed class AppConnectSequenceTests : IAsyncLifetime
{
    private TestHome _home = null!;
    private InProcessDaemon _daemon = null!;
    private string _shop = null!, _tools = null!, _notes = null!;

    public async Task InitializeAsync()
    {
        GitRepos.Require();
        _home = new TestHome();
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        _shop = GitRepos.Init(_daemon.TestHome.PathIn("shop"), origin: "git@github.com:acme/shop.git");
        _tools = GitRepos.Init(_daemon.TestHome.PathIn("tools"), branch: "develop");
        Directory.CreateDirectory(Path.Combine(_tools, "src"));
        _notes = _daemon.TestHome.PathIn("notes");
        Directory.CreateDirectory(_notes);
        var (setup, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using (setup)
            foreach (var cwd in new[] { _shop, Path.Combine(_tools, "src"), _notes })
                await CreateAgentAsync(setup, cwd);
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null) await _daemon.DisposeAsync();
        _home?.Dispose();
    }

    private static async Task<JsonObject> CreateAgentAsync(ProtocolClient client, string cwd, string? workspaceId = null)
    {
        var fields = new JsonObject { ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd } };
        if (workspaceId is not null) fields["workspaceId"] = workspaceId;
        var reply = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", fields), "status")!;
        Assert.True(reply["status"]!.GetValue<string>() == "agent_created", reply.ToJsonString());
        return reply["agent"]!.AsObject();
    }

    [SkippableFact]
    public async Task Every_connect_request_is_answered_and_every_agent_opens_in_a_workspace()
    {
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        // 2–4: sent synchronously on server_info, no requestId, no reply expected.
        await phone.SendAsync(Session(new JsonObject
        {
            ["type"] = "client_heartbeat", ["deviceType"] = "mobile", ["focusedAgentId"] = null, ["lastActivityAt"] = "2026-12-06T10:00:00.000Z",
            ["appVisible"] = true, ["appVisibilityChangedAt"] = "2026-12-06T10:00:00.000Z",
        }));
        await phone.SendAsync(Session(new JsonObject { ["type"] = "register_push_token", ["token"] = "ExponentPushToken[test]" }));
        // 5: the agents, subscribed.
        var agentsFrame = await phone.RequestAsync("fetch_agents_request", new JsonObject
        {
            ["scope"] = "active", ["sort"] = new JsonArray(new JsonObject { ["key"] = "updated_at", ["direction"] = "desc" }),
            ["subscribe"] = new JsonObject { ["subscriptionId"] = "app:server" }, ["page"] = new JsonObject { ["limit"] = 200 },
        });
        var agents = ProtocolClient.Payload(agentsFrame, "fetch_agents_response")!["entries"]!.AsArray();
        Assert.Equal(3, agents.Count);
        foreach (var entry in agents) WireShapes.Placement(entry!["project"]);
        // 6 and 7: providers, then workspaces (subscribed).
        Assert.NotNull(ProtocolClient.Payload(await phone.RequestAsync("get_providers_snapshot_request", new JsonObject()), "get_providers_snapshot_response"));
        var workspacesFrame = await phone.RequestAsync("fetch_workspaces_request", new JsonObject
        {
            ["sort"] = new JsonArray(new JsonObject { ["key"] = "activity_at", ["direction"] = "desc" }),
            ["subscribe"] = new JsonObject(), ["page"] = new JsonObject { ["limit"] = 200 },
        });
        var workspaces = ProtocolClient.Payload(workspacesFrame, "fetch_workspaces_response")!;
        Assert.Equal(System.Text.Json.JsonValueKind.String, workspaces["subscriptionId"]!.GetValueKind());
        WireShapes.PageInfo(workspaces["pageInfo"]);
        Assert.False(workspaces["pageInfo"]!["hasMore"]!.GetValue<bool>());
        var entries = workspaces["entries"]!.AsArray().Select(e => e!.AsObject()).ToList();
        foreach (var entry in entries) WireShapes.Workspace(entry);
        // 8: the probe.
        Assert.NotNull(ProtocolClient.Payload(await phone.RequestAsync("ping", new JsonObject { ["clientSentAt"] = 1 }), "pong"));

        // The app opens an agent only in a workspace whose directory equals its cwd.
        foreach (var entry in agents)
        {
            var cwd = entry!["agent"]!["cwd"]!.GetValue<string>();
            Assert.Contains(entries, w => w["workspaceDirectory"]!.GetValue<string>() == cwd);
        }
        var shop = entries.Single(w => w["workspaceDirectory"]!.GetValue<string>() == _shop);
        Assert.Equal("remote:github.com/acme/shop", shop["projectId"]!.GetValue<string>());
        Assert.Equal("acme/shop", shop["projectDisplayName"]!.GetValue<string>());
        Assert.Equal("git", shop["projectKind"]!.GetValue<string>());
        Assert.Equal("local_checkout", shop["workspaceKind"]!.GetValue<string>());
        Assert.Equal("main", shop["name"]!.GetValue<string>());
        var shopAgent = agents.Single(a => a!["agent"]!["cwd"]!.GetValue<string>() == _shop)!;
        Assert.Equal("remote:github.com/acme/shop", shopAgent["project"]!["projectKey"]!.GetValue<string>());
        Assert.True(shopAgent["project"]!["checkout"]!["isGit"]!.GetValue<bool>());
        var toolsSub = entries.Single(w => w["workspaceDirectory"]!.GetValue<string>() == Path.Combine(_tools, "src"));
        Assert.Equal(_tools, toolsSub["projectRootPath"]!.GetValue<string>());
        Assert.Equal("git", toolsSub["projectKind"]!.GetValue<string>());
        var notes = entries.Single(w => w["workspaceDirectory"]!.GetValue<string>() == _notes);
        Assert.Equal("non_git", notes["projectKind"]!.GetValue<string>());
        Assert.Equal("directory", notes["workspaceKind"]!.GetValue<string>());
        Assert.Equal("notes", notes["name"]!.GetValue<string>());

        // Nothing the app sent was refused.
        Assert.DoesNotContain(phone.Received, f => ProtocolClient.MessageType(f) == "rpc_error" || ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "error");

        // A new agent in a new directory, and open_project, each push the workspace.
        var fresh = _daemon.TestHome.PathIn("fresh");
        Directory.CreateDirectory(fresh);
        var (other, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using (other) await CreateAgentAsync(other, fresh);
        var pushed = await phone.ExpectSessionAsync("workspace_update", p => p["kind"]?.GetValue<string>() == "upsert" && p["workspace"]?["workspaceDirectory"]?.GetValue<string>() == fresh);
        WireShapes.Workspace(ProtocolClient.Payload(pushed, "workspace_update")!["workspace"]);

        var opened = GitRepos.Init(_daemon.TestHome.PathIn("opened"));
        var openId = await phone.SendSessionAsync("open_project_request", new JsonObject { ["cwd"] = Path.Combine(opened, ".") });
        var push = await phone.ExpectSessionAsync("workspace_update", p => p["workspace"]?["workspaceDirectory"]?.GetValue<string>() == opened);
        var reply = await phone.ExpectSessionAsync("open_project_response", p => p["requestId"]?.GetValue<string>() == openId);
        Assert.True(phone.Received.IndexOf(push) < phone.Received.IndexOf(reply), "the workspace_update goes out before open_project_response");
        var openPayload = ProtocolClient.Payload(reply, "open_project_response")!;
        Assert.Null(openPayload["error"]);
        WireShapes.Workspace(openPayload["workspace"]);
        Assert.Equal(opened, openPayload["workspace"]!["id"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Subscribing_reconciles_a_vanished_directory_and_a_changed_branch()
    {
        Directory.Delete(_notes, recursive: true);
        GitRepos.Git(_shop, "checkout", "-q", "-b", "feature/cart");
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["subscribe"] = new JsonObject() });
        await phone.ExpectSessionAsync("workspace_update", p => p["kind"]?.GetValue<string>() == "remove" && p["id"]?.GetValue<string>() == _notes);
        await phone.ExpectSessionAsync("workspace_update", p => p["workspace"]?["id"]?.GetValue<string>() == _shop && p["workspace"]?["name"]?.GetValue<string>() == "feature/cart"
            && p["workspace"]?["project"]?["checkout"]?["currentBranch"]?.GetValue<string>() == "feature/cart");
        var listed = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]!.AsArray();
        Assert.DoesNotContain(listed, w => w!["id"]!.GetValue<string>() == _notes);
    }

    [SkippableFact]
    public async Task Workspaces_page_with_cursors_and_filter()
    {
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        var sort = new JsonArray(new JsonObject { ["key"] = "name", ["direction"] = "asc" });
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = new JsonObject { ["limit"] = 1 };
            if (cursor is not null) page["cursor"] = cursor;
            var payload = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["sort"] = sort.DeepClone(), ["page"] = page }), "fetch_workspaces_response")!;
            Assert.Equal(cursor, payload["pageInfo"]!["prevCursor"]?.GetValue<string>());
            seen.AddRange(payload["entries"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()));
            cursor = payload["pageInfo"]!["nextCursor"]?.GetValue<string>();
            Assert.Equal(cursor is not null, payload["pageInfo"]!["hasMore"]!.GetValue<bool>());
        } while (cursor is not null);
        Assert.Equal(3, seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal).ToList(), seen);

        var filtered = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject
        {
            ["filter"] = new JsonObject { ["projectId"] = "remote:github.com/acme/shop" },
        }), "fetch_workspaces_response")!;
        Assert.Single(filtered["entries"]!.AsArray());

        var bad = await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["page"] = new JsonObject { ["limit"] = 10, ["cursor"] = "not-a-cursor" } });
        Assert.Equal("invalid_cursor", bad["message"]!["payload"]!["code"]!.GetValue<string>());
        var mismatched = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject
        {
            ["sort"] = sort.DeepClone(), ["page"] = new JsonObject { ["limit"] = 1 },
        }), "fetch_workspaces_response")!["pageInfo"]!["nextCursor"]!.GetValue<string>();
        var wrongSort = await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["page"] = new JsonObject { ["limit"] = 1, ["cursor"] = mismatched } });
        Assert.Equal("fetch_workspaces cursor does not match current sort", wrongSort["message"]!["payload"]!["error"]!.GetValue<string>());
        foreach (var invalid in new JsonObject[]
                 {
                     new() { ["sort"] = new JsonArray(new JsonObject { ["key"] = "updated_at", ["direction"] = "desc" }) },
                     new() { ["page"] = new JsonObject { ["limit"] = 201 } },
                 })
        {
            var refused = await phone.RequestAsync("fetch_workspaces_request", invalid);
            Assert.Equal("unknown_schema", refused["message"]!["payload"]!["code"]!.GetValue<string>());
        }
    }

    [SkippableFact]
    public async Task Archiving_a_workspace_removes_it_and_open_project_brings_it_back()
    {
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["subscribe"] = new JsonObject { ["subscriptionId"] = "s1" } });
        var archived = ProtocolClient.Payload(await phone.RequestAsync("archive_workspace_request", new JsonObject { ["workspaceId"] = _notes }), "archive_workspace_response")!;
        Assert.Null(archived["error"]);
        Assert.Equal(_notes, archived["workspaceId"]!.GetValue<string>());
        Assert.NotNull(archived["archivedAt"]);
        await phone.ExpectSessionAsync("workspace_update", p => p["kind"]?.GetValue<string>() == "remove" && p["id"]?.GetValue<string>() == _notes);
        var listed = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]!.AsArray();
        Assert.DoesNotContain(listed, w => w!["id"]!.GetValue<string>() == _notes);
        // The agent in it is not archived.
        var agents = ProtocolClient.Payload(await phone.RequestAsync("fetch_agents_request", new JsonObject()), "fetch_agents_response")!["entries"]!.AsArray();
        Assert.Contains(agents, a => a!["agent"]!["cwd"]!.GetValue<string>() == _notes && a["agent"]!["archivedAt"] is null);

        var unknown = ProtocolClient.Payload(await phone.RequestAsync("archive_workspace_request", new JsonObject { ["workspaceId"] = "/nowhere" }), "archive_workspace_response")!;
        Assert.Equal("Workspace not found: /nowhere", unknown["error"]!.GetValue<string>());
        Assert.Null(unknown["archivedAt"]);

        await phone.RequestAsync("open_project_request", new JsonObject { ["cwd"] = _notes });
        await phone.ExpectSessionAsync("workspace_update", p => p["kind"]?.GetValue<string>() == "upsert" && p["workspace"]?["id"]?.GetValue<string>() == _notes);

        // An unknown workspaceId on create_agent is refused with Paseo's words.
        var failed = ProtocolClient.Payload(await phone.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _notes }, ["workspaceId"] = "/no/such/workspace",
        }), "status")!;
        Assert.Equal("agent_create_failed", failed["status"]!.GetValue<string>());
        Assert.Equal("Workspace not found: /no/such/workspace", failed["error"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task The_registry_is_written_in_Paseos_format_and_rebuilt_from_the_agents_when_missing()
    {
        var projects = Path.Combine(_daemon.TestHome.Home.ProjectsDir, "projects.json");
        var workspacesFile = Path.Combine(_daemon.TestHome.Home.ProjectsDir, "workspaces.json");
        await Eventually.HoldsAsync(() => File.Exists(workspacesFile) && File.ReadAllText(workspacesFile).Contains(_notes), "workspaces.json lists every agent's directory");
        Assert.Equal(Paseo.Transport.Files.PrivateFiles.FileMode600, File.GetUnixFileMode(workspacesFile));
        var records = JsonNode.Parse(File.ReadAllText(workspacesFile))!.AsArray();
        Assert.All(records, r => Assert.Equal(new[] { "workspaceId", "projectId", "cwd", "kind", "displayName", "createdAt", "updatedAt", "archivedAt" }, r!.AsObject().Select(p => p.Key).ToArray()));
        Assert.Contains("  {", File.ReadAllText(projects));

        var home = _daemon.TestHome;
        await _daemon.DisposeAsync();
        File.Delete(projects);
        File.Delete(workspacesFile);
        _daemon = await InProcessDaemon.StartAsync(existingHome: home);
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        await Eventually.HoldsAsync(async () =>
        {
            var entries = ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]!.AsArray();
            return entries.Count == 3;
        }, "the three workspaces are rebuilt from the stored agents");
    }

    [SkippableFact]
    public async Task A_damaged_registry_is_reported_and_left_untouched()
    {
        var workspacesFile = Path.Combine(_daemon.TestHome.Home.ProjectsDir, "workspaces.json");
        await Eventually.HoldsAsync(() => File.Exists(workspacesFile) && File.ReadAllText(workspacesFile).Contains(_notes), "the registry is written");
        var home = _daemon.TestHome;
        await _daemon.DisposeAsync();
        const string damaged = "[{\"workspaceId\": 5}]";
        File.WriteAllText(workspacesFile, damaged);
        _daemon = await InProcessDaemon.StartAsync(existingHome: home);
        var (phone, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await using var _ = phone;
        // The agents still open: the registry is rebuilt in memory from them.
        await Eventually.HoldsAsync(async () =>
            ProtocolClient.Payload(await phone.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]!.AsArray().Count == 3,
            "the agents' workspaces are served from memory");
        var open = ProtocolClient.Payload(await phone.RequestAsync("open_project_request", new JsonObject { ["cwd"] = _daemon.TestHome.Root }), "open_project_response")!;
        Assert.Null(open["workspace"]);
        Assert.Contains("workspaces.json", open["error"]!.GetValue<string>());
        Assert.Contains("\"workspaceId\" must be a non-empty string", open["error"]!.GetValue<string>());
        Assert.Equal(damaged, File.ReadAllText(workspacesFile));
    }

    private static JsonObject Session(JsonObject message) => new() { ["type"] = "session", ["message"] = message };
}
