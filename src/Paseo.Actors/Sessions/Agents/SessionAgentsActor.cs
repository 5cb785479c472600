using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Agents;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;
using TerminalProtocol = Paseo.Actors.Terminals.TerminalProtocol;

namespace Paseo.Actors.Sessions.Agents;

/// <summary>
/// One session's agent requests (`sessions/session-&lt;id&gt;/agents`; app-schemas.md §F): each <see cref="AgentRequest"/>
/// its session hands it is asked of the agents off this thread and answered exactly once with an
/// <see cref="Answered"/> (so the session's cap on requests in flight holds). It also pushes what the agents publish,
/// in the order they publish it: every agent_stream event (only the focused agent's to a mobile client that said so),
/// and the agent_update subscription — pushes for agents matching the filter of the last subscribing fetch_agents,
/// held while that fetch's response is built and then sent after it, newest per agent.
/// </summary>
public sealed class SessionAgentsActor : ReceiveActor
{
    // Below the clients' own timeouts (10 s for fetch/archive/delete), so they get an error rather than silence.
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(9);
    // send waits for the run to start (Paseo waits up to 15 s; its client, 15 s too).
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(14);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _agents;
    private readonly SessionServices? _services;
    private bool _reasoningMergeEnum;
    private bool _mobile;
    private string? _focusedAgentId;
    private AgentFilter? _subscription;
    // agent_update frames held while a subscribing fetch_agents_response is built: the newest per agent.
    private Dictionary<string, string>? _bufferedUpdates;
    // wait_for_finish requests not answered yet, by wait id, with the agent that took them once it is known.
    private readonly Dictionary<long, (string RequestId, IActorRef? Agent)> _waits = [];
    private long _nextWait;

    public SessionAgentsActor(IActorRef agents, SessionServices? services)
    {
        _agents = agents;
        _services = services;
        Receive<ClientReadsReasoningMerge>(client => { _reasoningMergeEnum = client.Value; });
        Receive<ClientFocus>(focus =>
        {
            _mobile = focus.Mobile;
            _focusedAgentId = focus.FocusedAgentId;
        });
        // Stream events and agent updates come through this one actor, so the client sees them in the order the agent made them.
        Receive<AgentStreamEvent>(stream =>
        {
            if (_mobile && _focusedAgentId != stream.AgentId.Value) return;
            Context.Parent.Tell(new Pushed(stream.Frame));
            if (stream.PermissionFrame is not null) Context.Parent.Tell(new Pushed(stream.PermissionFrame));
        });
        Receive<AgentRequest>(OnRequest);
        Receive<Reply>(reply =>
        {
            Context.Parent.Tell(new Answered(reply.Json));
            if (reply.FlushAfter) FlushBufferedUpdates();
        });
        Receive<FinishResult>(result => AnswerWait(result.WaitId, requestId => AgentResponses.WaitFinished(requestId, result)));
        Receive<AgentNotFound>(notFound => AnswerWait(notFound.CorrelationId, requestId => AgentResponses.WaitError(requestId, notFound.Error)));
        Receive<WaitForwarded>(forwarded =>
        {
            if (!_waits.TryGetValue(forwarded.WaitId, out var wait)) return; // already answered
            _waits[forwarded.WaitId] = (wait.RequestId, forwarded.Agent);
            Context.Watch(forwarded.Agent);
        });
        // An agent that stopped without answering its waits (its mailbox dropped) ends them here.
        Receive<Terminated>(terminated =>
        {
            foreach (var waitId in _waits.Where(w => terminated.ActorRef.Equals(w.Value.Agent)).Select(w => w.Key).ToList())
                AnswerWait(waitId, requestId => AgentResponses.WaitError(requestId, "The agent stopped before it finished"));
        });
        Receive<AgentChanged>(changed =>
        {
            if (_subscription is null) return;
            // An agent that no longer matches the subscription's filter is sent as a remove.
            Push(changed.Agent.Id, _subscription.Matches(changed.Agent, DaemonWorkspaces.Get(Context.System).Current)
                ? changed.UpsertFrame : AgentResponses.Removed(changed.Agent.Id));
        });
        Receive<AgentRemoved>(removed =>
        {
            if (_subscription is not null) Push(removed.AgentId.Value, AgentResponses.Removed(removed.AgentId.Value));
        });
    }

