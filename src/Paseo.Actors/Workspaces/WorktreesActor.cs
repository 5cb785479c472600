using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Terminals;
using Akka.Event;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Workspaces;

/// <summary>
/// Paseo's worktrees (`worktrees`; app-workspaces.md §4): creates them (git off this thread), registers their workspaces,
/// runs their paseo.json setup in the background and remembers each one's last progress (workspace_setup_status), lists
/// them, and archives them — a dirty one only when told, its agents deleted once it is sure to go, teardown before removal.
/// </summary>
public sealed class WorktreesActor : ReceiveActor
{
    private const int MaxSetupsRemembered = 1000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PaseoWorktrees _worktrees;
    private readonly IActorRef _registry;
    private readonly IActorRef _agents;
    private readonly IActorRef _checkouts;
    private readonly WorktreeScriptLimits _limits;
    // The last setup progress of each worktree created here (oldest forgotten beyond MaxSetupsRemembered).
    private readonly Dictionary<string, System.Text.Json.JsonElement> _setups = [];
    private readonly Queue<string> _setupOrder = new();
    // Cancelled when the daemon stops: a setup or teardown still running has its process group killed (nothing outlives the daemon).
    private readonly CancellationTokenSource _stopping = new();

    // The daemon's terminals: a worktree made for an agent opens its paseo.json `worktree.terminals` there after setup.
    private readonly IActorRef _terminals;

    public WorktreesActor(string worktreesRoot, IActorRef registry, IActorRef agents, IActorRef checkouts, WorktreeScriptLimits limits, IActorRef? terminals = null)
    {
        _terminals = terminals ?? ActorRefs.Nobody;
        _worktrees = new PaseoWorktrees(DaemonWorkspaces.Get(Context.System).Git, worktreesRoot);
        _registry = registry;
        _agents = agents;
        _checkouts = checkouts;
        _limits = limits;

        Receive<CreateWorktree>(OnCreate);
        Receive<SetupProgressed>(progressed =>
        {
            if (!_setups.ContainsKey(progressed.WorkspaceId))
            {
                _setupOrder.Enqueue(progressed.WorkspaceId);
                while (_setupOrder.Count > MaxSetupsRemembered) _setups.Remove(_setupOrder.Dequeue());
            }
            _setups[progressed.WorkspaceId] = progressed.Snapshot;
            var push = new JsonObject { ["workspaceId"] = progressed.WorkspaceId };
            foreach (var field in progressed.Snapshot.EnumerateObject()) push[field.Name] = System.Text.Json.JsonSerializer.SerializeToNode(field.Value);
            progressed.ProgressTo?.Tell(new Sessions.SessionRequestProtocol.Pushed(WsOutbound.Session("workspace_setup_progress", push)));
        });
        Receive<RunAgentSetup>(run =>
        {
            if (run.Worktree.Reused) return;
            var agents = _agents;
            var self = Self;
            var registry = _registry;
            var limits = _limits;
            var callId = $"paseo_worktree_setup_{Guid.NewGuid():N}";
            // The setup's progress becomes rows of the agent's timeline: running rows live only, the end committed.
            var stopping = _stopping.Token;
            _ = Task.Run(async () =>
            {
                var env = await SetupAsync(run.Worktree, run.WorkspaceId, null, self, registry, limits, stopping, (status, detail, error) =>
                    agents.Tell(new ToAgent(run.AgentId, new ReportToolCall(System.Text.Json.JsonSerializer.SerializeToElement(
                        TimelineItems.ToolCall(callId, "paseo_worktree_setup", detail, status, error is null ? null : new JsonObject { ["message"] = error })),
                        Commit: status != "running"))));
                if (env is null) return;
                // paseo.json is read here, off the actor's thread; a file that cannot be read opens nothing (and says why).
                try
                {
                    self.Tell(new OpenWorktreeTerminals(run.Worktree.Path, env, WorktreeScripts.Terminals(run.Worktree.Path)));
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    self.Tell(new OpenWorktreeTerminals(run.Worktree.Path, env, [], e.Message));
                }
            });
        });
        Receive<TerminalProtocol.Created>(_ => { });
        Receive<TerminalProtocol.CreateFailed>(failed => _log.Warning("A worktree terminal was not opened: {0}", failed.Error));
        Receive<OpenWorktreeTerminals>(open =>
        {
            if (open.Error is not null)
            {
                _log.Warning("worktree.terminals of {0} not opened: {1}", open.Path, open.Error);
                return;
            }
            var entries = open.Entries;
            var environment = open.Environment.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!);
            foreach (var (name, command) in entries)
            {
                // A shell in the worktree, and the command typed into it once it shows its prompt (so the shell reads it,
                // and stays when the command ends).
                _terminals.Tell(new TerminalProtocol.CreateTerminal(open.Path, name, null, null, environment, TypeOnceReady: command + "\r"));
            }
        });
        Receive<GetSetupStatus>(get => Sender.Tell(new SetupStatus(_setups.TryGetValue(get.WorkspaceId, out var setup) ? setup : null)));
        Receive<ListWorktrees>(OnList);
        Receive<ArchiveWorktree>(OnArchive);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    public static Props Props(string worktreesRoot, IActorRef registry, IActorRef agents, IActorRef checkouts, WorktreeScriptLimits limits, IActorRef? terminals = null) =>
        Akka.Actor.Props.Create(() => new WorktreesActor(worktreesRoot, registry, agents, checkouts, limits, terminals));

