using System.Collections.Immutable;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Workspaces;

/// <summary>A project (app-workspaces.md §2.1): `kind` is `git` or `non_git`.</summary>
public sealed record ProjectRecord(string ProjectId, string RootPath, string Kind, string DisplayName, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ArchivedAt)
{
    public bool Archived => ArchivedAt is not null;
}

/// <summary>A workspace (app-workspaces.md §2.1): `kind` is `local_checkout`, `worktree` or `directory`; its id is its directory.</summary>
public sealed record WorkspaceRecord(string WorkspaceId, string ProjectId, string Cwd, string Kind, string DisplayName, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ArchivedAt)
{
    public bool Archived => ArchivedAt is not null;
}

/// <summary>
/// The projects and workspaces the daemon knows, as one immutable value: the registry actor owns the current one and
/// hands it out whole, so a session or an agent reading it never sees half a change.
/// </summary>
public sealed record WorkspaceRegistry(ImmutableSortedDictionary<string, ProjectRecord> Projects, ImmutableSortedDictionary<string, WorkspaceRecord> Workspaces)
{
    public static readonly WorkspaceRegistry Empty = new(
        ImmutableSortedDictionary.Create<string, ProjectRecord>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<string, WorkspaceRecord>(StringComparer.Ordinal));

    /// <summary>Workspaces whose worktree is being archived right now, and since when (their descriptors carry `archivingAt`); never saved.</summary>
    public ImmutableDictionary<string, DateTimeOffset> Archiving { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty;

    private static readonly string UserHome = WorkspacePaths.Normalize(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } h ? h : "/");

    public ProjectRecord? ProjectOf(WorkspaceRecord workspace) => Projects.GetValueOrDefault(workspace.ProjectId);

    /// <summary>Listed by fetch_workspaces: not archived, and its project (when it has one on record) not archived.</summary>
    public bool IsListed(WorkspaceRecord workspace) => !workspace.Archived && ProjectOf(workspace) is not { Archived: true };

    public IEnumerable<WorkspaceRecord> Listed => Workspaces.Values.Where(IsListed);

    public WorkspaceRecord? WithCwd(string cwd) =>
        Workspaces.TryGetValue(cwd, out var byId) && byId.Cwd == cwd ? byId : Workspaces.Values.FirstOrDefault(w => w.Cwd == cwd);

    /// <summary>
    /// The workspace of an agent's (normalized) cwd (§2.3 step 2): the one with that directory, archived or not; else the
    /// active one with the longest directory above it, never the user's home directory.
    /// </summary>
    public WorkspaceRecord? ForAgentCwd(string cwd)
    {
        if (WithCwd(cwd) is { } exact) return exact;
        return Workspaces.Values
            .Where(w => !w.Archived && w.Cwd != UserHome && w.Cwd != cwd && WorkspacePaths.IsUnder(cwd, w.Cwd))
            .MaxBy(w => w.Cwd.Length);
    }

    /// <summary>
    /// Records <paramref name="membership"/>: the workspace with its directory is re-classified and un-archived (with its
    /// project), or created. Its project is the one with the same root path (an active one first), kept with its id and
    /// name and un-archived; else a new one keyed by the membership (§2.2 "Project reuse").
    /// </summary>
    public (WorkspaceRegistry Registry, WorkspaceRecord Workspace) Register(Membership membership, DateTimeOffset now)
    {
        var projects = Projects;
        var project = Projects.Values.Where(p => p.RootPath == membership.ProjectRootPath).OrderBy(p => p.Archived).FirstOrDefault();
        if (project is not null)
        {
            if (project.Archived || project.Kind != membership.ProjectKind)
                projects = projects.SetItem(project.ProjectId, project = project with { Kind = membership.ProjectKind, ArchivedAt = null, UpdatedAt = now });
        }
        else if (Projects.GetValueOrDefault(membership.ProjectKey) is { } sameKey)
        {
            // Another clone of the same remote: one project, several workspaces; the project keeps its own root.
            if (sameKey.Archived) projects = projects.SetItem(sameKey.ProjectId, sameKey with { ArchivedAt = null, UpdatedAt = now });
            project = projects[sameKey.ProjectId];
        }
        else
        {
            project = new ProjectRecord(membership.ProjectKey, membership.ProjectRootPath, membership.ProjectKind, membership.ProjectName, now, now, null);
            projects = projects.SetItem(project.ProjectId, project);
        }
        var workspaces = Workspaces;
        var existing = WithCwd(membership.WorkspaceCwd);
        WorkspaceRecord workspace;
        if (existing is null)
        {
            workspace = new WorkspaceRecord(membership.WorkspaceCwd, project.ProjectId, membership.WorkspaceCwd, membership.WorkspaceKind, membership.WorkspaceName, now, now, null);
        }
        else
        {
            workspace = existing with { ProjectId = project.ProjectId, Kind = membership.WorkspaceKind, DisplayName = membership.WorkspaceName, ArchivedAt = null };
            if (workspace != existing) workspace = workspace with { UpdatedAt = now };
            if (existing.WorkspaceId != workspace.WorkspaceId) workspaces = workspaces.Remove(existing.WorkspaceId);
        }
        workspaces = workspaces.SetItem(workspace.WorkspaceId, workspace);
        return (this with { Projects = projects, Workspaces = workspaces }, workspace);
    }

