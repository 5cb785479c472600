using System.Text.Json.Nodes;
using Paseo.Transport.Files;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Workspaces;

/// <summary>The Workspace object of fetch_workspaces, workspace_update and open_project (app-workspaces.md §2.4).</summary>
public static class WorkspaceDescriptors
{
    /// <summary>Most urgent first: needs_input, failed, running, attention, done.</summary>
    public static readonly string[] Buckets = ["needs_input", "failed", "running", "attention", "done"];

    public static string Bucket(AgentSnapshot agent) =>
        agent.PendingPermissions.Count > 0 || agent.AttentionReason == "permission" ? "needs_input"
        : agent.Status == AgentStatus.Error || agent.AttentionReason == "error" ? "failed"
        : agent.Status == AgentStatus.Running ? "running"
        : agent.RequiresAttention ? "attention"
        : "done";

    public static int Rank(string bucket) => Array.IndexOf(Buckets, bucket);

    /// <summary>The most urgent bucket of the non-archived agents whose directory is exactly the workspace's.</summary>
    public static string Status(WorkspaceRecord workspace, IEnumerable<AgentSnapshot> agents) =>
        StatusByDirectory(agents).GetValueOrDefault(workspace.Cwd, "done");

    /// <summary>Every directory's most urgent bucket among the non-archived agents in it (directories normalized).</summary>
    public static Dictionary<string, string> StatusByDirectory(IEnumerable<AgentSnapshot> agents)
    {
        var best = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var agent in agents)
        {
            if (agent.ArchivedAt is not null || !WorkspacePaths.TryNormalize(agent.Cwd, out var cwd)) continue;
            var rank = Rank(Bucket(agent));
            best[cwd] = best.TryGetValue(cwd, out var known) ? Math.Min(known, rank) : rank;
        }
        return best.ToDictionary(b => b.Key, b => Buckets[b.Value], StringComparer.Ordinal);
    }

    public static JsonObject Build(WorkspaceRegistry registry, WorkspaceRecord workspace, string status, CheckoutSnapshot? snapshot, DateTimeOffset? archivingAt = null,
        IEnumerable<ScriptState>? scripts = null)
    {
        var project = registry.ProjectOf(workspace);
        var gitProject = project?.Kind == "git";
        var name = snapshot is { IsGit: true } ? snapshot.CurrentBranch is { } b && b != "HEAD" ? b : WorkspacePaths.LastSegment(workspace.Cwd) : workspace.DisplayName;
        var json = new JsonObject
        {
            ["id"] = workspace.WorkspaceId,
            ["projectId"] = workspace.ProjectId,
            ["projectDisplayName"] = project?.DisplayName ?? workspace.ProjectId,
            ["projectRootPath"] = project?.RootPath ?? workspace.Cwd,
            ["workspaceDirectory"] = workspace.Cwd,
            ["projectKind"] = gitProject ? "git" : "non_git",
            ["workspaceKind"] = workspace.Kind,
            ["name"] = name,
            ["archivingAt"] = (archivingAt ?? registry.Archiving.GetValueOrDefault(workspace.WorkspaceId)) is { } archiving && archiving != default ? IsoTime.Format(archiving) : null,
            ["status"] = status,
            ["activityAt"] = null,
            ["diffStat"] = snapshot?.DiffStat?.ToJson(),
            ["scripts"] = new JsonArray([.. (scripts ?? []).Select(s => (JsonNode)s.ToJson())]),
        };
        if (snapshot is not null && gitProject)
        {
            if (snapshot.GitRuntime() is { } runtime) json["gitRuntime"] = runtime;
            json["githubRuntime"] = snapshot.GitHubRuntime();
        }
        if (project is not null) json["project"] = registry.Placement(workspace);
        return json;
    }
}