    private void OnCreate(CreateWorktree create)
    {
        var worktrees = _worktrees;
        var registry = _registry;
        var self = Self;
        var limits = _limits;
        var stopping = _stopping.Token;
        async Task<WorktreeCreated> Run()
        {
            CreatedWorktree created;
            try
            {
                created = await worktrees.CreateAsync(create.Cwd, create.Slug, create.RefName, create.Action, create.Seed, CancellationToken.None);
            }
            catch (WorktreeException e)
            {
                return new WorktreeCreated(null, null, e.Message, e.Code);
            }
            var ready = await registry.Ask<AgentWorkspaceReady>(new RegisterWorktree(created.Path, create.Cwd, created.RepoRoot, created.Branch), TimeSpan.FromSeconds(10));
            if (ready.Workspace is null) return new WorktreeCreated(null, null, ready.Error ?? "Could not register the worktree", "unknown");
            if (!create.DeferSetup) _ = Task.Run(() => SetupAsync(created, ready.Workspace.WorkspaceId, create.ProgressTo, self, registry, limits, stopping));
            return new WorktreeCreated(ready.Workspace, created, null, null);
        }
        Run().PipeTo(Sender, failure: e => new WorktreeCreated(null, null, e.GetBaseException().Message, "unknown"));
    }

    /// <summary>
    /// paseo.json's setup in the new worktree, reported as workspace_setup_progress (a reused worktree: running, then
    /// completed). Returns the worktree's environment when the setup completed (null when it failed).
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, string?>?> SetupAsync(CreatedWorktree created, string workspaceId, IActorRef? progressTo, IActorRef self, IActorRef registry, WorktreeScriptLimits limits,
        CancellationToken stopping, Action<string, JsonObject, string?>? toAgent = null)
    {
        JsonObject Snapshot(string status, IReadOnlyList<SetupCommand> commands, string? error) => new()
        {
            ["status"] = status,
            ["detail"] = new JsonObject
            {
                ["type"] = "worktree_setup", ["worktreePath"] = created.Path, ["branchName"] = created.Branch, ["log"] = WorktreeScripts.Log(commands),
                ["commands"] = new JsonArray([.. commands.Select(c => (JsonNode)c.ToJson())]),
            },
            ["error"] = error,
        };
        void Report(string status, IReadOnlyList<SetupCommand> commands, string? error)
        {
            var snapshot = Snapshot(status, commands, error);
            self.Tell(new SetupProgressed(workspaceId, System.Text.Json.JsonSerializer.SerializeToElement(snapshot), progressTo));
            toAgent?.Invoke(status, (JsonObject)snapshot["detail"]!.DeepClone(), error);
        }

        Report("running", [], null);
        var env = WorktreeScripts.Environment(created.RepoRoot, created.Path, created.Branch, Paseo.Transport.Listen.LoopbackPorts.Free());
        if (created.Reused) { Report("completed", [], null); return env; }
        IReadOnlyList<string> commands;
        try
        {
            commands = WorktreeScripts.Commands(created.Path, "setup");
        }
        catch (InvalidOperationException e)
        {
            // Nothing ran: the worktree is of no use as configured, and its workspace is archived (Paseo does the same).
            Report("failed", [], e.Message);
            registry.Tell(new ArchiveWorktreeWorkspaces([workspaceId]));
            return null;
        }
        var (_, ran, failure) = await WorktreeScripts.RunAsync(commands, created.Path, env, limits, progress => Report("running", progress, null), stopping);
        Report(failure is null ? "completed" : "failed", ran, failure);
        return failure is null ? env : null;
    }

