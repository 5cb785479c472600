using Akka.Actor;
using Paseo.Transport.Git;
using Paseo.Transport.Workspaces;

namespace Paseo.Actors.Workspaces;

/// <summary>The messages of the workspace registry (`workspaces`) and of the checkout observers (`checkouts`).</summary>
public static class WorkspaceProtocol
{
    /// <summary>open_project (app-workspaces.md §2.6): answered <see cref="ProjectOpened"/>.</summary>
    public sealed record OpenProject(string Cwd);

    public sealed record ProjectOpened(WorkspaceRecord? Workspace, string? Error, WorkspaceRegistry Registry);

    /// <summary>
    /// Before an agent is created in <paramref name="Cwd"/>: makes sure a listed workspace has exactly that directory
    /// (created or un-archived), so the app can open the agent. Answered <see cref="AgentWorkspaceReady"/>; a directory
    /// that does not exist gets no workspace (the agent's creation then fails with its own error).
    /// </summary>
    public sealed record EnsureAgentWorkspace(string Cwd);

    public sealed record AgentWorkspaceReady(WorkspaceRecord? Workspace, string? Error);

    /// <summary>archive_workspace (§2.7): answered <see cref="WorkspaceArchived"/>.</summary>
    public sealed record ArchiveWorkspace(string WorkspaceId);

    public sealed record WorkspaceArchived(string WorkspaceId, DateTimeOffset? ArchivedAt, string? Error);

    /// <summary>A new (or reused) Paseo worktree gets its workspace: answered <see cref="AgentWorkspaceReady"/>.</summary>
    public sealed record RegisterWorktree(string Path, string SourceCwd, string RepoRoot, string Branch);

    /// <summary>Marks workspaces as being archived (their descriptors carry archivingAt), or clears the mark (<paramref name="Archiving"/> false). Answered Done.</summary>
    public sealed record MarkArchiving(IReadOnlyCollection<string> WorkspaceIds, bool Archiving);

    /// <summary>Archives workspaces whose worktree is gone (no "use worktree archive" refusal). Answered Done.</summary>
    public sealed record ArchiveWorktreeWorkspaces(IReadOnlyCollection<string> WorkspaceIds);

    /// <summary>
    /// Paseo's reconciliation (app-workspaces.md §2.5), asked for when a session subscribes to its workspaces (at most once
    /// per half minute): workspaces whose directory is gone are archived (with a project left empty), and git workspaces are
    /// renamed to their current branch. No answer; changes are published as usual.
    /// </summary>
    public sealed record Reconcile
    {
        public static readonly Reconcile Instance = new();
        private Reconcile() { }
    }

    /// <summary>Published on the event stream after every change, with the ids whose record changed.</summary>
    public sealed record WorkspacesChanged(WorkspaceRegistry Registry, IReadOnlyCollection<string> ChangedIds);

    // ---- checkouts ------------------------------------------------------------------------------------------------

    /// <summary>
    /// The subscriber is told <see cref="CheckoutChanged"/> for <paramref name="Cwd"/> now and whenever it changes, until it stops or
    /// says <see cref="Unobserve"/>. <paramref name="Deep"/>: working-tree edits count too (a screen showing the checkout is open).
    /// </summary>
    public sealed record Observe(string Cwd, IActorRef Subscriber, bool Deep = false);

    public sealed record Unobserve(string Cwd, IActorRef Subscriber);

    /// <summary>The current snapshot of a directory (read now when none is fresh, or when <paramref name="Force"/>): answered <see cref="CheckoutChanged"/>.</summary>
    public sealed record GetCheckout(string Cwd, bool Force = false);

    /// <summary>A directory's snapshot; told to observers when it differs from the last one (or after a forced refresh), to deep observers after every read.</summary>
    public sealed record CheckoutChanged(string Cwd, CheckoutSnapshot Snapshot);
}
