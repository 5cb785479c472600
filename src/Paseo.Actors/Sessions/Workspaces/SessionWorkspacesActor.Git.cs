// Long on purpose: the git requests of app-workspaces.md §3–§4 (checkout, branches, diffs, pull requests, worktrees), each
// with its wire shape next to the call it makes, in the spec's order; split further, one spec section would span files.
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Sessions.SessionRequestProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Sessions.Workspaces;

/// <summary>The git side of a session (app-workspaces.md §3.3–3.6): diff subscriptions, mutations, stashes, branches.</summary>
public sealed partial class SessionWorkspacesActor
{
    private static readonly TimeSpan MutationTimeout = TimeSpan.FromSeconds(130);
    private readonly Dictionary<string, DiffSubscription> _diffs = [];

    private sealed class DiffSubscription(string id, string cwd, string echo, DiffCompare compare)
    {
        public string Id { get; } = id;
        public string Cwd { get; } = cwd;
        public string Echo { get; } = echo;
        public DiffCompare Compare { get; } = compare;
        public string? LastJson { get; set; }
        public bool Computing { get; set; }
        public bool Again { get; set; }
        public string? PendingRequestId { get; set; }
    }

    private sealed record DiffComputed(string SubscriptionId, DiffSubscription Subscription, CheckoutDiff.Result Result);

    private void ReceiveGit()
    {
        Receive<DiffComputed>(computed =>
        {
            var subscription = computed.Subscription;
            subscription.Computing = false;
            var payload = new JsonObject
            {
                ["subscriptionId"] = subscription.Id, ["cwd"] = subscription.Echo, ["files"] = computed.Result.Files, ["error"] = computed.Result.Error?.ToJson(),
            };
            if (!_diffs.TryGetValue(computed.SubscriptionId, out var current) || current != subscription)
            {
                // Replaced (or unsubscribed) before its first diff: its request is still answered, with what was computed.
                if (subscription.PendingRequestId is { } pending)
                {
                    payload["requestId"] = pending;
                    Answer(WsOutbound.Session("subscribe_checkout_diff_response", payload));
                }
                return;
            }
            var json = payload.ToJsonString();
            if (subscription.PendingRequestId is { } requestId)
            {
                subscription.PendingRequestId = null;
                subscription.LastJson = json;
                payload["requestId"] = requestId;
                Answer(WsOutbound.Session("subscribe_checkout_diff_response", payload));
            }
            else if (json != subscription.LastJson)
            {
                subscription.LastJson = json;
                Context.Parent.Tell(new Pushed(WsOutbound.Session("checkout_diff_update", payload)));
            }
            if (subscription.Again) { subscription.Again = false; Compute(subscription); }
        });
    }