    private void OnList(ListWorktrees list)
    {
        var worktrees = _worktrees;
        async Task<JsonObject> Run()
        {
            var target = list.RepoRoot ?? list.Cwd;
            if (target is null) return new JsonObject { ["worktrees"] = new JsonArray(), ["error"] = CheckoutError.Unknown("cwd or repoRoot is required").ToJson() };
            try
            {
                var repo = await worktrees.RepoRootAsync(target, CancellationToken.None);
                var listed = await worktrees.ListAsync(repo, CancellationToken.None);
                return new JsonObject
                {
                    ["worktrees"] = new JsonArray([.. listed.Select(w => (JsonNode)new JsonObject
                    {
                        ["worktreePath"] = w.Path, ["createdAt"] = Paseo.Transport.Files.IsoTime.Format(w.CreatedAt), ["branchName"] = w.Branch, ["head"] = w.Head,
                    })]),
                    ["error"] = null,
                };
            }
            catch (WorktreeException e)
            {
                var error = e.Message == "Create worktree requires a git repository" ? CheckoutError.NotGitRepo(target) : CheckoutError.Unknown(e.Message);
                return new JsonObject { ["worktrees"] = new JsonArray(), ["error"] = error.ToJson() };
            }
        }
        Run().PipeTo(Sender, success: json => new WorktreeListed(System.Text.Json.JsonSerializer.SerializeToElement(json)),
            failure: e => new WorktreeListed(System.Text.Json.JsonSerializer.SerializeToElement(new JsonObject
            {
                ["worktrees"] = new JsonArray(), ["error"] = CheckoutError.Unknown(e.GetBaseException().Message).ToJson(),
            })));
    }

