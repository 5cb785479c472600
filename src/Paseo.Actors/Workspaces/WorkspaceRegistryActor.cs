using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Workspaces;

/// <summary>
/// The daemon's projects and workspaces (`workspaces`; app-workspaces.md §2): owns the registry, classifies directories
/// with git off its thread, saves the two files one write at a time (the newest state wins), publishes every change on the
/// event stream and in <see cref="DaemonWorkspaces.Current"/>.
/// <para>
/// Phases: <b>loading</b> (the files are read off the thread; requests wait, stashed) → <b>serving</b>. Missing files are
/// rebuilt from the agents, as Paseo does. A damaged file is reported in the log and left as it is: the registry then lives
/// in memory only (rebuilt from the agents, so the app can still open them), and changes are refused with the reason.
/// Every agent that is not archived gets a workspace with exactly its directory (see <see cref="EnsureAgentWorkspace"/>).
/// </para>
/// </summary>
public sealed class WorkspaceRegistryActor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _directory;
    private readonly string _worktreesRoot;
    private readonly IActorRef _agents;
    private readonly TimeProvider _time;
    private readonly DaemonWorkspaces _shared = DaemonWorkspaces.Get(Context.System);
    private readonly HashSet<string> _classifying = [];
    private WorkspaceRegistry _registry = WorkspaceRegistry.Empty;
    private string? _damaged;
    private bool _writing;
    private DateTimeOffset _reconciledAt = DateTimeOffset.MinValue;
    private static readonly TimeSpan ReconcileAtMostEvery = TimeSpan.FromSeconds(30);
    private bool _dirty;

    public IStash Stash { get; set; } = null!;

    public WorkspaceRegistryActor(string directory, string worktreesRoot, IActorRef agents, TimeProvider time)
    {
        _directory = directory;
        _worktreesRoot = worktreesRoot;
        _agents = agents;
        _time = time;
        Loading();
    }

    public static Props Props(string directory, string worktreesRoot, IActorRef agents, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new WorkspaceRegistryActor(directory, worktreesRoot, agents, time));

    protected override void PreStart()
    {
        var directory = _directory;
        Task.Run(() =>
        {
            try
            {
                return new Loaded(WorkspaceRegistryFiles.Load(directory), null);
            }
            catch (WorkspaceRegistryFileException e)
            {
                return new Loaded(null, e.Message);
            }
            catch (Exception e)
            {
                // Unreadable (permissions, …): reported and left alone like a damaged file, never a registry stuck loading.
                return new Loaded(null, $"{directory}: cannot be read ({e.Message})");
            }
        }).PipeTo(Self);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Loading()
    {
        Receive<Loaded>(loaded =>
        {
            if (loaded.Damage is { } damage)
            {
                _damaged = damage;
                _log.Error("Workspace registry damaged, left untouched and not written until fixed or removed: {0}", damage);
            }
            var rebuild = loaded.Registry is null;
            Publish(loaded.Registry ?? WorkspaceRegistry.Empty, []);
            Context.System.EventStream.Subscribe(Self, typeof(AgentChanged));
            // Every stored agent gets its workspace: the whole bootstrap when the files were missing, a repair otherwise.
            _agents.Ask<AgentList>(ListAgents.Instance, TimeSpan.FromSeconds(30)).PipeTo(Self, failure: _ => new AgentList([]));
            if (rebuild && _damaged is null) _dirty = true;
            Become(Serving);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Serving()
    {
        Receive<AgentList>(list =>
        {
            foreach (var cwd in list.Agents.Where(a => a.ArchivedAt is null).Select(a => WorkspacePaths.TryNormalize(a.Cwd, out var c) ? c : null).OfType<string>().Distinct()) Heal(cwd);
            SaveIfDirty();
        });
        Receive<AgentChanged>(changed =>
        {
            if (changed.Agent.ArchivedAt is null && WorkspacePaths.TryNormalize(changed.Agent.Cwd, out var cwd)) Heal(cwd);
        });
        Receive<OpenProject>(open =>
        {
            if (Refused(out var why)) { Sender.Tell(new ProjectOpened(null, why, _registry)); return; }
            if (!WorkspacePaths.TryNormalize(open.Cwd, out var cwd)) { Sender.Tell(new ProjectOpened(null, $"Not a directory path: {open.Cwd}", _registry)); return; }
            Classify(cwd, exactDirectory: false, Sender, open);
        });
        Receive<EnsureAgentWorkspace>(ensure =>
        {
            if (!WorkspacePaths.TryNormalize(ensure.Cwd, out var cwd)) { Sender.Tell(new AgentWorkspaceReady(null, $"Not a directory path: {ensure.Cwd}")); return; }
            if (_registry.WithCwd(cwd) is { Archived: false } ready && _registry.IsListed(ready)) { Sender.Tell(new AgentWorkspaceReady(ready, null)); return; }
            if (Refused(out var why)) { Sender.Tell(new AgentWorkspaceReady(_registry.WithCwd(cwd), why)); return; }
            if (!Directory.Exists(cwd)) { Sender.Tell(new AgentWorkspaceReady(null, $"Directory does not exist: {cwd}")); return; }
            Classify(cwd, exactDirectory: true, Sender, ensure);
        });
        Receive<Classified>(classified =>
        {
            _classifying.Remove(classified.Cwd);
            var membership = Membership.Of(classified.Facts, classified.ExactDirectory);
            var opened = classified.Request is OpenProject ? OpenProjectMembership(classified, membership) : membership;
            var (registry, workspace) = _registry.Register(opened, _time.GetUtcNow());
            Change(registry, [workspace.WorkspaceId]);
            switch (classified.Request)
            {
                case OpenProject: classified.ReplyTo?.Tell(new ProjectOpened(workspace, null, _registry)); break;
                case EnsureAgentWorkspace: classified.ReplyTo?.Tell(new AgentWorkspaceReady(workspace, null)); break;
            }
        });
        Receive<ArchiveWorkspace>(archive =>
        {
            if (!_registry.Workspaces.TryGetValue(archive.WorkspaceId, out var workspace))
                Sender.Tell(new WorkspaceArchived(archive.WorkspaceId, null, $"Workspace not found: {archive.WorkspaceId}"));
            else if (workspace.Kind == "worktree" && workspace.Cwd.StartsWith(_worktreesRoot + "/", StringComparison.Ordinal))
                Sender.Tell(new WorkspaceArchived(archive.WorkspaceId, null, "Use worktree archive for Paseo worktrees"));
            else if (Refused(out var why))
                Sender.Tell(new WorkspaceArchived(archive.WorkspaceId, null, why));
            else
            {
                var now = _time.GetUtcNow();
                Change(_registry.Archive(archive.WorkspaceId, now), [archive.WorkspaceId]);
                Sender.Tell(new WorkspaceArchived(archive.WorkspaceId, now, null));
            }
        });
        Receive<RegisterWorktree>(register =>
        {
            if (Refused(out var why)) { Sender.Tell(new AgentWorkspaceReady(null, why)); return; }
            var (registry, workspace) = _registry.RegisterWorktree(WorkspacePaths.Normalize(register.Path), WorkspacePaths.Normalize(register.SourceCwd),
                WorkspacePaths.Normalize(register.RepoRoot), register.Branch, _time.GetUtcNow());
            Change(registry, [workspace.WorkspaceId]);
            Sender.Tell(new AgentWorkspaceReady(workspace, null));
        });
        Receive<MarkArchiving>(mark =>
        {
            var now = _time.GetUtcNow();
            var archiving = mark.Archiving
                ? _registry.Archiving.SetItems(mark.WorkspaceIds.Where(_registry.Workspaces.ContainsKey).Select(id => KeyValuePair.Create(id, now)))
                : _registry.Archiving.RemoveRange(mark.WorkspaceIds);
            // Not saved: a mark lives only while the archive runs.
            if (archiving != _registry.Archiving) Publish(_registry with { Archiving = archiving }, mark.WorkspaceIds);
            Sender.Tell(Akka.Done.Instance);
        });
        Receive<ArchiveWorktreeWorkspaces>(archive =>
        {
            var now = _time.GetUtcNow();
            var registry = archive.WorkspaceIds.Aggregate(_registry, (r, id) => r.Archive(id, now));
            registry = registry with { Archiving = registry.Archiving.RemoveRange(archive.WorkspaceIds) };
            if (_damaged is null) Change(registry, archive.WorkspaceIds);
            else Publish(registry, archive.WorkspaceIds);
            Sender.Tell(Akka.Done.Instance);
        });
        Receive<Reconcile>(_ =>
        {
            var now = _time.GetUtcNow();
            if (now - _reconciledAt < ReconcileAtMostEvery) return;
            _reconciledAt = now;
            var registry = _registry;
            var git = _shared.Git;
            ReconcileAsync(registry, git).PipeTo(Self, failure: e => new Reconciled([], []));
        });
        Receive<Reconciled>(reconciled =>
        {
            var now = _time.GetUtcNow();
            var registry = reconciled.Gone.Aggregate(_registry, (r, id) => r.Archive(id, now));
            foreach (var (id, branch) in reconciled.Renamed)
                if (registry.Workspaces.TryGetValue(id, out var w) && !w.Archived && w.DisplayName != branch)
                    registry = registry with { Workspaces = registry.Workspaces.SetItem(id, w with { DisplayName = branch, UpdatedAt = now }) };
            if (_damaged is null) Change(registry, [.. reconciled.Gone, .. reconciled.Renamed.Select(r => r.Id)]);
            else if (registry != _registry) Publish(registry, [.. reconciled.Gone, .. reconciled.Renamed.Select(r => r.Id)]);
        });
        Receive<Saved>(saved =>
        {
            _writing = false;
            if (saved.Error is { } error) _log.Error("Could not write the workspace registry in {0}: {1}", _directory, error);
            SaveIfDirty();
        });
    }

    /// <summary>
    /// open_project of a sub-directory of a repository whose top-level workspace was archived: a directory workspace of
    /// its own (§2.6 step 2), rather than bringing back what the user hid.
    /// </summary>
    private static Membership OpenProjectMembership(Classified classified, Membership membership) =>
        classified.ArchivedRoot && classified.Cwd != membership.WorkspaceCwd
            ? Membership.Of(CheckoutFacts.NotGit(classified.Cwd))
            : membership;

    private void Heal(string cwd)
    {
        if (_registry.WithCwd(cwd) is not null || _classifying.Contains(cwd) || !Directory.Exists(cwd)) return;
        Classify(cwd, exactDirectory: true, null, null);
    }

    private void Classify(string cwd, bool exactDirectory, IActorRef? replyTo, object? request)
    {
        _classifying.Add(cwd);
        var git = _shared.Git;
        var root = _worktreesRoot;
        var registry = _registry;
        CheckoutFacts.ReadAsync(git, cwd, root).PipeTo(Self, success: facts =>
        {
            var archivedRoot = facts.WorktreeRoot is { } top && registry.WithCwd(top) is { Archived: true };
            return new Classified(cwd, facts, exactDirectory, archivedRoot, replyTo, request);
        }, failure: _ => new Classified(cwd, CheckoutFacts.NotGit(cwd), exactDirectory, false, replyTo, request));
    }

    private bool Refused(out string why)
    {
        why = _damaged is null ? "" : $"The workspace registry is damaged and was left as it is ({_damaged}); fix or remove the file, then restart the daemon";
        return _damaged is not null;
    }

    private void Change(WorkspaceRegistry registry, IReadOnlyCollection<string> changedIds)
    {
        if (registry == _registry) return;
        Publish(registry, changedIds);
        _dirty = true;
        SaveIfDirty();
    }

    private void Publish(WorkspaceRegistry registry, IReadOnlyCollection<string> changedIds)
    {
        _registry = registry;
        _shared.Current = registry;
        Context.System.EventStream.Publish(new WorkspacesChanged(registry, changedIds));
    }

    private void SaveIfDirty()
    {
        if (!_dirty || _writing || _damaged is not null) return;
        _dirty = false;
        _writing = true;
        var registry = _registry;
        var directory = _directory;
        Task.Run(() =>
        {
            try
            {
                WorkspaceRegistryFiles.Save(directory, registry);
                return new Saved(null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new Saved(e.Message);
            }
        }).PipeTo(Self);
    }

    /// <summary>Off the actor's thread: which listed workspaces lost their directory, and which top-level checkouts changed branch.</summary>
    private static async Task<Reconciled> ReconcileAsync(WorkspaceRegistry registry, Paseo.Transport.Git.GitRunner git)
    {
        var gone = new List<string>();
        var renamed = new List<(string, string)>();
        foreach (var workspace in registry.Listed.Where(w => !registry.Archiving.ContainsKey(w.WorkspaceId)))
        {
            if (!Directory.Exists(workspace.Cwd))
            {
                gone.Add(workspace.WorkspaceId);
                continue;
            }
            if (registry.ProjectOf(workspace)?.Kind != "git" || workspace.Kind == "directory") continue;
            var head = await git.RunAsync(workspace.Cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"], Paseo.Transport.Git.GitRun.Read);
            var top = await git.RunAsync(workspace.Cwd, ["rev-parse", "--show-toplevel"], Paseo.Transport.Git.GitRun.Read);
            // Only a checkout's top level is named after its branch (a sub-directory workspace keeps its directory name).
            if (head.Ok && top.Ok && WorkspacePaths.Normalize(top.Stdout.Trim()) == workspace.Cwd && head.Stdout.Trim() is { Length: > 0 } branch && branch != workspace.DisplayName)
                renamed.Add((workspace.WorkspaceId, branch));
        }
        return new Reconciled(gone, renamed);
    }

    private sealed record Reconciled(IReadOnlyList<string> Gone, IReadOnlyList<(string Id, string Branch)> Renamed);

    private sealed record Loaded(WorkspaceRegistry? Registry, string? Damage);

    private sealed record Classified(string Cwd, CheckoutFacts Facts, bool ExactDirectory, bool ArchivedRoot, IActorRef? ReplyTo, object? Request);

    private sealed record Saved(string? Error);
}