    private bool OnGitRequest(string type, string? requestId, RequestReader request)
    {
        switch (type)
        {
            case "subscribe_checkout_diff_request": OnSubscribeDiff(requestId!, request); return true;
            case "create_paseo_worktree_request": OnCreateWorktree(requestId!, request); return true;
            case "checkout_pr_status_request":
            {
                var cwd = request.RequiredPath("cwd");
                _checkouts.Ask<CheckoutChanged>(new GetCheckout(Expand(cwd)), TimeSpan.FromSeconds(55)).PipeTo(Self,
                    success: changed => new Built(WsOutbound.Session("checkout_pr_status_response", changed.Snapshot.PrStatusJson(cwd, requestId!))),
                    failure: e => new Built(WsOutbound.Session("checkout_pr_status_response", new JsonObject
                    {
                        ["cwd"] = cwd, ["status"] = null, ["githubFeaturesEnabled"] = true, ["error"] = CheckoutError.Unknown(e.GetBaseException().Message).ToJson(), ["requestId"] = requestId,
                    })));
                return true;
            }
            case "checkout_pr_create_request": OnCreatePullRequest(requestId!, request); return true;
            case "pull_request_timeline_request": OnTimeline(requestId!, request); return true;
            case "github_search_request":
            {
                var cwd = request.RequiredPath("cwd");
                var searched = request.RequiredString("query");
                var searchLimit = request.OptionalInt("limit") ?? 20;
                if (searchLimit is < 1 or > 50) throw new InvalidRequestException("limit must be from 1 to 50");
                var kinds = request.OptionalArray("kinds")?.Select(k => k is JsonValue v && v.TryGetValue<string>(out var s) && s is "github-issue" or "github-pr" ? s
                    : throw new InvalidRequestException("kinds must be github-issue or github-pr")).ToList();
                var github = _shared.GitHub;
                var path = Expand(cwd);
                github.SearchAsync(path, searched, (int)searchLimit, kinds?.Contains("github-issue") ?? true, kinds?.Contains("github-pr") ?? true).PipeTo(Self,
                    success: found => new Built(WsOutbound.Session("github_search_response", new JsonObject
                    {
                        ["items"] = found.Items, ["githubFeaturesEnabled"] = found.FeaturesEnabled, ["error"] = null, ["requestId"] = requestId,
                    })),
                    failure: e => new Built(WsOutbound.Session("github_search_response", new JsonObject
                    {
                        ["items"] = new JsonArray(), ["githubFeaturesEnabled"] = true, ["error"] = e.GetBaseException().Message, ["requestId"] = requestId,
                    })));
                return true;
            }
            case "paseo_worktree_list_request":
                _worktrees.Ask<WorktreesActor.WorktreeListed>(new WorktreesActor.ListWorktrees(request.OptionalString("cwd"), request.OptionalString("repoRoot")), TimeSpan.FromSeconds(55))
                    .PipeTo(Self, success: listed =>
                    {
                        var payload = JsonObject.Create(listed.Fields)!;
                        payload["requestId"] = requestId;
                        return new Built(WsOutbound.Session("paseo_worktree_list_response", payload));
                    }, failure: e => new Built(WsOutbound.Session("paseo_worktree_list_response", new JsonObject
                    {
                        ["worktrees"] = new JsonArray(), ["error"] = CheckoutError.Unknown(e.GetBaseException().Message).ToJson(), ["requestId"] = requestId,
                    })));
                return true;
            case "paseo_worktree_archive_request":
            {
                var session = Context.Parent;
                // `force` is Paseo.NET's own: without it a worktree with uncommitted changes is kept (its work exists nowhere else).
                _worktrees.Ask<WorktreesActor.WorktreeArchived>(new WorktreesActor.ArchiveWorktree(request.OptionalString("worktreePath"), request.OptionalString("repoRoot"),
                        request.OptionalString("branchName"), request.OptionalBool("force") ?? false), TimeSpan.FromSeconds(130))
                    .PipeTo(Self, success: archived =>
                    {
                        foreach (var agentId in archived.RemovedAgents)
                            session.Tell(new Pushed(WsOutbound.Session("agent_deleted", new JsonObject { ["agentId"] = agentId, ["requestId"] = requestId })));
                        return new Built(WsOutbound.Session("paseo_worktree_archive_response", new JsonObject
                        {
                            ["success"] = archived.Success, ["removedAgents"] = new JsonArray([.. archived.RemovedAgents.Select(a => (JsonNode)a)]),
                            ["error"] = archived.Error?.ToJson(), ["requestId"] = requestId,
                        }));
                    }, failure: e => new Built(WsOutbound.Session("paseo_worktree_archive_response", new JsonObject
                    {
                        ["success"] = false, ["removedAgents"] = new JsonArray(), ["error"] = CheckoutError.Unknown(e.GetBaseException().Message).ToJson(), ["requestId"] = requestId,
                    })));
                return true;
            }
            case "unsubscribe_checkout_diff_request":
                var id = request.RequiredString("subscriptionId");
                if (_diffs.Remove(id, out var removed)) Release(removed.Cwd);
                Answer(null);
                return true;
            case "checkout_commit_request":
                Mutate(requestId!, "checkout_commit_response", request, (ops, cwd, _, cancel) =>
                    ops.CommitAsync(cwd, request.OptionalString("message"), request.OptionalBool("addAll") ?? true, cancel));
                return true;
            case "checkout_merge_request":
                var strategy = request.OneOf("strategy", ["merge", "squash"], "merge");
                Mutate(requestId!, "checkout_merge_response", request, (ops, cwd, snapshot, cancel) =>
                    ops.MergeAsync(cwd, request.OptionalString("baseRef"), strategy, request.OptionalBool("requireCleanTarget") ?? false, snapshot.BaseRef, snapshot.IsPaseoOwnedWorktree, cancel));
                return true;
            case "checkout_merge_from_base_request":
                Mutate(requestId!, "checkout_merge_from_base_response", request, (ops, cwd, snapshot, cancel) =>
                    ops.MergeFromBaseAsync(cwd, request.OptionalString("baseRef"), request.OptionalBool("requireCleanTarget") ?? true, snapshot.BaseRef, snapshot.IsPaseoOwnedWorktree, cancel));
                return true;
            case "checkout_pull_request":
                Mutate(requestId!, "checkout_pull_response", request, (ops, cwd, _, cancel) => ops.PullAsync(cwd, cancel));
                return true;
            case "checkout_push_request":
                Mutate(requestId!, "checkout_push_response", request, (ops, cwd, _, cancel) => ops.PushAsync(cwd, cancel));
                return true;
            case "checkout_switch_branch_request":
                var branch = request.RequiredString("branch");
                string? source = null;
                Mutate(requestId!, "checkout_switch_branch_response", request, async (ops, cwd, _, cancel) => source = await ops.SwitchBranchAsync(cwd, branch, cancel),
                    payload =>
                    {
                        payload["branch"] = branch;
                        if (payload["success"]!.GetValue<bool>()) payload["source"] = source;
                    });
                return true;
            case "stash_save_request":
                Mutate(requestId!, "stash_save_response", request, (ops, cwd, _, cancel) => ops.StashSaveAsync(cwd, request.OptionalString("branch"), cancel));
                return true;
            case "stash_pop_request":
                var index = request.OptionalInt("stashIndex") ?? throw new InvalidRequestException("stashIndex is required");
                if (index < 0) throw new InvalidRequestException("stashIndex must be ≥ 0");
                Mutate(requestId!, "stash_pop_response", request, (ops, cwd, _, cancel) => ops.StashPopAsync(cwd, index, cancel));
                return true;
            case "stash_list_request":
                var paseoOnly = request.OptionalBool("paseoOnly") ?? true;
                Query(requestId!, "stash_list_response", request.RequiredPath("cwd"), async (ops, cwd, cancel) => new JsonObject { ["entries"] = await ops.StashListAsync(cwd, paseoOnly, cancel) },
                    error => new JsonObject { ["entries"] = new JsonArray(), ["error"] = error.ToJson() });
                return true;
            case "branch_suggestions_request":
                var limit = request.OptionalInt("limit") ?? 50;
                if (limit is < 1 or > 200) throw new InvalidRequestException("limit must be from 1 to 200");
                var query = request.OptionalString("query");
                Query(requestId!, "branch_suggestions_response", request.RequiredPath("cwd"), async (ops, cwd, cancel) =>
                {
                    var details = await ops.BranchSuggestionsAsync(cwd, query, (int)limit, cancel);
                    return new JsonObject { ["branches"] = new JsonArray([.. details.Select(d => (JsonNode)d!["name"]!.GetValue<string>())]), ["branchDetails"] = details };
                }, error => new JsonObject { ["branches"] = new JsonArray(), ["branchDetails"] = new JsonArray(), ["error"] = error.Message }, echoCwd: false);
                return true;
            case "validate_branch_request":
                var name = request.RequiredString("branchName");
                Query(requestId!, "validate_branch_response", request.RequiredPath("cwd"), async (ops, cwd, cancel) =>
                {
                    var (exists, resolved, remote) = await ops.ValidateBranchAsync(cwd, name, cancel);
                    return new JsonObject { ["exists"] = exists, ["resolvedRef"] = resolved, ["isRemote"] = remote };
                }, error => new JsonObject { ["exists"] = false, ["resolvedRef"] = null, ["isRemote"] = false, ["error"] = error.Message }, echoCwd: false);
                return true;
        }
        return false;
    }