    private void OnArchive(ArchiveWorktree archive)
    {
        var worktrees = _worktrees;
        var registry = _registry;
        var agents = _agents;
        var checkouts = _checkouts;
        var limits = _limits;
        var shared = DaemonWorkspaces.Get(Context.System);
        var stopping = _stopping.Token;
        async Task<WorktreeArchived> Run()
        {
            string path;
            if (archive.WorktreePath is { } given) path = WorkspacePaths.Normalize(given);
            else if (archive.RepoRoot is { } repo && archive.BranchName is { } branch)
            {
                var listed = await worktrees.ListAsync(await worktrees.RepoRootAsync(repo, CancellationToken.None), CancellationToken.None);
                path = listed.FirstOrDefault(w => w.Branch == branch)?.Path ?? throw new CheckoutFailure(CheckoutError.Unknown($"Paseo worktree not found for branch {branch}"));
            }
            else throw new CheckoutFailure(CheckoutError.Unknown("worktreePath or repoRoot+branchName is required"));
            if (!worktrees.Owns(path)) throw new CheckoutFailure(new CheckoutError("NOT_ALLOWED", "Worktree is not a Paseo-owned worktree"));

            var affected = shared.Current.Workspaces.Values.Where(w => WorkspacePaths.IsUnder(w.Cwd, path)).Select(w => w.WorkspaceId).ToList();
            await registry.Ask<Akka.Done>(new MarkArchiving(affected, true), TimeSpan.FromSeconds(10));
            var removed = new List<string>();
            try
            {
                await worktrees.ArchiveAsync(path, archive.Force, async () =>
                {
                    var list = await agents.Ask<AgentList>(ListAgents.Instance, TimeSpan.FromSeconds(10));
                    foreach (var agent in list.Agents.Where(a => WorkspacePaths.IsUnder(WorkspacePaths.Normalize(a.Cwd), path)))
                        if (await agents.Ask<object>(new ToAgent(agent.Id, Delete.Instance), TimeSpan.FromSeconds(10)) is Deleted) removed.Add(agent.Id);
                }, async root =>
                {
                    var teardown = WorktreeScripts.Commands(root, "teardown");
                    var branch = (await checkouts.Ask<CheckoutChanged>(new GetCheckout(root), TimeSpan.FromSeconds(60))).Snapshot.CurrentBranch ?? "";
                    var repoRoot = (await worktrees.RepoRootAsync(root, CancellationToken.None));
                    var (_, _, failure) = await WorktreeScripts.RunAsync(teardown, root, WorktreeScripts.Environment(repoRoot, root, branch, 0), limits, _ => { }, stopping);
                    if (failure is not null) throw new CheckoutFailure(CheckoutError.Unknown(failure.Replace("Worktree setup command failed", "Worktree teardown command failed")));
                }, CancellationToken.None);
            }
            catch (Exception)
            {
                await registry.Ask<Akka.Done>(new MarkArchiving(affected, false), TimeSpan.FromSeconds(10));
                throw;
            }
            await registry.Ask<Akka.Done>(new ArchiveWorktreeWorkspaces(affected), TimeSpan.FromSeconds(10));
            return new WorktreeArchived(true, removed, null);
        }
        Run().PipeTo(Sender, failure: e => new WorktreeArchived(false, [], e.GetBaseException() switch
        {
            CheckoutFailure failure => failure.Error,
            var other => CheckoutError.Unknown(other.Message),
        }));
    }

    // ---- messages -------------------------------------------------------------------------------------------------

    /// <summary>create_paseo_worktree (§4.3); setup progress goes to <paramref name="ProgressTo"/> as workspace_setup_progress pushes.</summary>
    public sealed record CreateWorktree(string Cwd, string? Slug, string? RefName, string? Action, string? Seed, IActorRef? ProgressTo, bool DeferSetup = false);

    private sealed record OpenWorktreeTerminals(string Path, IReadOnlyDictionary<string, string?> Environment, IReadOnlyList<(string? Name, string Command)> Entries,
        string? Error = null) : INoSerializationVerificationNeeded;

    /// <summary>create_agent with a worktree (§4.4): the new worktree's setup, reported as rows of the agent's timeline.</summary>
    public sealed record RunAgentSetup(CreatedWorktree Worktree, string WorkspaceId, string AgentId);

    public sealed record WorktreeCreated(WorkspaceRecord? Workspace, CreatedWorktree? Worktree, string? Error, string? ErrorCode);

    public sealed record GetSetupStatus(string WorkspaceId);

    public sealed record SetupStatus(System.Text.Json.JsonElement? Snapshot);

    public sealed record ListWorktrees(string? Cwd, string? RepoRoot);

    public sealed record WorktreeListed(System.Text.Json.JsonElement Fields);

    public sealed record ArchiveWorktree(string? WorktreePath, string? RepoRoot, string? BranchName, bool Force);

    public sealed record WorktreeArchived(bool Success, IReadOnlyList<string> RemovedAgents, CheckoutError? Error);

    private sealed record SetupProgressed(string WorkspaceId, System.Text.Json.JsonElement Snapshot, IActorRef? ProgressTo);
}
