using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Mcp;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Mcp;

/// <summary>A tool that failed: its message becomes the result's text with <c>isError: true</c> (§4.4).</summary>
public sealed class McpToolException(string message) : Exception(message);

/// <summary>
/// The tools of one MCP session (app-orchestration.md §4.5), each done through the session's own client session of the
/// daemon (<see cref="McpClientActor"/>): the same requests, checks and limits as the app's. <see cref="Caller"/> is the
/// agent the session acts for (from its verified credential), or null for a top-level client.
/// </summary>
/// <param name="agents">The agents subsystem, for the two tools no session request does: kill_agent and notifyOnFinish's unrecorded prompt.</param>
public sealed class McpToolbox(IActorRef client, IActorRef agents, string? caller, string daemonCwd, string home)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);
    // Paseo's bounded wait: under the MCP clients' ~60 s tool timeout.
    public static readonly TimeSpan BoundedWait = TimeSpan.FromSeconds(30);

    public string? Caller => caller;

    private volatile bool _ended;

    /// <summary>Its client actor is gone (evicted, or its daemon session ended): every call fails at once from now on.</summary>
    public void MarkEnded() => _ended = true;

    // This session's bounded waits, by agent: its own prompt, cancel, archive or kill of that agent ends them (§4.5).
    private readonly Dictionary<string, List<(CancellationTokenSource Abort, string[] Reason)>> _waits = [];

    private void AbortWaits(string agentId, string reason)
    {
        lock (_waits)
        {
            if (!_waits.TryGetValue(agentId, out var waits)) return;
            foreach (var (abort, why) in waits)
            {
                why[0] = reason;
                abort.Cancel();
            }
        }
    }

    public IActorRef Client => client;

    public async Task<JsonObject> CallAsync(string tool, JsonObject args, CancellationToken cancel) => tool switch
    {
        "create_agent" => await CreateAgent(args, cancel),
        "wait_for_agent" => await WaitForAgent(Str(args, "agentId"), cancel),
        "send_agent_prompt" => await SendAgentPrompt(args, cancel),
        "get_agent_status" => await GetAgentStatus(Str(args, "agentId"), cancel),
        "list_agents" => await ListAgents(args, cancel),
        "cancel_agent" => await CancelAgent(Str(args, "agentId"), cancel),
        "archive_agent" => await Archive(Str(args, "agentId"), cancel),
        "kill_agent" => await KillAgent(Str(args, "agentId"), cancel),
        "update_agent" => await UpdateAgent(args, cancel),
        "set_agent_mode" => await SetAgentMode(Str(args, "agentId"), Str(args, "modeId"), cancel),
        "get_agent_activity" => await GetAgentActivity(Str(args, "agentId"), args["limit"] is JsonValue l ? (int)l.GetValue<double>() : 0, cancel),
        "list_pending_permissions" => await ListPendingPermissions(cancel),
        "respond_to_permission" => await RespondToPermission(args, cancel),
        "list_terminals" => await ListTerminals(args, cancel),
        "create_terminal" => await CreateTerminal(args, cancel),
        "kill_terminal" => await KillTerminal(Str(args, "terminalId"), cancel),
        "capture_terminal" => await CaptureTerminal(args, cancel),
        "send_terminal_keys" => await SendTerminalKeys(args, cancel),
        "create_schedule" => await CreateSchedule(args, cancel),
        "list_schedules" => new JsonObject { ["schedules"] = (await Session("schedule/list", [], cancel))["schedules"]!.DeepClone() },
        "inspect_schedule" => (await Session("schedule/inspect", new JsonObject { ["scheduleId"] = Str(args, "id") }, cancel))["schedule"]!.DeepClone().AsObject(),
        "pause_schedule" => await Done(Session("schedule/pause", new JsonObject { ["scheduleId"] = Str(args, "id") }, cancel)),
        "resume_schedule" => await Done(Session("schedule/resume", new JsonObject { ["scheduleId"] = Str(args, "id") }, cancel)),
        "delete_schedule" => await Done(Session("schedule/delete", new JsonObject { ["scheduleId"] = Str(args, "id") }, cancel)),
        "list_providers" => await ListProviders(cancel),
        "list_models" => await ListModels(Str(args, "provider"), cancel),
        "list_worktrees" => await ListWorktrees(args, cancel),
        "create_worktree" => await CreateWorktree(args, cancel),
        "archive_worktree" => await ArchiveWorktree(args, cancel),
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, "not a tool"),
    };

    // ---- the daemon's requests ----

    /// <summary>One session request; its reply's payload, or the rpc_error's text as the tool's error.</summary>
    private async Task<JsonObject> Session(string type, JsonObject fields, CancellationToken cancel, TimeSpan? timeout = null, bool expects = true,
        bool background = false)
    {
        if (_ended) throw new McpToolException("This MCP session has ended; start a new one");
        object answer;
        try
        {
            answer = await client.Ask<object>(new McpClientActor.Request(type, fields, expects, background), timeout ?? RequestTimeout, cancel);
        }
        catch (AskTimeoutException)
        {
            throw new McpToolException($"The daemon did not answer {type} in time");
        }
        switch (answer)
        {
            case McpClientActor.Refused refused:
                throw new McpToolException(refused.Reason);
            case McpClientActor.Reply { Message: var message }:
                var payload = message["payload"] as JsonObject ?? [];
                var messageType = WsInbound.Str(message, "type");
                if (messageType == "rpc_error") throw new McpToolException(WsInbound.Str(payload, "error") ?? "The request failed");
                if (messageType == "status" && WsInbound.Str(payload, "status") is "agent_create_failed") throw new McpToolException(WsInbound.Str(payload, "error") ?? "The agent could not be created");
                return payload;
            default:
                throw new McpToolException("Unexpected answer from the daemon");
        }
    }

    private static async Task<JsonObject> Done(Task<JsonObject> request)
    {
        await request;
        return new JsonObject { ["success"] = true };
    }

    /// <summary>True when <paramref name="agentId"/> is an agent the daemon holds, not archived.</summary>
    public async Task<bool> IsLiveAsync(string agentId, CancellationToken cancel) => await Agent(agentId, cancel) is { } agent && agent["archivedAt"] is null;

    private async Task<JsonObject?> Agent(string agentId, CancellationToken cancel)
    {
        try
        {
            return (await Session("fetch_agent_request", new JsonObject { ["agentId"] = agentId }, cancel))["agent"] as JsonObject;
        }
        catch (McpToolException e) when (e.Message.StartsWith("Agent not found", StringComparison.Ordinal) || e.Message.StartsWith("Agent identifier", StringComparison.Ordinal))
        {
            // Only "no such agent" is null: a refusal (too many calls) or a timeout stays the error it is.
            return null;
        }
    }

    /// <summary>The caller's snapshot, or null for a top-level client; a caller that is no agent: <c>Parent agent &lt;id&gt; not found</c>.</summary>
    private async Task<JsonObject?> CallerAgent(CancellationToken cancel)
    {
        if (caller is null) return null;
        return await Agent(caller, cancel) ?? throw new McpToolException($"Parent agent {caller} not found");
    }

    /// <summary>§4.3: a cwd given by the tool, `~` expanded, against the caller's cwd (or the daemon's); else the caller's, else required.</summary>
    private async Task<string> Cwd(JsonObject args, CancellationToken cancel, bool required = true)
    {
        var parent = await CallerAgent(cancel);
        var baseDir = parent is null ? daemonCwd : Str(parent, "cwd");
        if (WsInbound.Str(args, "cwd") is { Length: > 0 } given)
        {
            var expanded = given == "~" ? home : given.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, given[2..]) : given;
            return Path.GetFullPath(expanded, baseDir);
        }
        if (parent is not null) return baseDir;
        return required ? throw new McpToolException("cwd is required") : "";
    }

    // ---- agents ----

    private async Task<JsonObject> CreateAgent(JsonObject args, CancellationToken cancel)
    {
        var (provider, model) = ProviderModel(Str(args, "provider"), required: true);
        var parent = await CallerAgent(cancel);
        var cwd = await Cwd(args, cancel);
        if (parent is null && new[] { "worktreeName", "refName", "action", "githubPrNumber" }.Any(args.ContainsKey)) cwd = await AgentWorktree(args, cwd, cancel);
        var config = new JsonObject { ["provider"] = provider, ["cwd"] = cwd, ["model"] = model, ["title"] = Str(args, "title").Trim() };
        var mode = parent is null ? WsInbound.Str(args, "mode") : MapMode(WsInbound.Str(parent, "currentModeId"), Str(parent, "provider"), provider);
        if (mode is not null) config["modeId"] = mode;
        if (WsInbound.Str(args, "thinking") is { } thinking) config["thinkingOptionId"] = thinking;
        var labels = new JsonObject();
        if (caller is not null) labels["paseo.parent-agent-id"] = caller;
        if (args["labels"] is JsonObject given) foreach (var (k, v) in given) labels[k] = v?.DeepClone();
        var created = await Session("create_agent_request",
            new JsonObject { ["config"] = config, ["initialPrompt"] = Str(args, "initialPrompt").Trim(), ["labels"] = labels }, cancel);
        var agent = created["agent"] as JsonObject ?? [];
        var agentId = Str(created, "agentId");
        if (args["notifyOnFinish"] is JsonValue n && n.GetValue<bool>()) NotifyOnFinish(agentId, Str(agent, "title"));
        JsonObject result;
        if (args["background"] is JsonValue b && b.GetValue<bool>())
            result = new JsonObject { ["status"] = Str(agent, "status"), ["lastMessage"] = null, ["permission"] = null };
        else
        {
            try
            {
                result = await Wait(agentId, cancel);
                agent = await Agent(agentId, cancel) ?? agent;
            }
            catch (McpToolException)
            {
                // The agent exists: never an error that makes the caller create it again (§4.5: the status at creation).
                result = new JsonObject { ["status"] = Str(agent, "status"), ["lastMessage"] = null, ["permission"] = null };
            }
        }
        return new JsonObject
        {
            ["agentId"] = agentId, ["type"] = Str(agent, "provider"), ["status"] = result["status"]!.DeepClone(), ["cwd"] = Str(agent, "cwd"),
            ["currentModeId"] = WsInbound.Str(agent, "currentModeId"),
            ["availableModes"] = new JsonArray([.. (agent["availableModes"] as JsonArray ?? []).OfType<JsonObject>().Select(m => (JsonNode)new JsonObject
            {
                ["id"] = Str(m, "id"), ["label"] = Str(m, "label"), ["description"] = WsInbound.Str(m, "description"),
            })]),
            ["lastMessage"] = result["lastMessage"]?.DeepClone(), ["permission"] = result["permission"]?.DeepClone(),
        };
    }

    /// <summary>
    /// A top-level create_agent's worktree options (§4.5, app-workspaces.md §4.3): a Paseo worktree is created first (its
    /// setup run as for the app), and the agent runs in it.
    /// </summary>
    private async Task<string> AgentWorktree(JsonObject args, string cwd, CancellationToken cancel)
    {
        if (args.ContainsKey("worktreeName") && !args.ContainsKey("baseBranch") && !args.ContainsKey("refName") && !args.ContainsKey("githubPrNumber"))
            throw new McpToolException("baseBranch is required when creating a worktree");
        var fields = new JsonObject { ["cwd"] = cwd };
        if (WsInbound.Str(args, "worktreeName") is { } slug) fields["worktreeSlug"] = slug;
        if ((WsInbound.Str(args, "refName") ?? WsInbound.Str(args, "baseBranch")) is { } refName) fields["refName"] = refName;
        if (WsInbound.Str(args, "action") is { } action) fields["action"] = action;
        if (args["githubPrNumber"] is { } pr) fields["githubPrNumber"] = pr.DeepClone();
        var created = await Session("create_paseo_worktree_request", fields, cancel, TimeSpan.FromMinutes(5));
        if (WsInbound.Str(created, "error") is { } error) throw new McpToolException(error);
        var workspace = created["workspace"] as JsonObject ?? throw new McpToolException("The worktree was not created");
        return WsInbound.Str(workspace, "workspaceDirectory") ?? Str(workspace, "id");
    }

    /// <summary>`provider/model` (both parts needed for create_agent), split at the first slash.</summary>
    private static (string Provider, string? Model) ProviderModel(string value, bool required)
    {
        var slash = value.IndexOf('/');
        var provider = (slash < 0 ? value : value[..slash]).Trim();
        var model = slash < 0 ? null : value[(slash + 1)..].Trim();
        if (provider.Length == 0 || (required && string.IsNullOrEmpty(model))) throw new McpToolException("provider must be provider/model, for example codex/gpt-5.4");
        return (provider, string.IsNullOrEmpty(model) ? null : model);
    }

    /// <summary>providers.md §4.5: the caller's mode carried to another provider; the provider's default when there is no counterpart.</summary>
    private static string? MapMode(string? mode, string from, string to)
    {
        if (mode is null || from == to) return mode;
        return (from, to, mode) switch
        {
            ("claude", "codex", "plan") => "read-only",
            ("claude", "codex", "default" or "acceptEdits") => "auto",
            ("claude", "codex", "bypassPermissions") => "full-access",
            ("codex", "claude", "read-only") => "plan",
            ("codex", "claude", "auto") => "default",
            ("codex", "claude", "full-access") => "bypassPermissions",
            _ => null,
        };
    }

    /// <summary>
    /// The bounded wait (§4.5): at once with a pending permission, when the run ends, or after 30 s with the recent activity.
    /// </summary>
    private async Task<JsonObject> Wait(string agentId, CancellationToken cancel)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var reason = new string[1];
        lock (_waits)
        {
            if (!_waits.TryGetValue(agentId, out var list)) _waits[agentId] = list = [];
            list.Add((abort, reason));
        }
        JsonObject waited;
        try
        {
            waited = await Session("wait_for_finish_request", new JsonObject { ["agentId"] = agentId, ["timeoutMs"] = (long)BoundedWait.TotalMilliseconds }, abort.Token,
                BoundedWait + TimeSpan.FromSeconds(15));
        }
        catch (OperationCanceledException) when (reason[0] is { } why && !cancel.IsCancellationRequested)
        {
            throw new McpToolException(why);
        }
        finally
        {
            lock (_waits)
            {
                if (_waits.TryGetValue(agentId, out var list))
                {
                    list.RemoveAll(w => w.Abort == abort);
                    if (list.Count == 0) _waits.Remove(agentId);
                }
            }
        }
        var final = waited["final"] as JsonObject ?? [];
        var status = WsInbound.Str(final, "status") ?? "idle";
        switch (WsInbound.Str(waited, "status"))
        {
            case "permission":
                var pending = (final["pendingPermissions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
                return new JsonObject { ["status"] = status, ["permission"] = pending is null ? null : WithoutNulls(pending), ["lastMessage"] = waited["lastMessage"]?.DeepClone() };
            case "timeout":
                var activity = await Digest(agentId, 5, cancel);
                return new JsonObject
                {
                    ["status"] = status, ["permission"] = null,
                    ["lastMessage"] = "Awaiting the agent timed out after 30s. This does not mean the agent failed - call wait_for_agent again to continue waiting." +
                                      "\n\nRecent activity:\n" + activity.Content,
                };
            case "error" when WsInbound.Str(waited, "error") is { } error && final.Count == 0:
                throw new McpToolException(error);
            default:
                return new JsonObject { ["status"] = status, ["permission"] = null, ["lastMessage"] = waited["lastMessage"]?.DeepClone() };
        }
    }

    private static JsonObject WithoutNulls(JsonObject o) => new(o.Where(p => p.Value is not null).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value!.DeepClone())));

    private async Task<JsonObject> WaitForAgent(string agentId, CancellationToken cancel)
    {
        if (await Agent(agentId, cancel) is null) throw new McpToolException($"Agent {agentId} not found");
        var waited = await Wait(agentId, cancel);
        waited["agentId"] = agentId;
        return waited;
    }

    private async Task<JsonObject> SendAgentPrompt(JsonObject args, CancellationToken cancel)
    {
        var agentId = Str(args, "agentId");
        AbortWaits(agentId, "Agent run interrupted by new prompt");
        if (WsInbound.Str(args, "sessionMode") is { } mode)
        {
            var set = await Session("set_agent_mode_request", new JsonObject { ["agentId"] = agentId, ["modeId"] = mode }, cancel);
            if (set["accepted"] is JsonValue a && !a.GetValue<bool>()) throw new McpToolException(WsInbound.Str(set, "error") ?? $"Mode {mode} was refused");
        }
        var sent = await Session("send_agent_message_request", new JsonObject { ["agentId"] = agentId, ["text"] = Str(args, "prompt") }, cancel);
        if (sent["accepted"] is JsonValue accepted && !accepted.GetValue<bool>()) throw new McpToolException(WsInbound.Str(sent, "error") ?? "The agent did not take the prompt");
        if (args["notifyOnFinish"] is JsonValue n && n.GetValue<bool>()) NotifyOnFinish(agentId, null);
        if (args["background"] is JsonValue b && b.GetValue<bool>())
            return new JsonObject { ["success"] = true, ["status"] = Str(await Agent(agentId, cancel) ?? [], "status") is { Length: > 0 } s ? s : "running", ["lastMessage"] = null, ["permission"] = null };
        var waited = await Wait(agentId, cancel);
        waited["success"] = true;
        return waited;
    }

    /// <summary>
    /// notifyOnFinish (§4.5, caller sessions only): when the child first finishes, errs or asks a permission, the caller gets
    /// a prompt saying so, replacing its run, not recorded as a user message. The wait is counted apart from the session's
    /// tool calls, and ends with the session.
    /// </summary>
    private void NotifyOnFinish(string childId, string? title)
    {
        if (caller is null) return;
        _ = Task.Run(async () =>
        {
            try
            {
                var waited = await Session("wait_for_finish_request", new JsonObject { ["agentId"] = childId }, CancellationToken.None, TimeSpan.FromDays(1),
                    background: true);
                var reason = WsInbound.Str(waited, "status") switch { "error" => "errored", "permission" => "needs permission", _ => "finished" };
                if ((waited["final"] as JsonObject)?["status"]?.GetValue<string>() == "closed") return;
                var parent = await Agent(caller, CancellationToken.None);
                if (parent is null || parent["archivedAt"] is not null) return;
                await agents.Ask<object>(new Paseo.Actors.Agents.AgentProtocol.ToAgent(caller,
                    new Paseo.Actors.Agents.AgentProtocol.SendMessage($"<paseo-system>\nAgent {childId} ({title ?? childId}) {reason}.\n</paseo-system>", null, null, Recorded: false)),
                    RequestTimeout);
            }
            catch (Exception e) when (e is McpToolException or AskTimeoutException)
            {
                // The child or the caller is gone, or the session ended: nobody to tell.
            }
        });
    }

    private async Task<JsonObject> GetAgentStatus(string agentId, CancellationToken cancel)
    {
        var agent = await Agent(agentId, cancel) ?? throw new McpToolException($"Agent {agentId} not found");
        return new JsonObject { ["status"] = Str(agent, "status"), ["snapshot"] = agent.DeepClone() };
    }

    /// <summary>Every agent, page after page (the daemon holds at most paseo.agents.max-agents).</summary>
    private async Task<List<JsonObject>> AllAgents(bool includeArchived, CancellationToken cancel)
    {
        var agents = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var pageRequest = new JsonObject { ["limit"] = 200 };
            if (cursor is not null) pageRequest["cursor"] = cursor;
            var page = await Session("fetch_agents_request", new JsonObject
            {
                ["filter"] = new JsonObject { ["includeArchived"] = includeArchived }, ["page"] = pageRequest,
            }, cancel);
            agents.AddRange((page["entries"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["agent"]).OfType<JsonObject>());
            cursor = page["pageInfo"]?["hasMore"] is JsonValue more && more.GetValue<bool>() ? WsInbound.Str(page["pageInfo"]!.AsObject(), "nextCursor") : null;
        }
        while (cursor is not null);
        return agents;
    }

    private async Task<JsonObject> ListAgents(JsonObject args, CancellationToken cancel)
    {
        var includeArchived = args["includeArchived"] is JsonValue ia && ia.GetValue<bool>();
        var cwd = await Cwd(args, cancel, required: false);
        var since = DateTimeOffset.UtcNow.AddHours(-(args["sinceHours"] is JsonValue h ? h.GetValue<int>() : 48));
        var statuses = (args["statuses"] as JsonArray)?.Select(s => s!.GetValue<string>()).ToHashSet();
        var limit = args["limit"] is JsonValue l ? l.GetValue<int>() : 50;
        string[] order = ["running", "initializing", "idle", "error", "closed"];
        var agents = (await AllAgents(includeArchived, cancel))
            .Where(a => cwd.Length == 0 || Str(a, "cwd") == cwd || Str(a, "cwd").StartsWith(cwd.TrimEnd('/') + "/", StringComparison.Ordinal))
            .Where(a => statuses is null || statuses.Contains(Str(a, "status")))
            .Where(a => a["archivedAt"] is null || (IsoTime.TryParse(Latest(a), out var at) && at >= since))
            .OrderByDescending(a => a["requiresAttention"] is JsonValue r && r.GetValue<bool>())
            .ThenBy(a => Array.IndexOf(order, Str(a, "status")) is var i and >= 0 ? i : order.Length)
            .ThenByDescending(Latest, StringComparer.Ordinal)
            .Take(limit)
            .Select(a =>
            {
                var item = new JsonObject
                {
                    ["id"] = Str(a, "id"), ["shortId"] = Str(a, "id")[..Math.Min(7, Str(a, "id").Length)], ["title"] = WsInbound.Str(a, "title"),
                    ["provider"] = Str(a, "provider"), ["model"] = WsInbound.Str(a, "model"), ["status"] = Str(a, "status"), ["cwd"] = Str(a, "cwd"),
                    ["createdAt"] = Str(a, "createdAt"), ["updatedAt"] = Str(a, "updatedAt"), ["lastUserMessageAt"] = WsInbound.Str(a, "lastUserMessageAt"),
                    ["archivedAt"] = WsInbound.Str(a, "archivedAt"), ["requiresAttention"] = a["requiresAttention"]?.DeepClone() ?? false,
                    ["attentionReason"] = WsInbound.Str(a, "attentionReason"), ["attentionTimestamp"] = WsInbound.Str(a, "attentionTimestamp"),
                    ["labels"] = a["labels"]?.DeepClone() ?? new JsonObject(),
                };
                if (WsInbound.Str(a, "thinkingOptionId") is { } thinking) item["thinkingOptionId"] = thinking;
                if (a["providerUnavailable"] is JsonValue u && u.GetValue<bool>()) item["providerUnavailable"] = true;
                return (JsonNode)item;
            });
        return new JsonObject { ["agents"] = new JsonArray([.. agents]) };

        string Latest(JsonObject a) => new[] { "updatedAt", "lastUserMessageAt", "attentionTimestamp", "archivedAt", "createdAt" }
            .Select(k => WsInbound.Str(a, k) ?? "").Max(StringComparer.Ordinal) ?? "";
    }

    private async Task<JsonObject> CancelAgent(string agentId, CancellationToken cancel)
    {
        var agent = await Agent(agentId, cancel) ?? throw new McpToolException($"Unknown agent '{agentId}'");
        if (Str(agent, "status") != "running") return new JsonObject { ["success"] = false };
        AbortWaits(agentId, "Agent run cancelled");
        await Session("cancel_agent_request", new JsonObject { ["agentId"] = agentId }, cancel);
        return new JsonObject { ["success"] = true };
    }

    /// <summary>kill_agent: a running turn ends, the provider session is stopped, the record is kept (status closed).</summary>
    private async Task<JsonObject> KillAgent(string agentId, CancellationToken cancel)
    {
        if (await Agent(agentId, cancel) is null) throw new McpToolException($"Unknown agent '{agentId}'");
        AbortWaits(agentId, "Agent terminated");
        var answer = await agents.Ask<object>(new Paseo.Actors.Agents.AgentProtocol.ToAgent(agentId, Paseo.Actors.Agents.AgentProtocol.CloseSession.Instance),
            RequestTimeout, cancel);
        return answer is Paseo.Actors.Agents.AgentProtocol.AgentNotFound gone ? throw new McpToolException(gone.Error) : new JsonObject { ["success"] = true };
    }

    private async Task<JsonObject> Archive(string agentId, CancellationToken cancel)
    {
        AbortWaits(agentId, "Agent archived");
        await Session("archive_agent_request", new JsonObject { ["agentId"] = agentId }, cancel);
        return new JsonObject { ["success"] = true };
    }

    private async Task<JsonObject> UpdateAgent(JsonObject args, CancellationToken cancel)
    {
        var fields = new JsonObject { ["agentId"] = Str(args, "agentId") };
        if (args["name"] is { } name) fields["name"] = name.DeepClone();
        if (args["labels"] is { } labels) fields["labels"] = labels.DeepClone();
        var updated = await Session("update_agent_request", fields, cancel);
        if (updated["accepted"] is JsonValue a && !a.GetValue<bool>()) throw new McpToolException(WsInbound.Str(updated, "error") ?? "The agent was not updated");
        return new JsonObject { ["success"] = true };
    }

    private async Task<JsonObject> SetAgentMode(string agentId, string modeId, CancellationToken cancel)
    {
        var set = await Session("set_agent_mode_request", new JsonObject { ["agentId"] = agentId, ["modeId"] = modeId }, cancel);
        if (set["accepted"] is JsonValue a && !a.GetValue<bool>()) throw new McpToolException(WsInbound.Str(set, "error") ?? $"Mode {modeId} was refused");
        return new JsonObject { ["success"] = true, ["newMode"] = modeId };
    }

    /// <summary>The projected timeline items of the agent, the newest <paramref name="limit"/> (0: as many as a page holds).</summary>
    private async Task<List<JsonObject>> Items(string agentId, int limit, CancellationToken cancel)
    {
        // limit 0: the whole timeline (its retained rows), not a page.
        var fields = new JsonObject { ["agentId"] = agentId, ["direction"] = "tail", ["projection"] = "projected", ["limit"] = Math.Max(0, limit) };
        var timeline = await Session("fetch_agent_timeline_request", fields, cancel);
        return [.. (timeline["entries"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["item"] as JsonObject).OfType<JsonObject>()];
    }

    /// <summary>The recent activity appended to a timed-out wait: the digest of the last entries.</summary>
    private async Task<(string Content, int Count)> Digest(string agentId, int limit, CancellationToken cancel)
    {
        var lines = (await Items(agentId, limit, cancel)).Select(TimelineDigest.Of).OfType<string>().ToList();
        return (string.Join("\n", lines), lines.Count);
    }

    private async Task<JsonObject> GetAgentActivity(string agentId, int limit, CancellationToken cancel)
    {
        var agent = await Agent(agentId, cancel) ?? throw new McpToolException($"Agent {agentId} not found");
        var items = await Items(agentId, 0, cancel);
        return new JsonObject
        {
            ["agentId"] = agentId, ["updateCount"] = items.Count, ["currentModeId"] = WsInbound.Str(agent, "currentModeId"),
            ["content"] = TimelineDigest.Activity(items, limit),
        };
    }

    private async Task<JsonObject> ListPendingPermissions(CancellationToken cancel)
    {
        var permissions = (await AllAgents(false, cancel))
            .SelectMany(a => (a["pendingPermissions"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(p => (JsonNode)new JsonObject { ["agentId"] = Str(a, "id"), ["status"] = Str(a, "status"), ["request"] = WithoutNulls(p) }));
        return new JsonObject { ["permissions"] = new JsonArray([.. permissions]) };
    }

    private async Task<JsonObject> RespondToPermission(JsonObject args, CancellationToken cancel)
    {
        var agentId = Str(args, "agentId");
        var requestId = Str(args, "requestId");
        var agent = await Agent(agentId, cancel) ?? throw new McpToolException($"Unknown agent '{agentId}'");
        if (!(agent["pendingPermissions"] as JsonArray ?? []).OfType<JsonObject>().Any(p => Str(p, "id") == requestId))
            throw new McpToolException($"No pending permission {requestId} for agent {agentId}");
        await Session("agent_permission_response", new JsonObject { ["agentId"] = agentId, ["requestId"] = requestId, ["response"] = args["response"]!.DeepClone() },
            cancel, expects: false);
        return new JsonObject { ["success"] = true };
    }

    // ---- terminals ----

    private async Task<JsonObject> ListTerminals(JsonObject args, CancellationToken cancel)
    {
        var all = args["all"] is JsonValue a && a.GetValue<bool>();
        var cwd = all ? "" : await Cwd(args, cancel, required: false);
        var listed = await Session("list_terminals_request", cwd.Length > 0 ? new JsonObject { ["cwd"] = cwd } : [], cancel);
        return new JsonObject
        {
            ["terminals"] = new JsonArray([.. (listed["terminals"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(t => (JsonNode)new JsonObject { ["id"] = Str(t, "id"), ["name"] = Str(t, "name"), ["cwd"] = WsInbound.Str(t, "cwd") ?? cwd })]),
        };
    }

    private async Task<JsonObject> CreateTerminal(JsonObject args, CancellationToken cancel)
    {
        var fields = new JsonObject { ["cwd"] = await Cwd(args, cancel) };
        if (WsInbound.Str(args, "name") is { } name) fields["name"] = name;
        var created = await Session("create_terminal_request", fields, cancel);
        var terminal = created["terminal"] as JsonObject ?? throw new McpToolException(WsInbound.Str(created, "error") ?? "The terminal could not be created");
        return new JsonObject { ["id"] = Str(terminal, "id"), ["name"] = Str(terminal, "name"), ["cwd"] = Str(terminal, "cwd") };
    }

    private async Task<bool> TerminalExists(string terminalId, CancellationToken cancel) =>
        ((await Session("list_terminals_request", [], cancel))["terminals"] as JsonArray ?? []).OfType<JsonObject>().Any(t => Str(t, "id") == terminalId);

    private async Task<JsonObject> KillTerminal(string terminalId, CancellationToken cancel)
    {
        if (!await TerminalExists(terminalId, cancel)) throw new McpToolException($"Terminal {terminalId} not found");
        await Session("kill_terminal_request", new JsonObject { ["terminalId"] = terminalId }, cancel);
        return new JsonObject { ["success"] = true };
    }

    private async Task<JsonObject> CaptureTerminal(JsonObject args, CancellationToken cancel)
    {
        var terminalId = Str(args, "terminalId");
        if (!await TerminalExists(terminalId, cancel)) throw new McpToolException($"Terminal {terminalId} not found");
        var fields = new JsonObject { ["terminalId"] = terminalId, ["stripAnsi"] = args["stripAnsi"] is not JsonValue s || s.GetValue<bool>() };
        if (args["scrollback"] is JsonValue sb && sb.GetValue<bool>()) fields["start"] = 0;
        else if (args["start"] is JsonValue start) fields["start"] = (long)start.GetValue<double>();
        if (args["end"] is JsonValue end) fields["end"] = (long)end.GetValue<double>();
        var captured = await Session("capture_terminal_request", fields, cancel);
        return new JsonObject { ["terminalId"] = terminalId, ["lines"] = captured["lines"]?.DeepClone() ?? new JsonArray(), ["totalLines"] = captured["totalLines"]?.DeepClone() ?? 0 };
    }

    /// <summary>§4.5: unless literal, the whole string is looked up as one key name (Enter, Tab, C-c…); anything else is typed as is.</summary>
    public static string Keys(string keys, bool literal) => literal ? keys : keys switch
    {
        "Enter" => "\r", "Tab" => "\t", "Escape" => "\u001b", "Space" => " ", "BSpace" => "\u007f",
        "C-c" => "\u0003", "C-d" => "\u0004", "C-z" => "\u001a", "C-l" => "\u000c", "C-a" => "\u0001", "C-e" => "\u0005",
        _ => keys,
    };

    private async Task<JsonObject> SendTerminalKeys(JsonObject args, CancellationToken cancel)
    {
        var terminalId = Str(args, "terminalId");
        if (!await TerminalExists(terminalId, cancel)) throw new McpToolException($"Terminal {terminalId} not found");
        var data = Keys(Str(args, "keys"), args["literal"] is JsonValue l && l.GetValue<bool>());
        await Session("terminal_input", new JsonObject { ["terminalId"] = terminalId, ["message"] = new JsonObject { ["type"] = "input", ["data"] = data } }, cancel,
            expects: false);
        return new JsonObject { ["success"] = true };
    }

    // ---- schedules ----

    private async Task<JsonObject> CreateSchedule(JsonObject args, CancellationToken cancel)
    {
        var every = WsInbound.Str(args, "every");
        var cron = WsInbound.Str(args, "cron");
        if ((every is null) == (cron is null)) throw new McpToolException("Specify exactly one of every or cron");
        JsonObject cadence;
        if (every is not null)
        {
            var ms = (long)Duration(every).TotalMilliseconds;
            if (ms <= 0) throw new McpToolException($"every must be above zero: {every}");
            cadence = new JsonObject { ["type"] = "every", ["everyMs"] = ms };
        }
        else cadence = new JsonObject { ["type"] = "cron", ["expression"] = cron!.Trim() };
        var parent = await CallerAgent(cancel);
        JsonObject target;
        if (WsInbound.Str(args, "target") == "self")
        {
            if (parent is null) throw new McpToolException("target=self requires a caller agent");
            if (WsInbound.Str(args, "cwd") is { } cwd && Path.GetFullPath(cwd, Str(parent, "cwd")) != Str(parent, "cwd"))
                throw new McpToolException("cwd can only differ from the caller agent when target=new-agent");
            if (WsInbound.Str(args, "provider") is { } p && ProviderModel(p, false) is var (prov, mod) && (prov != Str(parent, "provider") || (mod is not null && mod != WsInbound.Str(parent, "model"))))
                throw new McpToolException("provider can only differ from the caller agent when target=new-agent");
            target = new JsonObject { ["type"] = "agent", ["agentId"] = caller };
        }
        else
        {
            var (provider, model) = WsInbound.Str(args, "provider") is { } p ? ProviderModel(p, false) : throw new McpToolException("provider is required when target is new-agent");
            var config = new JsonObject { ["provider"] = provider, ["cwd"] = await Cwd(args, cancel, required: false) is { Length: > 0 } c ? c : daemonCwd };
            if (model is not null) config["model"] = model;
            if (parent is not null)
            {
                // Built from the caller (§4.5): its mode carried to the provider, its thinking option and title.
                if (MapMode(WsInbound.Str(parent, "currentModeId"), Str(parent, "provider"), provider) is { } mode) config["modeId"] = mode;
                if (WsInbound.Str(parent, "thinkingOptionId") is { } thinking) config["thinkingOptionId"] = thinking;
                if (WsInbound.Str(parent, "title") is { Length: > 0 } title) config["title"] = title;
            }
            target = new JsonObject { ["type"] = "new-agent", ["config"] = config };
        }
        var fields = new JsonObject { ["prompt"] = Str(args, "prompt").Trim(), ["cadence"] = cadence, ["target"] = target };
        if (WsInbound.Str(args, "name") is { } name) fields["name"] = name;
        if (args["maxRuns"] is { } maxRuns) fields["maxRuns"] = maxRuns.DeepClone();
        if (WsInbound.Str(args, "expiresIn") is { } expiresIn) fields["expiresAt"] = IsoTime.Format(DateTimeOffset.UtcNow + Duration(expiresIn));
        return (await Session("schedule/create", fields, cancel))["schedule"]!.DeepClone().AsObject();
    }

    /// <summary>§2.3's durations: seconds as a bare number, or 1h30m, 10m, 45s.</summary>
    private static TimeSpan Duration(string value)
    {
        try
        {
            return Cli.Agents.Durations.Orchestration(value, "INVALID_DURATION");
        }
        catch (Cli.Output.CliException e)
        {
            throw new McpToolException(e.Message);
        }
    }

    // ---- providers ----

    private async Task<JsonObject> ListProviders(CancellationToken cancel)
    {
        var snapshot = await Session("get_providers_snapshot_request", [], cancel);
        return new JsonObject
        {
            ["providers"] = new JsonArray([.. (snapshot["entries"] as JsonArray ?? []).OfType<JsonObject>().Select(e =>
            {
                var entry = new JsonObject
                {
                    ["id"] = Str(e, "provider"), ["label"] = WsInbound.Str(e, "label"), ["description"] = WsInbound.Str(e, "description"),
                    ["enabled"] = e["enabled"]?.DeepClone() ?? true, ["modes"] = e["modes"]?.DeepClone(),
                    ["status"] = Str(e, "status") == "ready" ? "available" : "unavailable",
                };
                if (WsInbound.Str(e, "error") is { } error) entry["error"] = error;
                return (JsonNode)entry;
            })]),
        };
    }

    private async Task<JsonObject> ListModels(string provider, CancellationToken cancel)
    {
        var listed = await Session("list_provider_models_request", new JsonObject { ["provider"] = provider }, cancel, TimeSpan.FromSeconds(50));
        if (WsInbound.Str(listed, "error") is { } error) throw new McpToolException(error);
        return new JsonObject { ["provider"] = provider, ["models"] = listed["models"]?.DeepClone() ?? new JsonArray() };
    }

    // ---- worktrees ----

    private async Task<JsonObject> ListWorktrees(JsonObject args, CancellationToken cancel)
    {
        var listed = await Session("paseo_worktree_list_request", new JsonObject { ["cwd"] = await Cwd(args, cancel) }, cancel);
        if (listed["error"] is JsonObject error) throw new McpToolException(WsInbound.Str(error, "message") ?? "The worktrees could not be listed");
        return new JsonObject
        {
            ["worktrees"] = new JsonArray([.. (listed["worktrees"] as JsonArray ?? []).OfType<JsonObject>().Select(w =>
            {
                var item = new JsonObject { ["path"] = Str(w, "worktreePath"), ["createdAt"] = Str(w, "createdAt") };
                if (WsInbound.Str(w, "branchName") is { } branch) item["branchName"] = branch;
                if (WsInbound.Str(w, "head") is { } head) item["head"] = head;
                return (JsonNode)item;
            })]),
        };
    }

    private async Task<JsonObject> CreateWorktree(JsonObject args, CancellationToken cancel)
    {
        var target = args["target"]!.AsObject();
        var fields = new JsonObject { ["cwd"] = await Cwd(args, cancel) };
        switch (Str(target, "mode"))
        {
            case "branch-off":
                fields["worktreeSlug"] = Str(target, "newBranch");
                fields["action"] = "branch-off";
                if (WsInbound.Str(target, "base") is { } baseRef) fields["refName"] = baseRef;
                break;
            case "checkout-branch":
                fields["refName"] = Str(target, "branch");
                fields["action"] = "checkout";
                break;
            default:
                fields["githubPrNumber"] = target["prNumber"]!.DeepClone();
                break;
        }
        var created = await Session("create_paseo_worktree_request", fields, cancel, TimeSpan.FromMinutes(5));
        if (WsInbound.Str(created, "error") is { } error) throw new McpToolException(error);
        var workspace = created["workspace"] as JsonObject ?? throw new McpToolException("The worktree was not created");
        return new JsonObject { ["branchName"] = Str(workspace, "name"), ["worktreePath"] = WsInbound.Str(workspace, "workspaceDirectory") ?? Str(workspace, "id") };
    }

    private async Task<JsonObject> ArchiveWorktree(JsonObject args, CancellationToken cancel)
    {
        var path = WsInbound.Str(args, "worktreePath");
        var slug = WsInbound.Str(args, "worktreeSlug");
        if (path is null && slug is null) throw new McpToolException("worktreePath or worktreeSlug is required");
        var fields = new JsonObject();
        if (path is not null) fields["worktreePath"] = Path.GetFullPath(path, await Cwd(args, cancel, required: false) is { Length: > 0 } c ? c : daemonCwd);
        else
        {
            fields["repoRoot"] = await Cwd(args, cancel);
            fields["branchName"] = slug;
        }
        var archived = await Session("paseo_worktree_archive_request", fields, cancel, TimeSpan.FromMinutes(3));
        if (archived["error"] is JsonObject error) throw new McpToolException(WsInbound.Str(error, "message") ?? "The worktree was not archived");
        return new JsonObject { ["success"] = true };
    }

    private static string Str(JsonObject o, string key) => WsInbound.Str(o, key) ?? "";
}