    /// <summary>create_paseo_worktree (§4.3): the reply carries the fixed descriptor; setup progress follows as pushes to this session.</summary>
    private void OnCreateWorktree(string requestId, RequestReader request)
    {
        var cwd = request.RequiredPath("cwd");
        var refName = request.OptionalString("refName");
        if (refName is { Length: 0 }) throw new InvalidRequestException("refName must not be empty");
        var action = request.Message.ContainsKey("action") ? request.OneOf("action", ["branch-off", "checkout"], "") : null;
        if (action is { Length: 0 }) throw new InvalidRequestException("action must be branch-off or checkout");
        var prNumber = request.OptionalInt("githubPrNumber");
        if (prNumber is <= 0) throw new InvalidRequestException("githubPrNumber must be > 0");
        var seed = request.OptionalObject("firstAgentContext") is { } context ? RequestReader.Of(context).OptionalString("prompt") : request.OptionalString("nameContext");
        if (prNumber is not null)
        {
            Answer(WsOutbound.Session("create_paseo_worktree_response", new JsonObject
            {
                ["workspace"] = null, ["error"] = "Worktrees of GitHub pull requests need the GitHub CLI support, which this daemon does not have yet",
                ["errorCode"] = "unknown", ["setupTerminalId"] = null, ["requestId"] = requestId,
            }));
            return;
        }
        var expanded = Expand(cwd);
        _worktrees.Ask<WorktreesActor.WorktreeCreated>(new WorktreesActor.CreateWorktree(expanded, request.OptionalString("worktreeSlug"), refName, action, seed, Context.Parent), TimeSpan.FromSeconds(130))
            .PipeTo(Self, success: created =>
            {
                if (created.Workspace is not { } workspace || created.Worktree is not { } worktree)
                    return new Built(WsOutbound.Session("create_paseo_worktree_response", new JsonObject
                    {
                        ["workspace"] = null, ["error"] = created.Error, ["errorCode"] = created.ErrorCode ?? "unknown", ["setupTerminalId"] = null, ["requestId"] = requestId,
                    }));
                var registry = _shared.Current;
                var descriptor = WorkspaceDescriptors.Build(registry, workspace, "done", null);
                // The reply's descriptor is fixed (§4.3): no git data yet but what is known, and no project key.
                descriptor["name"] = worktree.Branch;
                descriptor["diffStat"] = new JsonObject { ["additions"] = 0, ["deletions"] = 0 };
                descriptor["gitRuntime"] = new JsonObject
                {
                    ["currentBranch"] = worktree.Branch, ["remoteUrl"] = null, ["isPaseoOwnedWorktree"] = true, ["isDirty"] = false,
                    ["aheadBehind"] = null, ["aheadOfOrigin"] = null, ["behindOfOrigin"] = null,
                };
                descriptor["githubRuntime"] = null;
                descriptor.Remove("project");
                return new Built(WsOutbound.Session("create_paseo_worktree_response", new JsonObject
                {
                    ["workspace"] = descriptor, ["error"] = null, ["setupTerminalId"] = null, ["requestId"] = requestId,
                }));
            }, failure: e => new Built(WsOutbound.Session("create_paseo_worktree_response", new JsonObject
            {
                ["workspace"] = null, ["error"] = e.GetBaseException().Message, ["errorCode"] = "unknown", ["setupTerminalId"] = null, ["requestId"] = requestId,
            })));
    }

