// Long on purpose: the workspace family's routing, its fetch_workspaces paging and workspace_update subscription (app-workspaces.md §2),
// which share their filter and cursor state; git requests are in .Git.cs, directory contents and files in .Files.cs.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Files;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Sessions.Workspaces;

/// <summary>
/// One session's workspace side (`sessions/session-&lt;id&gt;/workspaces`; app-workspaces.md §2–3): fetch_workspaces and its
/// subscription, open/archive, the project's icon and paseo.json, checkout status and its pushes, directory suggestions.
/// Its session hands it each such request as a <see cref="Request"/> and gets exactly one <see cref="Answered"/> back
/// (so the session's cap on requests in flight holds); pushes go up as <see cref="Pushed"/>.
/// <para>
/// It keeps what a push needs without asking anyone: each agent's directory and status bucket (from the agents' events),
/// the registry (from the registry's events) and the snapshots of the directories it observes. A push is skipped when it
/// equals the last one sent for that workspace.
/// </para>
/// </summary>
public sealed partial class SessionWorkspacesActor : ReceiveActor
{
    public static readonly HashSet<string> Kinds =
    [
        "fetch_workspaces_request", "open_project_request", "archive_workspace_request", "project_icon_request", "read_project_config_request",
        "write_project_config_request", "workspace_setup_status_request", "start_workspace_script_request", "directory_suggestions_request",
        "checkout_status_request", "subscribe_checkout_diff_request", "unsubscribe_checkout_diff_request", "checkout_commit_request",
        "checkout_merge_request", "checkout_merge_from_base_request", "checkout_pull_request", "checkout_push_request", "checkout_switch_branch_request",
        "stash_save_request", "stash_pop_request", "stash_list_request", "branch_suggestions_request", "validate_branch_request",
        "create_paseo_worktree_request", "paseo_worktree_list_request", "paseo_worktree_archive_request", "checkout_pr_status_request",
        "checkout_pr_create_request", "pull_request_timeline_request", "github_search_request", "file_explorer_request", "file_download_token_request",
    ];

    /// <summary>The kinds among <see cref="Kinds"/> sent without a requestId (nothing is answered to the client).</summary>
    public static readonly HashSet<string> WithoutRequestId = ["unsubscribe_checkout_diff_request"];

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(9);
    private static readonly string[] SortKeys = ["status_priority", "activity_at", "name", "project_id"];

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly IActorRef _registryActor;
    private readonly IActorRef _checkouts;
    private readonly IActorRef _worktrees;
    private readonly IActorRef _scripts;
    private readonly FileLimits _fileLimits;
    private readonly DownloadTokens? _downloads;
    private readonly SuggestionLimits _suggestionLimits;
    private readonly string _userHome;
    private readonly DaemonWorkspaces _shared = DaemonWorkspaces.Get(Context.System);
    // Every agent's directory (normalized) and snapshot, from the agents' own events; null until the first fetch.
    private Dictionary<string, AgentSnapshot>? _agentsById;
    private readonly Dictionary<string, CheckoutSnapshot> _snapshots = [];
    private readonly HashSet<string> _observed = [];
    private readonly HashSet<string> _deep = [];
    private WorkspaceSubscription? _subscription;
    private readonly Dictionary<string, string> _lastSent = [];
    // Pushes held while a subscribing fetch_workspaces_response is built.
    private HashSet<string>? _held;

