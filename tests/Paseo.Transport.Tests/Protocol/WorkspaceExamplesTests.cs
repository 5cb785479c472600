using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Paseo.Transport.Git;
using Paseo.Transport.Workspaces;

namespace Paseo.Transport.Tests.Protocol;

/// <summary>The deterministic examples of app-workspaces.md §8, byte for byte (the JSON texts are the spec's, copied here).</summary>
public sealed class WorkspaceExamplesTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.Parse("2026-05-03T07:00:00Z");

    private static WorkspaceRegistry Registry()
    {
        var registry = WorkspaceRegistry.Empty;
        registry = registry.Register(new Membership("/home/dev/shop", "local_checkout", "main", "git", "/home/dev/shop", "remote:github.com/acme/shop", "acme/shop"), At).Registry;
        registry = registry.RegisterWorktree("/home/dev/.paseo/worktrees/3j3ikl2p/fix-login", "/home/dev/shop", "/home/dev/shop", "fix-login", At).Registry;
        registry = registry.Register(Membership.Of(CheckoutFacts.NotGit("/home/dev/notes")), At).Registry;
        return registry;
    }

    [Fact]
    public void E1_the_directory_and_worktree_workspaces()
    {
        var registry = Registry();
        var notes = WorkspaceDescriptors.Build(registry, registry.Workspaces["/home/dev/notes"], "done", null);
        Assert.Equal("""{"id":"/home/dev/notes","projectId":"/home/dev/notes","projectDisplayName":"notes","projectRootPath":"/home/dev/notes","workspaceDirectory":"/home/dev/notes","projectKind":"non_git","workspaceKind":"directory","name":"notes","archivingAt":null,"status":"done","activityAt":null,"diffStat":null,"scripts":[],"project":{"projectKey":"/home/dev/notes","projectName":"notes","checkout":{"cwd":"/home/dev/notes","isGit":false,"currentBranch":null,"remoteUrl":null,"worktreeRoot":null,"isPaseoOwnedWorktree":false,"mainRepoRoot":null}}}""",
            notes.ToJsonString());
        var worktree = WorkspaceDescriptors.Build(registry, registry.Workspaces["/home/dev/.paseo/worktrees/3j3ikl2p/fix-login"], "needs_input", null);
        Assert.Equal("""{"id":"/home/dev/.paseo/worktrees/3j3ikl2p/fix-login","projectId":"remote:github.com/acme/shop","projectDisplayName":"acme/shop","projectRootPath":"/home/dev/shop","workspaceDirectory":"/home/dev/.paseo/worktrees/3j3ikl2p/fix-login","projectKind":"git","workspaceKind":"worktree","name":"fix-login","archivingAt":null,"status":"needs_input","activityAt":null,"diffStat":null,"scripts":[],"project":{"projectKey":"remote:github.com/acme/shop","projectName":"acme/shop","checkout":{"cwd":"/home/dev/.paseo/worktrees/3j3ikl2p/fix-login","isGit":true,"currentBranch":"fix-login","remoteUrl":null,"worktreeRoot":"/home/dev/.paseo/worktrees/3j3ikl2p/fix-login","isPaseoOwnedWorktree":true,"mainRepoRoot":"/home/dev/shop"}}}""",
            worktree.ToJsonString());
    }

    [Fact]
    public void E2_checkout_status_and_its_update_with_the_pull_request()
    {
        var snapshot = new CheckoutSnapshot(true, "/home/dev/shop", null, "feature/cart", "git@github.com:acme/shop.git", false, true, "main", new AheadBehind(3, 1), 3, 0, true, null, null);
        Assert.Equal("""{"cwd":"/home/dev/shop","isGit":true,"isPaseoOwnedWorktree":false,"repoRoot":"/home/dev/shop","mainRepoRoot":null,"currentBranch":"feature/cart","isDirty":true,"baseRef":"main","aheadBehind":{"ahead":3,"behind":1},"aheadOfOrigin":3,"behindOfOrigin":0,"hasRemote":true,"remoteUrl":"git@github.com:acme/shop.git","error":null,"requestId":"7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5"}""",
            snapshot.ToStatusJson("/home/dev/shop", "7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5").ToJsonString());

        var pr = GitHubCli.MapPullRequest(JsonNode.Parse("""
            {"number":42,"url":"https://github.com/acme/shop/pull/42","title":"Fix cart totals","state":"OPEN","isDraft":false,"baseRefName":"main",
             "headRefName":"feature/cart","mergedAt":null,"reviewDecision":"APPROVED","statusCheckRollup":[{"__typename":"CheckRun","name":"test","status":"COMPLETED",
             "conclusion":"SUCCESS","workflowName":"CI","detailsUrl":"https://github.com/acme/shop/actions/runs/1","startedAt":"2026-05-03T07:00:00Z","completedAt":"2026-05-03T07:02:05Z"}]}
            """)!.AsObject());
        var after = snapshot with { IsDirty = false, AheadBehind = new AheadBehind(4, 1), AheadOfOrigin = 4, GitHubEnabled = true, PullRequestJson = pr.ToJsonString() };
        var update = after.ToStatusJson("/home/dev/shop", "subscription:/home/dev/shop");
        update["prStatus"] = after.PrStatusJson("/home/dev/shop", "subscription:/home/dev/shop");
        Assert.Equal("""{"cwd":"/home/dev/shop","isGit":true,"isPaseoOwnedWorktree":false,"repoRoot":"/home/dev/shop","mainRepoRoot":null,"currentBranch":"feature/cart","isDirty":false,"baseRef":"main","aheadBehind":{"ahead":4,"behind":1},"aheadOfOrigin":4,"behindOfOrigin":0,"hasRemote":true,"remoteUrl":"git@github.com:acme/shop.git","error":null,"requestId":"subscription:/home/dev/shop","prStatus":{"cwd":"/home/dev/shop","status":{"number":42,"url":"https://github.com/acme/shop/pull/42","title":"Fix cart totals","state":"open","repoOwner":"acme","repoName":"shop","baseRefName":"main","headRefName":"feature/cart","isMerged":false,"isDraft":false,"checks":[{"name":"test","status":"success","url":"https://github.com/acme/shop/actions/runs/1","workflow":"CI","duration":"2m 5s"}],"checksStatus":"success","reviewDecision":"approved"},"githubFeaturesEnabled":true,"error":null,"requestId":"subscription:/home/dev/shop"}}""",
            update.ToJsonString());
    }

    [Fact]
    public void Registry_files_round_trip_and_a_damaged_one_is_named()
    {
        using var dir = new TempDir();
        var registry = Registry();
        WorkspaceRegistryFiles.Save(dir.Path, registry);
        var loaded = WorkspaceRegistryFiles.Load(dir.Path)!;
        Assert.Equal(registry.Workspaces.Values, loaded.Workspaces.Values);
        Assert.Equal(registry.Projects.Values, loaded.Projects.Values);
        File.WriteAllText(Path.Combine(dir.Path, "projects.json"), "[{\"projectId\":\"x\",\"rootPath\":\"/x\",\"kind\":\"git\",\"displayName\":\"x\",\"createdAt\":\"2026-05-03T07:00:00.000Z\",\"updatedAt\":\"2026-05-03T07:00:00.000Z\",\"archivedAt\":null,\"extra\":1}]");
        var e = Assert.Throws<WorkspaceRegistryFileException>(() => WorkspaceRegistryFiles.Load(dir.Path));
        Assert.Contains("projects.json: record [0]: unknown key \"extra\"", e.Message);
        File.Delete(Path.Combine(dir.Path, "projects.json"));
        Assert.Null(WorkspaceRegistryFiles.Load(dir.Path));
    }

    [Fact]
    public void Placement_of_an_agent_follows_the_registry()
    {
        var registry = Registry();
        Assert.Equal("remote:github.com/acme/shop", registry.PlacementFor("/home/dev/shop/src")["projectKey"]!.GetValue<string>());
        Assert.Equal("/home/dev/shop", registry.PlacementFor("/home/dev/shop/src")["checkout"]!["cwd"]!.GetValue<string>());
        Assert.Equal("/elsewhere", registry.PlacementFor("/elsewhere/")["projectKey"]!.GetValue<string>());
        var archived = registry.Archive("/home/dev/notes", At);
        Assert.True(archived.Projects["/home/dev/notes"].Archived);
        Assert.DoesNotContain(archived.Listed, w => w.WorkspaceId == "/home/dev/notes");
        Assert.Equal(ImmutableDictionary<string, DateTimeOffset>.Empty, archived.Archiving);
    }
}