    /// <summary>
    /// checkout_pr_create (§3.7): the branch is pushed, then the PR is opened through gh's REST call. Without a title or body
    /// (the app sends neither) Paseo asks a model; Paseo.NET takes the branch's newest commit subject and lists its commits.
    /// </summary>
    private void OnCreatePullRequest(string requestId, RequestReader request)
    {
        var cwd = request.RequiredPath("cwd");
        var title = request.OptionalString("title")?.Trim();
        var body = request.OptionalString("body")?.Trim();
        var requestedBase = request.OptionalString("baseRef");
        var path = WorkspacePaths.Normalize(cwd);
        var git = _shared.Git;
        var github = _shared.GitHub;
        var checkouts = _checkouts;
        async Task<JsonObject> Run()
        {
            var snapshot = (await checkouts.Ask<CheckoutChanged>(new GetCheckout(path), TimeSpan.FromSeconds(55))).Snapshot;
            if (!snapshot.IsGit) throw new CheckoutFailure(CheckoutError.NotGitRepo(cwd));
            var repo = GitHubCli.GitHubRepo(snapshot.RemoteUrl) ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine GitHub repo from git remote"));
            var head = snapshot.CurrentBranch ?? throw new CheckoutFailure(CheckoutError.Unknown("Unable to determine current branch for pull request"));
            CheckoutOperations.CheckBase(requestedBase, snapshot.BaseRef, snapshot.IsPaseoOwnedWorktree);
            var baseName = CheckoutOperations.BranchName(requestedBase ?? snapshot.BaseRef ?? throw new CheckoutFailure(CheckoutError.Unknown("Base branch is required for pull request")));
            await new CheckoutOperations(git).PushAsync(path);
            if (string.IsNullOrEmpty(title) || string.IsNullOrEmpty(body))
            {
                var range = await CheckoutSnapshot.RefExistsAsync(git, path, $"refs/remotes/origin/{baseName}", CancellationToken.None) ? $"origin/{baseName}..{head}" : $"{baseName}..{head}";
                var subjects = (await git.RunAsync(path, ["log", "--format=%s", "-n", "50", range], GitRun.Read)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (string.IsNullOrEmpty(title)) title = subjects.FirstOrDefault() is { } newest ? newest[..Math.Min(newest.Length, 72)] : "Update changes";
                if (string.IsNullOrEmpty(body)) body = subjects.Length > 0 ? string.Join("\n", subjects.Reverse().Select(s => "- " + s)) : "Automated PR generated by Paseo.";
            }
            string[] args = ["api", "-X", "POST", $"repos/{repo.Owner}/{repo.Repo}/pulls", "-f", $"title={title}", "-f", $"head={head}", "-f", $"base={baseName}", "-f", $"body={body}"];
            var created = JsonNode.Parse(await github.RunAsync(path, args, cached: false));
            await checkouts.Ask<CheckoutChanged>(new GetCheckout(path, Force: true), TimeSpan.FromSeconds(55));
            return new JsonObject { ["cwd"] = cwd, ["url"] = created?["url"]?.GetValue<string>(), ["number"] = created?["number"]?.GetValue<long>(), ["error"] = null, ["requestId"] = requestId };
        }
        Run().PipeTo(Self, success: payload => new Built(WsOutbound.Session("checkout_pr_create_response", payload)),
            failure: e => new Built(WsOutbound.Session("checkout_pr_create_response", new JsonObject
            {
                ["cwd"] = cwd, ["url"] = null, ["number"] = null,
                ["error"] = (e.GetBaseException() is CheckoutFailure failure ? failure.Error : CheckoutError.Unknown(e.GetBaseException().Message)).ToJson(), ["requestId"] = requestId,
            })));
    }

    /// <summary>pull_request_timeline (§3.7): reviews and comments; gh missing or logged out is an rpc_error, as in Paseo.</summary>
    private void OnTimeline(string requestId, RequestReader request)
    {
        var cwd = request.RequiredPath("cwd");
        var number = request.OptionalInt("prNumber") ?? throw new InvalidRequestException("prNumber is required");
        var owner = request.RequiredString("repoOwner");
        var name = request.RequiredString("repoName");
        JsonObject Payload(JsonArray items, bool truncated, JsonObject? error) => new()
        {
            ["cwd"] = cwd, ["prNumber"] = number, ["items"] = items, ["truncated"] = truncated, ["error"] = error, ["requestId"] = requestId, ["githubFeaturesEnabled"] = true,
        };
        static bool Valid(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
        if (number <= 0 || !Valid(owner) || !Valid(name))
        {
            Answer(WsOutbound.Session("pull_request_timeline_response", Payload([], false, new JsonObject { ["kind"] = "unknown", ["message"] = "Pull request timeline request has invalid PR identity" })));
            return;
        }
        var github = _shared.GitHub;
        var path = Expand(cwd);
        async Task<string> Run()
        {
            try
            {
                await github.RunAsync(path, ["auth", "status"], cached: false);
            }
            catch (GitHubException e) when (e.Unavailable)
            {
                return WsOutbound.RpcError(requestId, "pull_request_timeline_request", $"Request failed: {e.Message}", "handler_error");
            }
            catch (GitHubException e)
            {
                return WsOutbound.RpcError(requestId, "pull_request_timeline_request", $"Request failed: {e.Message}", "handler_error");
            }
            try
            {
                var answer = JsonNode.Parse(await github.RunAsync(path, ["api", "graphql", "-f", $"query={GitHubTimeline.Query}", "-F", $"owner={owner}", "-F", $"name={name}", "-F", $"number={number}"]));
                return GitHubTimeline.Map(answer) is { } mapped
                    ? WsOutbound.Session("pull_request_timeline_response", Payload(mapped.Items, mapped.Truncated, null))
                    : WsOutbound.Session("pull_request_timeline_response", Payload([], false, new JsonObject { ["kind"] = "not_found", ["message"] = "Pull request not found" }));
            }
            catch (Exception e) when (e is GitHubException or System.Text.Json.JsonException)
            {
                return WsOutbound.Session("pull_request_timeline_response", Payload([], false, new JsonObject { ["kind"] = "unknown", ["message"] = e.Message }));
            }
        }
        Run().PipeTo(Self, success: json => new Built(json),
            failure: e => new Built(WsOutbound.RpcError(requestId, "pull_request_timeline_request", $"Request failed: {e.GetBaseException().Message}", "handler_error")));
    }

    private string Expand(string cwd) => WorkspacePaths.Normalize(WorkspacePaths.ExpandHome(cwd, _userHome));

    private void OnSubscribeDiff(string requestId, RequestReader request)
    {
        var id = request.RequiredString("subscriptionId");
        var cwd = request.RequiredPath("cwd");
        var compareJson = request.OptionalObject("compare") ?? throw new InvalidRequestException("compare is required");
        var compareReader = RequestReader.Of(compareJson);
        var mode = compareReader.OneOf("mode", ["uncommitted", "base"], "");
        if (mode.Length == 0) throw new InvalidRequestException("compare.mode must be uncommitted or base");
        var compare = new DiffCompare(mode, mode == "base" ? compareReader.OptionalString("baseRef") : null, compareReader.OptionalBool("ignoreWhitespace") ?? false);
        var path = Expand(cwd);
        // A subscription with an id already in use replaces the old one (its pending answer, if any, still goes out).
        var subscription = new DiffSubscription(id, path, WorkspacePaths.ExpandHome(cwd, _userHome), compare) { PendingRequestId = requestId };
        _diffs[id] = subscription;
        Observe(path, deep: true);
        Compute(subscription);
    }

    private void RefreshDiffs(string cwd)
    {
        foreach (var subscription in _diffs.Values.Where(d => d.Cwd == cwd)) Compute(subscription);
    }

    private void Compute(DiffSubscription subscription)
    {
        if (subscription.Computing) { subscription.Again = true; return; }
        subscription.Computing = true;
        var git = _shared.Git;
        var snapshot = _snapshots.GetValueOrDefault(subscription.Cwd);
        CheckoutDiff.ComputeAsync(git, subscription.Cwd, subscription.Compare, snapshot?.BaseRef, snapshot?.IsPaseoOwnedWorktree ?? false)
            .PipeTo(Self, success: result => new DiffComputed(subscription.Id, subscription, result),
                failure: e => new DiffComputed(subscription.Id, subscription, new CheckoutDiff.Result([], CheckoutError.Unknown(e.GetBaseException().Message))));
    }

    /// <summary>
    /// A checkout mutation: the snapshot first (for the base branch), then the operation, then a forced refresh (observers
    /// get checkout_status_update and workspace_update, diff panes their new diff), then the reply `{cwd, success, error}`.
    /// </summary>
    private void Mutate(string requestId, string responseType, RequestReader request, Func<CheckoutOperations, string, CheckoutSnapshot, CancellationToken, Task> operation,
        Action<JsonObject>? shape = null)
    {
        var cwd = request.RequiredPath("cwd");
        var path = WorkspacePaths.Normalize(cwd);
        var checkouts = _checkouts;
        var ops = new CheckoutOperations(_shared.Git);
        async Task<JsonObject> Run()
        {
            var payload = new JsonObject { ["cwd"] = cwd };
            try
            {
                using var limit = new CancellationTokenSource(MutationTimeout);
                var snapshot = (await checkouts.Ask<CheckoutChanged>(new GetCheckout(path), TimeSpan.FromSeconds(60))).Snapshot;
                await operation(ops, path, snapshot, limit.Token);
                payload["success"] = true;
                payload["error"] = null;
            }
            catch (CheckoutFailure e)
            {
                payload["success"] = false;
                payload["error"] = e.Error.ToJson();
            }
            catch (GitCommandException e)
            {
                payload["success"] = false;
                payload["error"] = CheckoutError.Unknown(e.Message).ToJson();
            }
            // What git did (or half did) is read again either way, and pushed to whoever shows it.
            try { await checkouts.Ask<CheckoutChanged>(new GetCheckout(path, Force: true), TimeSpan.FromSeconds(60)); }
            catch (AskTimeoutException) { }
            shape?.Invoke(payload);
            payload["requestId"] = requestId;
            return payload;
        }
        Run().PipeTo(Self, success: payload => new Built(WsOutbound.Session(responseType, Ordered(payload, responseType))),
            failure: e => new Built(WsOutbound.Session(responseType, new JsonObject
            {
                ["cwd"] = cwd, ["success"] = false, ["error"] = CheckoutError.Unknown(e.GetBaseException().Message).ToJson(), ["requestId"] = requestId,
            })));
    }

    /// <summary>switch_branch's reply keeps Paseo's key order: cwd, success, branch, source, error, requestId.</summary>
    private static JsonObject Ordered(JsonObject payload, string responseType)
    {
        if (responseType != "checkout_switch_branch_response") return payload;
        var ordered = new JsonObject();
        foreach (var key in new[] { "cwd", "success", "branch", "source", "error", "requestId" })
            if (payload.ContainsKey(key)) ordered[key] = payload[key]?.DeepClone();
        return ordered;
    }

    /// <summary>A read-only git query answered `{cwd?, ..., error, requestId}`; a failure is answered with <paramref name="onError"/>'s fields.</summary>
    private void Query(string requestId, string responseType, string cwd, Func<CheckoutOperations, string, CancellationToken, Task<JsonObject>> query,
        Func<CheckoutError, JsonObject> onError, bool echoCwd = true)
    {
        var path = WorkspacePaths.Normalize(WorkspacePaths.ExpandHome(cwd, _userHome));
        var ops = new CheckoutOperations(_shared.Git);
        async Task<JsonObject> Run()
        {
            JsonObject fields;
            try
            {
                fields = await query(ops, path, CancellationToken.None);
                fields["error"] = null;
            }
            catch (CheckoutFailure e)
            {
                fields = onError(e.Error);
            }
            catch (GitCommandException e)
            {
                fields = onError(CheckoutError.Unknown(e.Message));
            }
            var payload = new JsonObject();
            if (echoCwd) payload["cwd"] = cwd;
            foreach (var (key, value) in fields) payload[key] = value?.DeepClone();
            payload["requestId"] = requestId;
            return payload;
        }
        Run().PipeTo(Self, success: payload => new Built(WsOutbound.Session(responseType, payload)),
            failure: e => new Built(WsOutbound.Session(responseType, OnFailure(e))));

        JsonObject OnFailure(Exception e)
        {
            var payload = new JsonObject();
            if (echoCwd) payload["cwd"] = cwd;
            foreach (var (key, value) in onError(CheckoutError.Unknown(e.GetBaseException().Message))) payload[key] = value?.DeepClone();
            payload["requestId"] = requestId;
            return payload;
        }
    }
}