    public SessionWorkspacesActor(IActorRef agents, IActorRef registry, IActorRef checkouts, IActorRef worktrees, IActorRef scripts, SuggestionLimits suggestionLimits, string userHome,
        FileLimits? fileLimits = null, DownloadTokens? downloads = null)
    {
        _fileLimits = fileLimits ?? FileLimits.Default;
        _downloads = downloads;
        _scripts = scripts;
        _worktrees = worktrees;
        _userHome = userHome;
        _agents = agents;
        _registryActor = registry;
        _checkouts = checkouts;
        _suggestionLimits = suggestionLimits;

        Receive<Request>(OnRequest);
        Receive<AgentChanged>(changed =>
        {
            if (_agentsById is null) return;
            _agentsById.TryGetValue(changed.Agent.Id, out var before);
            _agentsById[changed.Agent.Id] = changed.Agent;
            if (before is not null && WorkspacePaths.Normalize(before.Cwd) is var oldCwd && oldCwd != WorkspacePaths.Normalize(changed.Agent.Cwd)) PushCwd(oldCwd);
            PushCwd(WorkspacePaths.Normalize(changed.Agent.Cwd));
        });
        Receive<AgentRemoved>(removed =>
        {
            if (_agentsById is null || !_agentsById.Remove(removed.AgentId.Value, out var agent)) return;
            PushCwd(WorkspacePaths.Normalize(agent.Cwd));
        });
        Receive<WorkspacesChanged>(changed =>
        {
            foreach (var id in changed.ChangedIds) Push(id);
            ObserveListed();
        });
        Receive<CheckoutChanged>(changed =>
        {
            if (!_observed.Contains(changed.Cwd)) return;
            var known = _snapshots.TryGetValue(changed.Cwd, out var before);
            _snapshots[changed.Cwd] = changed.Snapshot;
            RefreshDiffs(changed.Cwd);
            if (known && before == changed.Snapshot) return;
            PushCwd(changed.Cwd);
            var requestId = $"subscription:{changed.Cwd}";
            var status = changed.Snapshot.ToStatusJson(changed.Cwd, requestId);
            status["prStatus"] = changed.Snapshot.PrStatusJson(changed.Cwd, requestId);
            Context.Parent.Tell(new Pushed(WsOutbound.Session("checkout_status_update", status)));
        });
        ReceiveGit();
        Receive<ScriptsActor.ScriptsChanged>(changed =>
        {
            Context.Parent.Tell(new Pushed(WsOutbound.Session("script_status_update", new JsonObject
            {
                ["workspaceId"] = changed.WorkspaceId, ["scripts"] = new JsonArray([.. changed.Scripts.Select(s => (JsonNode)s.ToJson())]),
            })));
            Push(changed.WorkspaceId);
        });
        Receive<FramesBuilt>(built => Context.Parent.Tell(new AnsweredFrames(built.Frames)));
        Receive<AgentsKnown>(known => _agentsById ??= known.Agents.ToDictionary(a => a.Id, StringComparer.Ordinal));
        Receive<Built>(built =>
        {
            foreach (var (id, json) in built.Sent ?? []) _lastSent[id] = json;
            if (built.ForgetCwd is { } forget)
            {
                _screens.Remove(forget);
                Release(forget);
            }
            Answer(built.Json);
            if (built.Subscribed) ReleaseHeld();
        });
    }