    /// <summary>Archives a workspace, and its project when no active workspace of it is left (§2.7).</summary>
    public WorkspaceRegistry Archive(string workspaceId, DateTimeOffset now)
    {
        if (!Workspaces.TryGetValue(workspaceId, out var workspace)) return this;
        var workspaces = workspace.Archived ? Workspaces : Workspaces.SetItem(workspaceId, workspace with { ArchivedAt = now, UpdatedAt = now });
        var projects = Projects;
        if (Projects.TryGetValue(workspace.ProjectId, out var project) && !project.Archived
            && !workspaces.Values.Any(w => w.ProjectId == project.ProjectId && !w.Archived))
            projects = projects.SetItem(project.ProjectId, project with { ArchivedAt = now, UpdatedAt = now });
        return this with { Projects = projects, Workspaces = workspaces };
    }

    /// <summary>
    /// A Paseo worktree's workspace (app-workspaces.md §4.1): id and directory the worktree, named after its branch, in the
    /// project of the checkout it was made from (else of the repository root, else a new one at the root).
    /// </summary>
    public (WorkspaceRegistry Registry, WorkspaceRecord Workspace) RegisterWorktree(string path, string sourceCwd, string repoRoot, string branch, DateTimeOffset now)
    {
        var projectId = WithCwd(sourceCwd)?.ProjectId ?? WithCwd(repoRoot)?.ProjectId
                        ?? Projects.Values.FirstOrDefault(p => p.RootPath == repoRoot)?.ProjectId;
        var projects = Projects;
        if (projectId is null || !projects.ContainsKey(projectId))
        {
            var project = new ProjectRecord(projectId ?? repoRoot, repoRoot, "git", WorkspacePaths.LastSegment(repoRoot), now, now, null);
            projects = projects.SetItem(project.ProjectId, project);
            projectId = project.ProjectId;
        }
        else if (projects[projectId].Archived) projects = projects.SetItem(projectId, projects[projectId] with { ArchivedAt = null, UpdatedAt = now });
        var existing = WithCwd(path);
        var workspace = new WorkspaceRecord(path, projectId, path, "worktree", branch, existing?.CreatedAt ?? now, now, null);
        return (this with { Projects = projects, Workspaces = Workspaces.SetItem(path, workspace) }, workspace);
    }

    /// <summary>
    /// The `project` placement of an agent (§2.3 step 3; app-schemas.md §C.2), derived from the registry, not from live
    /// git. An agent outside every workspace gets the non-git fallback on its own directory.
    /// </summary>
    public JsonObject PlacementFor(string agentCwd)
    {
        var cwd = WorkspacePaths.Normalize(agentCwd);
        if (ForAgentCwd(cwd) is not { } workspace) return FallbackPlacement(cwd);
        return Placement(workspace);
    }

    public JsonObject Placement(WorkspaceRecord workspace)
    {
        var project = ProjectOf(workspace);
        var key = project?.ProjectId ?? workspace.ProjectId;
        var name = project?.DisplayName ?? ProjectKeys.Name(key);
        JsonObject checkout;
        if (project is null || project.Kind != "git")
            checkout = NonGitCheckout(workspace.Cwd);
        else
            checkout = new JsonObject
            {
                ["cwd"] = workspace.Cwd,
                ["isGit"] = true,
                ["currentBranch"] = workspace.DisplayName,
                ["remoteUrl"] = null,
                ["worktreeRoot"] = workspace.Cwd,
                ["isPaseoOwnedWorktree"] = workspace.Kind == "worktree",
                ["mainRepoRoot"] = workspace.Kind == "worktree" ? project.RootPath : null,
            };
        return new JsonObject { ["projectKey"] = key, ["projectName"] = name, ["checkout"] = checkout };
    }

    /// <summary>A project key the agent filters compare with (`filter.projectKeys`).</summary>
    public string ProjectKeyFor(string agentCwd)
    {
        var cwd = WorkspacePaths.Normalize(agentCwd);
        return ForAgentCwd(cwd) is { } workspace ? ProjectOf(workspace)?.ProjectId ?? workspace.ProjectId : cwd;
    }

    public static JsonObject FallbackPlacement(string cwd) => new()
    {
        ["projectKey"] = cwd,
        ["projectName"] = WorkspacePaths.LastSegment(cwd),
        ["checkout"] = NonGitCheckout(cwd),
    };

    private static JsonObject NonGitCheckout(string cwd) => new()
    {
        ["cwd"] = cwd,
        ["isGit"] = false,
        ["currentBranch"] = null,
        ["remoteUrl"] = null,
        ["worktreeRoot"] = null,
        ["isPaseoOwnedWorktree"] = false,
        ["mainRepoRoot"] = null,
    };
}