    public static Props Props(IActorRef agents, SessionServices? services) => Akka.Actor.Props.Create(() => new SessionAgentsActor(agents, services));

    /// <summary>From the session, on each attach: whether the client reads the reasoning-merge enum in timeline rows (its hello said so).</summary>
    public sealed record ClientReadsReasoningMerge(bool Value);

    /// <summary>From the session, on each client_heartbeat: a mobile client gets the stream of its focused agent only.</summary>
    public sealed record ClientFocus(bool Mobile, string? FocusedAgentId);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AgentStreamEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AgentChanged));
        Context.System.EventStream.Subscribe(Self, typeof(AgentRemoved));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Push(string agentId, string frame)
    {
        if (_bufferedUpdates is not null) _bufferedUpdates[agentId] = frame;
        else Context.Parent.Tell(new Pushed(frame));
    }

    private void FlushBufferedUpdates()
    {
        var buffered = _bufferedUpdates;
        _bufferedUpdates = null;
        if (buffered is null) return;
        foreach (var frame in buffered.Values) Context.Parent.Tell(new Pushed(frame));
    }

    private void Answer(string? json) => Context.Parent.Tell(new Answered(json));

    private void OnRequest(AgentRequest request)
    {
        try
        {
            Handle(request);
        }
        catch (Exception e)
        {
            // A handler bug or input it did not expect: the request fails (and is still answered once), the session goes on.
            _log.Error(e, "Request {0} failed", request.Type);
            Answer(request.RequestId is { } requestId ? WsOutbound.RpcError(requestId, request.Type, $"Request failed: {e.Message}", "handler_error")
                : WsOutbound.StatusError($"Request failed: {request.Type}: {e.Message}"));
        }
    }

    private void Handle(AgentRequest request)
    {
        switch (request)
        {
            case FetchAgentsRequest fetch:
                OnFetchAgents(fetch);
                break;
            case FetchAgentRequest fetch:
                var system = Context.System;
                Ask(new ToAgent(fetch.AgentId, GetSnapshot.Instance), answer => AgentResponses.FetchAgent(fetch, answer, DaemonWorkspaces.Get(system).Current),
                    e => WsOutbound.RpcError(fetch.Id, fetch.Type, $"Request failed: {e.Message}", "handler_error"));
                break;
            case RefreshAgentRequest refresh:
                Ask(new ToAgent(refresh.AgentId, RefreshAgent.Instance), answer => AgentResponses.Refreshed(refresh, answer),
                    e => WsOutbound.RpcError(refresh.Id, refresh.Type, e.Message, "refresh_agent_failed"));
                break;
            case ResumeAgentRequest { Provider: null } resume:
                Answer(AgentResponses.CreateFailed(resume.Id, "resume_agent_request needs a persistence handle"));
                break;
            case ResumeAgentRequest resume:
                Ask(new ResumeSession(resume.Provider, resume.SessionId!, resume.Cwd, resume.Labels), answer => AgentResponses.Resumed(resume.Id, answer),
                    e => AgentResponses.CreateFailed(resume.Id, e.Message));
                break;
            case ListCommandsRequest list when list.AgentId.Length == 0:
                Answer(AgentResponses.Commands(list, list.HasDraftConfig ? "Agent does not support listing commands" : "Agent not found: "));
                break;
            case ListCommandsRequest list:
                Ask(new ToAgent(list.AgentId, GetSnapshot.Instance), answer => AgentResponses.Commands(list, answer switch
                {
                    AgentSnapshot { Live: true } => "Agent does not support listing commands",
                    AgentSnapshot => $"Agent not found: {list.AgentId}",
                    AgentNotFound notFound => notFound.Error,
                    _ => "Unexpected answer",
                }), e => AgentResponses.Commands(list, e.Message));
                break;
            case CreateAgentRequest create:
                OnCreateAgent(create);
                break;
            case SendAgentMessageRequest { Problem: { } problem } send:
                Answer(AgentResponses.Sent(send.Id, send.AgentId, false, problem));
                break;
            case SendAgentMessageRequest send:
                Ask(new ToAgent(send.AgentId, new SendMessage(send.Text, send.MessageId, send.Images)), answer => AgentResponses.Sent(send, answer),
                    e => AgentResponses.Sent(send.Id, send.AgentId, false, e is AskTimeoutException ? "Timed out waiting for the run to start" : e.Message), SendTimeout);
                break;
            case ArchiveAgentRequest archive:
                Ask(new ToAgent(archive.AgentId, Archive.Instance), answer => AgentResponses.Archived(archive, answer),
                    e => WsOutbound.RpcError(archive.Id, archive.Type, $"Request failed: {e.Message}", "handler_error"));
                break;
            case DeleteAgentRequest delete:
                Ask(new ToAgent(delete.AgentId, Delete.Instance), answer => AgentResponses.Deleted(delete, answer),
                    e => WsOutbound.RpcError(delete.Id, delete.Type, $"Request failed: {e.Message}", "handler_error"));
                break;
            case CloseItemsRequest close:
                OnCloseItems(close);
                break;
            case FetchAgentTimelineRequest timeline:
                Ask(new ToAgent(timeline.AgentId, new FetchTimeline(timeline.Query, _reasoningMergeEnum)), answer => AgentResponses.Timeline(timeline, answer),
                    e => WsOutbound.RpcError(timeline.Id, timeline.Type, $"Request failed: {e.Message}", "handler_error"));
                break;
            case WaitForFinishRequest wait:
                // Told to the agent (not asked), with a wait id it answers with — by the timeout when one is given, when the
                // turn ends, or when a permission is asked — so a wait without a timeout holds no ask and no timer here.
                var waitId = ++_nextWait;
                _waits[waitId] = (wait.Id, null);
                _agents.Tell(new ToAgent(wait.AgentId, new WaitForFinish(wait.Timeout, waitId)));
                break;
            case SetAgentModeRequest mode:
                AskCommand(mode, mode.AgentId, new SetAgentMode(mode.ModeId), "set_agent_mode_response");
                break;
            case SetAgentModelRequest model:
                AskCommand(model, model.AgentId, new SetAgentModel(model.ModelId), "set_agent_model_response");
                break;
            case SetAgentThinkingRequest thinking:
                AskCommand(thinking, thinking.AgentId, new SetAgentThinking(thinking.ThinkingOptionId), "set_agent_thinking_response");
                break;
            case UpdateAgentRequest update:
                AskCommand(update, update.AgentId, new UpdateAgent(update.Name, update.Labels), "update_agent_response");
                break;
            case SetAgentFeatureRequest feature:
                Answer(AgentResponses.FeatureRefused(feature));
                break;
            case AgentPermissionResponse permission:
                Ask(new ToAgent(permission.AgentId, new RespondToPermission(permission.PermissionId, permission.Resolution)),
                    answer => AgentResponses.PermissionAnswered(permission, answer),
                    e => WsOutbound.RpcError(permission.PermissionId, permission.Type, $"Request failed: {e.Message}", "handler_error"));
                break;
            case CancelAgentRequest cancel:
                // No requestId, no reply (Paseo); errors only reach the log.
                Ask(new ToAgent(cancel.AgentId, Cancel.Instance), answer => cancel.Id is null ? null : AgentResponses.Canceled(cancel.Id, cancel.AgentId, answer), _ => null);
                break;
            case ClearAgentAttentionRequest clear:
                var asks = clear.AgentIds.Select(id => _agents.Ask<object>(new ToAgent(id, ClearAttention.Instance), AskTimeout)).ToList();
                Task.WhenAll(asks).PipeTo(Self, success: answers => new Reply(clear.Id is null || answers.Any(a => a is not AgentSnapshot) ? null
                        : AgentResponses.AttentionCleared(clear.Id, clear.Echo, answers.OfType<AgentSnapshot>())),
                    failure: _ => new Reply(null));
                break;
            default:
                throw new ArgumentException($"{request.Type} has no handler");
        }
    }

    /// <summary>Asks the agents off this thread; the answer (or the failure) becomes this request's one reply.</summary>
    private void Ask(object message, Func<object, string?> answered, Func<Exception, string?> failed, TimeSpan? timeout = null) =>
        _agents.Ask<object>(message, timeout ?? AskTimeout).PipeTo(Self, success: answer => new Reply(answered(answer)), failure: e => new Reply(failed(e)));

    /// <summary>The set_*/update replies: `{requestId, agentId, accepted, error}` under payload.</summary>
    private void AskCommand(AgentRequest request, string agentId, IAgentCommand command, string responseType) =>
        Ask(new ToAgent(agentId, command), answer => AgentResponses.CommandAnswered(responseType, request.RequestId!, agentId, answer),
            e => AgentResponses.CommandReply(responseType, request.RequestId!, agentId, false, e.Message));

    private void OnFetchAgents(FetchAgentsRequest fetch)
    {
        var sortKey = AgentListing.SortKey(fetch.Sort);
        var offset = 0;
        if (fetch.Cursor is { } cursor && !AgentListing.TryReadCursor(cursor, sortKey, out offset))
        {
            Answer(WsOutbound.RpcError(fetch.Id, fetch.Type, "Invalid cursor", "invalid_cursor"));
            return;
        }
        string? subscriptionId = null;
        if (fetch.Subscribe)
        {
            subscriptionId = fetch.SubscriptionId ?? Guid.NewGuid().ToString("D");
            _subscription = fetch.Filter;
            // Pushes wait until the response is out (then the newest per agent follows it), whatever the outcome.
            _bufferedUpdates ??= [];
        }
        var workspaces = DaemonWorkspaces.Get(Context.System);
        var flush = subscriptionId is not null;
        _agents.Ask<AgentList>(ListAgents.Instance, AskTimeout).PipeTo(Self,
            success: list => new Reply(AgentResponses.AgentsPage(fetch, list.Agents, workspaces.Current, offset, sortKey, subscriptionId), flush),
            failure: e => new Reply(WsOutbound.RpcError(fetch.Id, fetch.Type, $"Request failed: {e.Message}", fetch.History ? "fetch_agent_history_failed" : "fetch_agents_failed"),
                flush));
    }

    private void OnCreateAgent(CreateAgentRequest request)
    {
        if (request.Problem is { } problem)
        {
            Answer(AgentResponses.CreateFailed(request.Id, problem));
            return;
        }
        if (request.WorkspaceId is { } workspaceId && _services is not null && !DaemonWorkspaces.Get(Context.System).Current.Workspaces.ContainsKey(workspaceId))
        {
            Answer(AgentResponses.CreateFailed(request.Id, $"Workspace not found: {workspaceId}"));
            return;
        }
        var create = new CreateAgent(
            new AgentConfig(request.Provider, request.Cwd, request.ModeId, request.Model, request.ThinkingOptionId, request.Title, request.SystemPrompt),
            request.InitialPrompt, request.ClientMessageId, request.Labels, request.Images);
        // The agent's directory gets its workspace first (app-workspaces.md §2.3), so the app can open the agent from its first update;
        // with a worktree, the worktree is made first and becomes the agent's directory (§4.4).
        var agents = _agents;
        var services = _services;
        var git = request.Git;
        var gitRunner = DaemonWorkspaces.Get(Context.System).Git;
        async Task<object> Create()
        {
            var toCreate = create;
            if (git.CreateWorktree)
            {
                if (services is null) return new AgentCreateFailed("Worktrees are not available on this daemon");
                var made = await services.Worktrees.Ask<WorktreesActor.WorktreeCreated>(new WorktreesActor.CreateWorktree(create.Config.Cwd, git.Slug, git.BaseBranch, "branch-off",
                    git.BranchNamed ? null : create.InitialPrompt, null, DeferSetup: true), TimeSpan.FromSeconds(55));
                if (made.Worktree is not { } worktree || made.Workspace is not { } workspace)
                    return new AgentResponses.CreateFailedWithCode(made.Error ?? "Could not create the worktree", made.ErrorCode ?? "unknown");
                toCreate = create with { Config = create.Config with { Cwd = worktree.Path } };
                var answer = await agents.Ask<object>(toCreate, TimeSpan.FromSeconds(60));
                // Its setup runs once the agent exists, as rows of its timeline.
                if (answer is AgentCreated created) services.Worktrees.Tell(new WorktreesActor.RunAgentSetup(worktree, workspace.WorkspaceId, created.Agent.Id));
                return answer;
            }
            try
            {
                if (git.NewBranch is { } branch) await new CheckoutOperations(gitRunner).CreateBranchAsync(create.Config.Cwd, branch, git.BaseBranch);
                else if (git.BaseBranch is { } baseBranch) await new CheckoutOperations(gitRunner).SwitchBranchAsync(create.Config.Cwd, baseBranch);
            }
            catch (CheckoutFailure e)
            {
                return new AgentResponses.CreateFailedWithCode(e.Message, "unknown");
            }
            if (services is not null) await services.Registry.Ask<AgentWorkspaceReady>(new EnsureAgentWorkspace(toCreate.Config.Cwd), AskTimeout);
            return await agents.Ask<object>(toCreate, TimeSpan.FromSeconds(60));
        }
        Create().PipeTo(Self, success: answer => new Reply(AgentResponses.Created(request.Id, answer)),
            failure: e => new Reply(AgentResponses.CreateFailed(request.Id, e.Message)));
    }

    private void OnCloseItems(CloseItemsRequest close)
    {
        var asks = close.AgentIds.Select(id => _agents.Ask<object>(new ToAgent(id, Archive.Instance), AskTimeout)).ToList();
        // Terminals are killed as kill_terminal does (success whether or not it existed); without a terminal service, none is.
        var terminals = _services?.Terminals;
        var kills = close.TerminalIds.Select(id => terminals is null ? Task.FromResult(false)
            : terminals.Ask<TerminalProtocol.Killed>(new TerminalProtocol.KillTerminal(id), AskTimeout).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default)).ToList();
        var archived = Task.WhenAll(asks.Select(a => a.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default)));
        Task.WhenAll(archived, Task.WhenAll(kills)).PipeTo(Self,
            success: () => new Reply(AgentResponses.ItemsClosed(close, asks.Select(a => a.IsCompletedSuccessfully ? a.Result : null).OfType<Archived>(),
                kills.Select(k => k.Result).ToList())),
            failure: e => new Reply(WsOutbound.RpcError(close.Id, close.Type, $"Request failed: {e.Message}", "handler_error")));
    }

    private void AnswerWait(long waitId, Func<string, string> response)
    {
        if (!_waits.Remove(waitId, out var wait)) return;
        if (wait.Agent is { } agent && _waits.Values.All(w => !agent.Equals(w.Agent))) Context.Unwatch(agent);
        Answer(response(wait.RequestId));
    }

    /// <summary>A reply computed off the actor's thread; <see cref="FlushAfter"/> releases buffered agent_update pushes after it.</summary>
    private sealed record Reply(string? Json, bool FlushAfter = false) : INoSerializationVerificationNeeded;
}