    public static Props Props(IActorRef agents, IActorRef registry, IActorRef checkouts, IActorRef worktrees, IActorRef scripts, SuggestionLimits suggestionLimits, string userHome,
        FileLimits? fileLimits = null, DownloadTokens? downloads = null) =>
        Akka.Actor.Props.Create(() => new SessionWorkspacesActor(agents, registry, checkouts, worktrees, scripts, suggestionLimits, userHome, fileLimits, downloads));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AgentChanged));
        Context.System.EventStream.Subscribe(Self, typeof(AgentRemoved));
        Context.System.EventStream.Subscribe(Self, typeof(WorkspacesChanged));
        Context.System.EventStream.Subscribe(Self, typeof(ScriptsActor.ScriptsChanged));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Answer(string? json) => Context.Parent.Tell(new Answered(json));

    private void OnRequest(Request request)
    {
        var reader = RequestReader.Of(request.Message);
        var requestId = request.RequestId!;
        try
        {
            if (OnGitRequest(request.Type, request.RequestId, reader)) return;
            switch (request.Type)
            {
                case "fetch_workspaces_request": OnFetch(requestId, reader); break;
                case "open_project_request": OnOpenProject(requestId, reader.RequiredPath("cwd")); break;
                case "archive_workspace_request": OnArchive(requestId, reader.RequiredString("workspaceId")); break;
                case "checkout_status_request": OnCheckoutStatus(requestId, reader.RequiredPath("cwd")); break;
                case "directory_suggestions_request": OnSuggestions(requestId, reader); break;
                case "file_explorer_request": OnFileExplorer(requestId, reader); break;
                case "file_download_token_request": OnDownloadToken(requestId, reader); break;
                case "project_icon_request": OnIcon(requestId, reader.RequiredPath("cwd")); break;
                case "read_project_config_request": OnReadConfig(requestId, reader.RequiredPath("repoRoot")); break;
                case "write_project_config_request": OnWriteConfig(requestId, reader); break;
                case "workspace_setup_status_request":
                {
                    var workspaceId = reader.RequiredString("workspaceId");
                    _worktrees.Ask<WorktreesActor.SetupStatus>(new WorktreesActor.GetSetupStatus(workspaceId), AskTimeout).PipeTo(Self,
                        success: status => new Built(WsOutbound.Session("workspace_setup_status_response", new JsonObject
                        {
                            ["requestId"] = requestId, ["workspaceId"] = workspaceId, ["snapshot"] = status.Snapshot is { } snapshot ? JsonSerializer.SerializeToNode(snapshot) : null,
                        })),
                        failure: _ => new Built(WsOutbound.Session("workspace_setup_status_response", new JsonObject
                        {
                            ["requestId"] = requestId, ["workspaceId"] = workspaceId, ["snapshot"] = null,
                        })));
                    break;
                }
                case "start_workspace_script_request":
                {
                    var workspaceId = reader.RequiredString("workspaceId");
                    var scriptName = reader.RequiredString("scriptName");
                    _scripts.Ask<ScriptsActor.ScriptStarted>(new ScriptsActor.StartScript(workspaceId, scriptName), AskTimeout).PipeTo(Self,
                        success: started => new Built(WsOutbound.Session("start_workspace_script_response", new JsonObject
                        {
                            ["requestId"] = requestId, ["workspaceId"] = workspaceId, ["scriptName"] = scriptName, ["terminalId"] = started.TerminalId, ["error"] = started.Error,
                        })),
                        failure: e => new Built(WsOutbound.Session("start_workspace_script_response", new JsonObject
                        {
                            ["requestId"] = requestId, ["workspaceId"] = workspaceId, ["scriptName"] = scriptName, ["terminalId"] = null, ["error"] = e.GetBaseException().Message,
                        })));
                    break;
                }
                default: Answer(WsOutbound.RpcError(requestId, request.Type, "Unknown request schema", "unknown_schema")); break;
            }
        }
        catch (InvalidRequestException e)
        {
            _log.Info("Invalid {0}: {1}", request.Type, e.Message);
            Answer(request.RequestId is null ? WsOutbound.StatusError($"Invalid message: {request.Type}: {e.Message}")
                : WsOutbound.RpcError(requestId, request.Type, "Unknown request schema", "unknown_schema"));
        }
        catch (Exception e)
        {
            // Input nobody expected, or a handler bug: the request is answered all the same (the session counts on one answer
            // per request) and this actor keeps its subscriptions.
            _log.Error(e, "Request {0} failed", request.Type);
            Answer(request.RequestId is null ? WsOutbound.StatusError($"Request failed: {request.Type}: {e.Message}")
                : WsOutbound.RpcError(requestId, request.Type, $"Request failed: {e.Message}", "handler_error"));
        }
    }

    // ---- fetch_workspaces and workspace_update ------------------------------------------------------------------

    private void OnFetch(string requestId, RequestReader request)
    {
        var filter = WorkspaceFilter.Read(request);
        var sort = ReadSort(request);
        var (limit, cursor) = request.Page();
        if (cursor is { Length: 0 }) throw new InvalidRequestException("page.cursor must not be empty");
        WorkspaceCursor? after = null;
        if (cursor is not null)
        {
            after = WorkspaceCursor.Read(cursor);
            if (after is null) { Answer(WsOutbound.RpcError(requestId, "fetch_workspaces_request", "Invalid fetch_workspaces cursor", "invalid_cursor")); return; }
            if (!after.SortMatches(sort)) { Answer(WsOutbound.RpcError(requestId, "fetch_workspaces_request", "fetch_workspaces cursor does not match current sort", "invalid_cursor")); return; }
        }
        string? subscriptionId = null;
        if (request.OptionalObject("subscribe") is { } subscribe)
        {
            var given = RequestReader.Of(subscribe).OptionalString("subscriptionId");
            subscriptionId = string.IsNullOrWhiteSpace(given) ? Guid.NewGuid().ToString("D") : given;
            _subscription = new WorkspaceSubscription(subscriptionId, filter);
            _lastSent.Clear();
            _held ??= [];
            _registryActor.Tell(Reconcile.Instance);
        }
        var snapshots = new Dictionary<string, CheckoutSnapshot>(_snapshots);
        var known = _agentsById;
        var agentsTask = known is not null ? Task.FromResult<IReadOnlyList<AgentSnapshot>>(known.Values.ToList())
            : _agents.Ask<AgentList>(ListAgents.Instance, AskTimeout).ContinueWith(t => t.Result.Agents, TaskScheduler.Default);
        var subscribed = subscriptionId is not null;
        agentsTask.PipeTo(Self, success: agents =>
        {
            var registry = _shared.Current;
            var scripts = _shared.Scripts;
            // Each agent's directory normalized once, not once per workspace.
            var statuses = WorkspaceDescriptors.StatusByDirectory(agents);
            var rows = registry.Listed.Where(w => filter.Matches(w))
                .Select(w => new WorkspaceRow(w, statuses.GetValueOrDefault(w.Cwd, "done")))
                .ToList();
            rows.Sort(new RowOrder(sort));
            var start = after is null ? 0 : rows.FindIndex(r => WorkspaceCursor.Compare(sort, r, after) > 0);
            if (start < 0) start = rows.Count;
            var pageRows = rows.Skip(start).Take(limit).ToList();
            var hasMore = start + pageRows.Count < rows.Count;
            var sent = new List<(string, string)>();
            var entries = new JsonArray();
            foreach (var row in pageRows)
            {
                var descriptor = WorkspaceDescriptors.Build(registry, row.Workspace, row.Status, snapshots.GetValueOrDefault(row.Workspace.Cwd), null,
                    scripts.GetValueOrDefault(row.Workspace.WorkspaceId, []));
                sent.Add((row.Workspace.WorkspaceId, descriptor.ToJsonString()));
                entries.Add(descriptor);
            }
            var payload = new JsonObject { ["requestId"] = requestId };
            if (subscriptionId is not null) payload["subscriptionId"] = subscriptionId;
            payload["entries"] = entries;
            payload["pageInfo"] = new JsonObject
            {
                ["nextCursor"] = hasMore ? WorkspaceCursor.Write(sort, pageRows[^1]) : null,
                ["prevCursor"] = cursor,
                ["hasMore"] = hasMore,
            };
            return new Built(WsOutbound.Session("fetch_workspaces_response", payload), subscribed, sent);
        }, failure: e => new Built(WsOutbound.RpcError(requestId, "fetch_workspaces_request", $"Request failed: {e.GetBaseException().Message}", "fetch_workspaces_failed"), subscribed));
        // The agents' events keep the map current from here on.
        if (_agentsById is null)
            agentsTask.ContinueWith(t => t.IsCompletedSuccessfully ? new AgentsKnown(t.Result) : null, TaskScheduler.Default).PipeTo(Self);
    }

    private void ReleaseHeld()
    {
        var held = _held;
        _held = null;
        if (held is not null) foreach (var id in held) Push(id);
        ObserveListed();
    }

    /// <summary>Every listed git workspace is observed (shallow: its git directory only), so its name, branch and diff stat stay current.</summary>
    private void ObserveListed()
    {
        if (_subscription is null) return;
        var registry = _shared.Current;
        foreach (var workspace in registry.Listed)
            if (registry.ProjectOf(workspace)?.Kind == "git" && !_observed.Contains(workspace.Cwd)) Observe(workspace.Cwd, deep: false);
    }

    /// <summary>Observes a directory (deep: its working tree too); a deep observation is only given up through <see cref="Release"/>.</summary>
    private void Observe(string cwd, bool deep)
    {
        var wasObserved = _observed.Add(cwd);
        var wasDeep = _deep.Contains(cwd);
        if (deep) _deep.Add(cwd);
        if (wasObserved || (deep && !wasDeep)) _checkouts.Tell(new Observe(cwd, Self, deep || wasDeep));
    }

    /// <summary>
    /// A screen or a diff pane stopped looking at <paramref name="cwd"/>: it stays deep-observed while another one looks, shallow
    /// while it is a listed git workspace of this session's subscription, and is not observed at all otherwise.
    /// </summary>
    private void Release(string cwd)
    {
        if (!_observed.Contains(cwd) || _screens.Contains(cwd) || _diffs.Values.Any(d => d.Cwd == cwd)) return;
        var registry = _shared.Current;
        var listed = _subscription is not null && registry.WithCwd(cwd) is { } w && registry.IsListed(w) && registry.ProjectOf(w)?.Kind == "git";
        if (listed)
        {
            if (_deep.Remove(cwd)) _checkouts.Tell(new Observe(cwd, Self, false));
            return;
        }
        _observed.Remove(cwd);
        _deep.Remove(cwd);
        _snapshots.Remove(cwd);
        _checkouts.Tell(new Unobserve(cwd, Self));
    }

    // The directories workspace screens asked about (checkout_status), newest last: at most MaxScreens stay deep-observed.
    private const int MaxScreens = 8;
    private readonly List<string> _screens = [];

    private void PushCwd(string cwd)
    {
        if (_subscription is null) return;
        var registry = _shared.Current;
        if (registry.WithCwd(cwd) is { } workspace) Push(workspace.WorkspaceId);
    }

    /// <summary>workspace_update for one id: upsert when listed and matching, else remove (once); skipped when equal to the last one sent.</summary>
    private void Push(string id)
    {
        if (_subscription is null) return;
        if (_held is not null) { _held.Add(id); return; }
        var registry = _shared.Current;
        string json;
        if (registry.Workspaces.TryGetValue(id, out var workspace) && registry.IsListed(workspace) && _subscription.Filter.Matches(workspace))
        {
            var status = WorkspaceDescriptors.Status(workspace, _agentsById?.Values ?? Enumerable.Empty<AgentSnapshot>());
            var descriptor = WorkspaceDescriptors.Build(registry, workspace, status, _snapshots.GetValueOrDefault(workspace.Cwd), null,
                _shared.Scripts.GetValueOrDefault(workspace.WorkspaceId, []));
            json = descriptor.ToJsonString();
            if (_lastSent.TryGetValue(id, out var last) && last == json) return;
            _lastSent[id] = json;
            Context.Parent.Tell(new Pushed(WsOutbound.Session("workspace_update", new JsonObject { ["kind"] = "upsert", ["workspace"] = descriptor })));
        }
        else
        {
            if (!_lastSent.Remove(id)) return;
            Context.Parent.Tell(new Pushed(WsOutbound.Session("workspace_update", new JsonObject { ["kind"] = "remove", ["id"] = id })));
        }
    }

    // ---- open, archive ------------------------------------------------------------------------------------------

    private void OnOpenProject(string requestId, string cwd)
    {
        if (cwd.Trim().Length == 0) throw new InvalidRequestException("cwd must not be empty");
        var agents = _agentsById?.Values.ToList() ?? [];
        _registryActor.Ask<ProjectOpened>(new OpenProject(cwd), AskTimeout).PipeTo(Self, success: opened =>
        {
            if (opened.Workspace is not { } workspace)
                return new Built(WsOutbound.Session("open_project_response", new JsonObject { ["requestId"] = requestId, ["workspace"] = null, ["error"] = opened.Error ?? "Could not open the project" }));
            var descriptor = WorkspaceDescriptors.Build(opened.Registry, workspace, WorkspaceDescriptors.Status(workspace, agents), null);
            return new Built(WsOutbound.Session("open_project_response", new JsonObject { ["requestId"] = requestId, ["workspace"] = descriptor, ["error"] = null }));
        }, failure: e => new Built(WsOutbound.Session("open_project_response", new JsonObject { ["requestId"] = requestId, ["workspace"] = null, ["error"] = e.GetBaseException().Message })));
    }

    private void OnArchive(string requestId, string workspaceId)
    {
        var cwd = _shared.Current.Workspaces.TryGetValue(workspaceId, out var known) ? known.Cwd : null;
        _registryActor.Ask<WorkspaceArchived>(new ArchiveWorkspace(workspaceId), AskTimeout).PipeTo(Self, success: archived => new Built(
            WsOutbound.Session("archive_workspace_response", new JsonObject
            {
                ["requestId"] = requestId, ["workspaceId"] = workspaceId,
                ["archivedAt"] = archived.ArchivedAt is { } at ? Paseo.Transport.Files.IsoTime.Format(at) : null, ["error"] = archived.Error,
            }), ForgetCwd: archived.Error is null ? cwd : null),
            failure: e => new Built(WsOutbound.Session("archive_workspace_response", new JsonObject
            {
                ["requestId"] = requestId, ["workspaceId"] = workspaceId, ["archivedAt"] = null, ["error"] = e.GetBaseException().Message,
            })));
    }

    // ---- checkout status --------------------------------------------------------------------------------------------

    /// <summary>checkout_status: the directory's snapshot now; the session then observes it (deep) and gets checkout_status_update on every change.</summary>
    private void OnCheckoutStatus(string requestId, string cwd)
    {
        var path = WorkspacePaths.Normalize(WorkspacePaths.ExpandHome(cwd, _userHome));
        _screens.Remove(path);
        _screens.Add(path);
        Observe(path, deep: true);
        if (_screens.Count > MaxScreens)
        {
            var oldest = _screens[0];
            _screens.RemoveAt(0);
            Release(oldest);
        }
        _checkouts.Ask<CheckoutChanged>(new GetCheckout(path), TimeSpan.FromSeconds(55)).PipeTo(Self,
            success: changed => new Built(WsOutbound.Session("checkout_status_response", changed.Snapshot.ToStatusJson(cwd, requestId))),
            failure: e => new Built(WsOutbound.Session("checkout_status_response",
                CheckoutSnapshot.NotGit(CheckoutError.Unknown(e.GetBaseException().Message)).ToStatusJson(cwd, requestId))));
    }

    // ---- messages -----------------------------------------------------------------------------------------------------

    /// <summary>A reply computed off the actor's thread; <see cref="ForgetCwd"/>: a directory no longer to observe (its workspace was archived).</summary>
    private sealed record Built(string Json, bool Subscribed = false, IReadOnlyList<(string Id, string Json)>? Sent = null, string? ForgetCwd = null);

    private sealed record AgentsKnown(IReadOnlyList<AgentSnapshot> Agents);

    private sealed record FramesBuilt(IReadOnlyList<byte[]> Frames);

    private sealed record WorkspaceSubscription(string SubscriptionId, WorkspaceFilter Filter);

    internal sealed record WorkspaceRow(WorkspaceRecord Workspace, string Status)
    {
        public object? Value(string key) => key switch
        {
            "status_priority" => (long)WorkspaceDescriptors.Rank(Status),
            "activity_at" => null, // Paseo.NET, like Paseo, sends activityAt null
            "name" => Workspace.DisplayName.ToLowerInvariant(),
            _ => Workspace.ProjectId.ToLowerInvariant(),
        };
    }

    private sealed class RowOrder(List<(string Key, string Direction)> sort) : IComparer<WorkspaceRow>
    {
        public int Compare(WorkspaceRow? x, WorkspaceRow? y) => WorkspaceCursor.Compare(sort, x!, new WorkspaceCursor(sort, sort.ToDictionary(s => s.Key, s => y!.Value(s.Key)), y!.Workspace.WorkspaceId));
    }
}
