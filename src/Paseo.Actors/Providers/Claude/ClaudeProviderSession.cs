// Long on purpose: Claude Code's stream-json protocol (providers.md §4.1) mapped message by message onto the provider
// protocol — streaming, tool calls, sub-agents, permissions, control requests — read best in one place, as the spec is.
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Providers.Processes;
using Akka.Event;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Claude;

/// <summary>
/// One agent's `claude` process (providers.md §4.1): user turns and control requests as NDJSON on stdin; system/init,
/// stream_event deltas, assistant/user messages, results and `can_use_tool` prompts from stdout, mapped onto
/// <see cref="ProviderProtocol"/>. The process belongs to this actor: it is started in PreStart and its whole process
/// group is stopped in PostStop. A process that dies fails the turn with its exit code and last stderr lines, and this
/// actor stops; the agent's next prompt starts a fresh process resumed from the session id (`--resume`). Its lifecycle
/// is <see cref="ProviderSessionActor"/>'s phases; it is open (Ready) as soon as its process runs, as the CLI reads a
/// prompt at once.
/// </summary>
public sealed class ClaudeProviderSession : ProviderSessionActor
{
    private sealed record OutputEnded;

    private sealed record ProcessExited(int Code);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ProviderSessionConfig _config;
    private readonly ClaudeProvider _provider;
    private ChildProcess? _process;
    private string? _sessionId;
    private int _resultsToSwallow;
    private bool _streamedThisMessage;
    private int _controlCounter;
    private readonly Dictionary<string, string> _permissionRequests = new(StringComparer.Ordinal); // our id → CLI request_id
    private readonly Dictionary<string, (string Name, JsonObject Input)> _tools = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _modeRequests = new(StringComparer.Ordinal); // control request id → mode
    private string _mode; // the mode the CLI has (as started, then as it confirmed)
    // Sub-agent (sidechain) activity, by the parent Task tool_use id: shown as the log of that Task row. Bounded: the
    // log keeps its last SidechainLogChars characters.
    private const int SidechainLogChars = 16 * 1024;
    private readonly Dictionary<string, System.Text.StringBuilder> _sidechains = new(StringComparer.Ordinal);
    // A busy sub-agent sends many messages: its Task row is re-sent (and stored) at most every SidechainUpdateEvery.
    private static readonly TimeSpan SidechainUpdateEvery = TimeSpan.FromMilliseconds(250);
    private readonly HashSet<string> _sidechainsToShow = new(StringComparer.Ordinal);

    private sealed record ShowSidechains;

    // Sub-agents launched in the background (system/task_started with is_backgrounded): the Task call's tool_result
    // only says it started; the row stays running until system/task_notification, possibly after the turn. Bounded.
    private const int BackgroundTasksRemembered = 64;
    private readonly Dictionary<string, (string Name, JsonObject Input)> _backgroundTasks = new(StringComparer.Ordinal);
    private readonly Queue<string> _backgroundOrder = new();

    public ClaudeProviderSession(ProviderSessionConfig config, ClaudeProvider provider)
    {
        _config = config;
        _provider = provider;
        _sessionId = config.ResumeSessionId;
        _mode = provider.StartMode(config);
    }

    protected override string Name => "claude";

    protected override TimeSpan InterruptGrace => _provider.Settings.InterruptGrace;

    protected override void Common()
    {
        Receive<ResolvePermission>(OnResolvePermission);
        Receive<SetMode>(OnSetMode);
        Receive<ShowSidechains>(_ => ShowSidechainRows());
        Receive<ChildOutput.Line>(line =>
        {
            OnLine(line.Text);
            ReadNext();
        });
        Receive<ChildOutput.TooLong>(tooLong =>
            Die($"claude printed a line over {tooLong.Limit} characters (paseo.providers.max-line-bytes); its process was stopped"));
        Receive<OutputEnded>(_ => { });
        Receive<ProcessExited>(exited =>
            Die($"claude exited with code {exited.Code}{(_process?.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}"));
    }

    protected override void PreStart()
    {
        if (_mode != (_config.ModeId ?? "default"))
        {
            // As root outside a sandbox the CLI refuses bypassPermissions at start: it starts in default, and says so.
            Emit(new Timeline(TimelineItems.Error("claude refused mode bypassPermissions: as root, Claude Code only bypasses permissions in a sandbox (IS_SANDBOX=1); starting in default")));
            Emit(new ModeChanged(_mode));
        }
        try
        {
            var log = _log;
            _process = ChildProcess.Start(
                new ChildProcessStart(_provider.Arguments(_config), _config.Cwd, _provider.EnvironmentFor(_config),
                    _provider.Settings.MaxLineBytes, _provider.Settings.OutputBacklog, _provider.Settings.KillGrace,
                    _provider.Settings.InputBacklog, _provider.Settings.MaxStderrLineBytes, DaemonChildProcesses.Get(Context.System).Tracker),
                line => log.Info("claude {0} [{1}]: {2}", _config.AgentId, "stderr", line));
        }
        catch (ChildProcessStartException e)
        {
            var reason = $"cannot start claude: {e.Message}";
            _log.Warning("Agent {0}: {1}", _config.AgentId, reason);
            OpenFailed(reason);
            return;
        }
        var self = Self;
        _process.Exited.PipeTo(self, success: code => new ProcessExited(code));
        Send(Control(new JsonObject { ["subtype"] = "initialize" }));
        ReadNext();
        Opened();
    }

    /// <summary>
    /// Stopping the agent, or the daemon: the process group gets SIGTERM, then SIGKILL after the grace period — without
    /// waiting here (the daemon's tracker keeps count until it is gone).
    /// </summary>
    protected override void PostStop()
    {
        // Background sub-agents die with the process: their rows end, rather than stay running for good.
        foreach (var (taskId, task) in _backgroundTasks)
            Emit(new Timeline(TimelineItems.ToolCall(taskId, task.Name, ClaudeToolDetails.For(task.Name, task.Input, _config.Cwd, _sidechains.GetValueOrDefault(taskId)?.ToString()),
                "failed", "The claude process stopped before the sub-agent finished")));
        _process?.StopAsync();
        _process = null;
    }

    private void ReadNext()
    {
        if (_process is null) return;
        _process.Output.ReadAsync().AsTask().PipeTo(Self, success: output => output, failure: _ => new OutputEnded());
    }

    private void Send(JsonObject message)
    {
        // Written off the actor's thread, in order, through a bounded queue: a CLI that stops reading is stopped.
        if (Phase == ProviderSessionPhase.Failed) return;
        if (_process?.WriteLine(message.ToJsonString()) == StdinWrite.StoppedReading) Die(_provider.Settings.StoppedReading("claude"));
    }

    private JsonObject Control(JsonObject request, string? requestId = null) => new()
    {
        ["type"] = "control_request",
        ["request_id"] = requestId ?? NextControlId(),
        ["request"] = request,
    };

    private string NextControlId() => $"req_{++_controlCounter}_{Guid.NewGuid():N}"[..24];

    /// <summary>Paseo's replaceRunning: the running turn is interrupted; its result is not the new turn's.</summary>
    protected override void ReplaceTurn()
    {
        Send(Control(new JsonObject { ["subtype"] = "interrupt" }));
        _resultsToSwallow++;
    }

    protected override void SendPrompt(RunTurn run) => Send(new JsonObject
    {
        ["type"] = "user",
        ["message"] = new JsonObject
        {
            ["role"] = "user",
            ["content"] = Content(run),
        },
        ["parent_tool_use_id"] = null,
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["session_id"] = _sessionId ?? "",
    });

    /// <summary>The user turn's content: the text, then each image as a base64 image block (providers.md §4.1).</summary>
    private static JsonArray Content(RunTurn run)
    {
        var content = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = run.Prompt });
        foreach (var image in run.AttachedImages)
            content.Add(new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = image.MimeType, ["data"] = image.Data },
            });
        return content;
    }

    protected override void AbortTurn() => Send(Control(new JsonObject { ["subtype"] = "interrupt" }));

    private void OnResolvePermission(ResolvePermission resolve)
    {
        if (!_permissionRequests.Remove(resolve.RequestId, out var cliRequestId)) return;
        var allow = WsInbound.Str(resolve.Resolution, "behavior") == "allow";
        JsonObject answer;
        if (allow)
        {
            // The tool's own input with the client's changes laid over it: a client that sends only what it changed
            // (AskUserQuestion's `answers`, a corrected `command`) still hands the CLI a complete input.
            var updated = PendingInput(resolve.RequestId);
            if (resolve.Resolution["updatedInput"] is JsonObject changes)
                foreach (var (key, value) in changes) updated[key] = value?.DeepClone();
            answer = new JsonObject { ["behavior"] = "allow", ["updatedInput"] = updated };
            if (resolve.Resolution["updatedPermissions"] is JsonArray permissions) answer["updatedPermissions"] = permissions.DeepClone();
        }
        else
        {
            answer = new JsonObject { ["behavior"] = "deny", ["message"] = WsInbound.Str(resolve.Resolution, "message") ?? "The user denied this" };
            if (resolve.Resolution["interrupt"] is JsonValue i && i.TryGetValue<bool>(out var interrupt) && interrupt) answer["interrupt"] = true;
        }
        _pendingInputs.Remove(resolve.RequestId);
        Send(new JsonObject
        {
            ["type"] = "control_response",
            ["response"] = new JsonObject { ["subtype"] = "success", ["request_id"] = cliRequestId, ["response"] = answer },
        });
    }

    private readonly Dictionary<string, JsonObject> _pendingInputs = new(StringComparer.Ordinal);

    private JsonObject PendingInput(string permissionId) => _pendingInputs.TryGetValue(permissionId, out var input) ? (JsonObject)input.DeepClone() : new JsonObject();

    private void OnSetMode(SetMode set)
    {
        if (_process is null)
        {
            Emit(new ModeChanged(set.ModeId));
            return;
        }
        var requestId = NextControlId();
        _modeRequests[requestId] = set.ModeId;
        // Shown as asked at once (the agent records it); a refusal puts the mode the CLI really has back.
        Send(Control(new JsonObject { ["subtype"] = "set_permission_mode", ["mode"] = set.ModeId }, requestId));
    }

    private void OnLine(string line)
    {
        if (CliOutputLines.Parse(line, "claude", _config.AgentId, _log, Emit) is not { } message) return;
        switch (WsInbound.Str(message, "type"))
        {
            case "system":
                OnSystem(message);
                break;
            case "stream_event" when Sidechain(message) is null:
                OnStreamEvent(message["event"] as JsonObject);
                break;
            case "stream_event":
                break; // a sub-agent's partial output: its whole messages follow and go into the Task row
            case "assistant" when Sidechain(message) is { } parent:
                OnSidechain(parent, message["message"] as JsonObject);
                break;
            case "assistant":
                OnAssistant(message["message"] as JsonObject);
                break;
            case "user" when Sidechain(message) is { } parent:
                OnSidechain(parent, message["message"] as JsonObject);
                break;
            case "user":
                OnToolResults(message["message"] as JsonObject);
                break;
            case "result":
                OnResult(message);
                break;
            case "control_request":
                OnControlRequest(message);
                break;
            case "control_response":
                OnControlResponse(message["response"] as JsonObject);
                break;
        }
    }

    private string? _reportedSessionId;

    private void OnSystem(JsonObject message)
    {
        switch (WsInbound.Str(message, "subtype"))
        {
            case "init":
                if (WsInbound.Str(message, "session_id") is { Length: > 0 } sessionId && sessionId != _reportedSessionId)
                {
                    _sessionId = _reportedSessionId = sessionId;
                    Emit(new ThreadStarted(sessionId));
                }
                // A turn the CLI starts by itself (it goes on when a background sub-agent is done): the agent runs again.
                if (_resultsToSwallow == 0) TurnStartedByProvider();
                break;
            case "task_started" when WsInbound.Str(message, "tool_use_id") is { } taskCallId
                                     && message["is_backgrounded"] is JsonValue bg && bg.TryGetValue<bool>(out var backgrounded) && backgrounded:
                while (_backgroundTasks.Count >= BackgroundTasksRemembered && _backgroundOrder.TryDequeue(out var oldest)) _backgroundTasks.Remove(oldest);
                _backgroundOrder.Enqueue(taskCallId);
                if (_backgroundOrder.Count > 2 * BackgroundTasksRemembered) // finished ones leave the order too
                    foreach (var _ in Enumerable.Range(0, _backgroundOrder.Count))
                        if (_backgroundOrder.Dequeue() is var kept && _backgroundTasks.ContainsKey(kept)) _backgroundOrder.Enqueue(kept);
                _backgroundTasks[taskCallId] = _tools.TryGetValue(taskCallId, out var call) ? call : ("Task", new JsonObject
                {
                    ["description"] = WsInbound.Str(message, "description"),
                    ["subagent_type"] = WsInbound.Str(message, "subagent_type"),
                    ["prompt"] = WsInbound.Str(message, "prompt"),
                });
                break;
            case "task_notification" when WsInbound.Str(message, "tool_use_id") is { } doneId && _backgroundTasks.Remove(doneId, out var task):
                _sidechainsToShow.Remove(doneId);
                var taskLog = _sidechains.Remove(doneId, out var sidechainLog) ? sidechainLog.ToString() : "";
                // The summary (the sub-agent's report) ends the log, unless the log already ends with it.
                if (WsInbound.Str(message, "summary") is { Length: > 0 } summary && !taskLog.EndsWith(summary, StringComparison.Ordinal))
                    taskLog = taskLog.Length > 0 ? $"{taskLog}\n{summary}" : summary;
                var taskFailed = WsInbound.Str(message, "status") is not ("completed" or null);
                Emit(new Timeline(TimelineItems.ToolCall(doneId, task.Name, ClaudeToolDetails.For(task.Name, task.Input, _config.Cwd, taskLog),
                    taskFailed ? "failed" : "completed", taskFailed ? $"The sub-agent {WsInbound.Str(message, "status")}" : null)));
                break;
            case "status":
                if (WsInbound.Str(message, "status") == "compacting") Emit(new Timeline(TimelineItems.Compaction("loading")));
                // The CLI says which permission mode it is in (after a change, including one it made itself).
                if (WsInbound.Str(message, "permissionMode") is { Length: > 0 } permissionMode && permissionMode != _mode)
                {
                    _mode = permissionMode;
                    Emit(new ModeChanged(permissionMode));
                }
                break;
            case "compact_boundary":
                var metadata = message["compact_metadata"] as JsonObject ?? [];
                long? preTokens = metadata["pre_tokens"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;
                Emit(new Timeline(TimelineItems.Compaction("completed", WsInbound.Str(metadata, "trigger"), preTokens)));
                break;
        }
    }

    /// <summary>The parent Task's tool_use id of a sub-agent's message (non-null `parent_tool_use_id`), or null.</summary>
    private static string? Sidechain(JsonObject message) => WsInbound.Str(message, "parent_tool_use_id") is { Length: > 0 } parent ? parent : null;

    /// <summary>
    /// A sub-agent's message: its text and tool calls are appended to the parent Task row's `sub_agent` log (one line
    /// each), and the row is sent again, still running, so a client sees the sub-agent work.
    /// </summary>
    private void OnSidechain(string parentId, JsonObject? message)
    {
        if (message?["content"] is not JsonArray content) return;
        if (!_sidechains.TryGetValue(parentId, out var log)) _sidechains[parentId] = log = new System.Text.StringBuilder();
        foreach (var block in content.OfType<JsonObject>())
        {
            var line = WsInbound.Str(block, "type") switch
            {
                "text" => WsInbound.Str(block, "text"),
                "tool_use" => $"▸ {WsInbound.Str(block, "name") ?? "tool"} {Summary(block["input"] as JsonObject ?? [])}".TrimEnd(),
                "tool_result" when block["is_error"] is JsonValue e && e.TryGetValue<bool>(out var failed) && failed => $"✗ {ClaudeToolDetails.ResultText(block["content"])}",
                _ => null,
            };
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (log.Length > 0) log.Append('\n');
            log.Append(line);
        }
        if (log.Length > SidechainLogChars) log.Remove(0, log.Length - SidechainLogChars);
        _sidechainsToShow.Add(parentId);
        if (!Timers.IsTimerActive("sidechains")) Timers.StartSingleTimer("sidechains", new ShowSidechains(), SidechainUpdateEvery);
    }

    private void ShowSidechainRows()
    {
        foreach (var parentId in _sidechainsToShow)
            if ((_tools.TryGetValue(parentId, out var parent) || _backgroundTasks.TryGetValue(parentId, out parent)) && _sidechains.TryGetValue(parentId, out var log))
                Emit(new Timeline(TimelineItems.ToolCall(parentId, parent.Name, ClaudeToolDetails.For(parent.Name, parent.Input, _config.Cwd, log.ToString()), "running")));
        _sidechainsToShow.Clear();
    }

    private static string? Summary(JsonObject input) =>
        WsInbound.Str(input, "command") ?? WsInbound.Str(input, "file_path") ?? WsInbound.Str(input, "url") ?? WsInbound.Str(input, "pattern");

    private void OnStreamEvent(JsonObject? streamEvent)
    {
        if (streamEvent is null) return;
        switch (WsInbound.Str(streamEvent, "type"))
        {
            case "message_start":
                _streamedThisMessage = false;
                break;
            case "content_block_delta" when streamEvent["delta"] is JsonObject delta:
                switch (WsInbound.Str(delta, "type"))
                {
                    case "text_delta" when WsInbound.Str(delta, "text") is { Length: > 0 } text:
                        _streamedThisMessage = true;
                        Emit(new Timeline(TimelineItems.AssistantMessage(text)));
                        break;
                    case "thinking_delta" when WsInbound.Str(delta, "thinking") is { Length: > 0 } thinking:
                        _streamedThisMessage = true;
                        Emit(new Timeline(TimelineItems.Reasoning(thinking)));
                        break;
                }
                break;
        }
    }

    private void OnAssistant(JsonObject? message)
    {
        if (message?["content"] is not JsonArray content) return;
        foreach (var block in content.OfType<JsonObject>())
        {
            switch (WsInbound.Str(block, "type"))
            {
                // With partial messages the text already arrived as deltas; without them, it arrives here.
                case "text" when !_streamedThisMessage && WsInbound.Str(block, "text") is { Length: > 0 } text:
                    Emit(new Timeline(TimelineItems.AssistantMessage(text)));
                    break;
                case "thinking" when !_streamedThisMessage && WsInbound.Str(block, "thinking") is { Length: > 0 } thinking:
                    Emit(new Timeline(TimelineItems.Reasoning(thinking)));
                    break;
                case "tool_use" or "server_tool_use" or "mcp_tool_use":
                    var id = WsInbound.Str(block, "id") ?? Guid.NewGuid().ToString("N");
                    var name = WsInbound.Str(block, "name") ?? "tool";
                    var input = block["input"] as JsonObject ?? [];
                    _tools[id] = (name, (JsonObject)input.DeepClone());
                    Emit(new Timeline(TimelineItems.ToolCall(id, name, ClaudeToolDetails.For(name, input, _config.Cwd), "running")));
                    break;
            }
        }
    }

    private void OnToolResults(JsonObject? message)
    {
        if (message?["content"] is not JsonArray content) return; // a plain string is the user's own (echoed) prompt
        foreach (var block in content.OfType<JsonObject>().Where(b => WsInbound.Str(b, "type") == "tool_result"))
        {
            var id = WsInbound.Str(block, "tool_use_id") ?? "";
            var (name, input) = _tools.Remove(id, out var tool) ? tool : ("tool", new JsonObject());
            var output = ClaudeToolDetails.ResultText(block["content"]);
            if (_backgroundTasks.ContainsKey(id))
            {
                // Launched, not done: the row stays running (task_notification ends it).
                Emit(new Timeline(TimelineItems.ToolCall(id, name, ClaudeToolDetails.For(name, input, _config.Cwd, _sidechains.GetValueOrDefault(id)?.ToString()), "running")));
                continue;
            }
            _sidechainsToShow.Remove(id); // its final row follows, with the whole log
            if (_sidechains.Remove(id, out var sidechain)) output = output is null ? sidechain.ToString() : $"{sidechain}\n{output}";
            var failed = block["is_error"] is JsonValue e && e.TryGetValue<bool>(out var isError) && isError;
            Emit(new Timeline(TimelineItems.ToolCall(id, name, ClaudeToolDetails.For(name, input, _config.Cwd, output),
                failed ? "failed" : "completed", failed ? output ?? "The tool failed" : null)));
        }
    }

    private void OnResult(JsonObject result)
    {
        if (_resultsToSwallow > 0)
        {
            _resultsToSwallow--;
            return;
        }
        if (!InTurn) return;
        _tools.Clear();
        // The agent resolved the turn's open questions as denied; the CLI forgets them too.
        _permissionRequests.Clear();
        _pendingInputs.Clear();
        // Background sub-agents go on after the turn: their logs stay.
        foreach (var done in _sidechains.Keys.Where(k => !_backgroundTasks.ContainsKey(k)).ToList()) _sidechains.Remove(done);
        if (Phase == ProviderSessionPhase.Interrupting)
        {
            TurnEnded(new TurnCanceled("Interrupted"));
            return;
        }
        var subtype = WsInbound.Str(result, "subtype") ?? "success";
        var isError = result["is_error"] is JsonValue e && e.TryGetValue<bool>(out var error) && error;
        if (subtype == "success" && !isError)
        {
            TurnEnded(new TurnCompleted(Usage(result)));
            return;
        }
        var errors = result["errors"] is JsonArray list ? string.Join("; ", list.Select(x => x?.ToString())) : WsInbound.Str(result, "result");
        TurnEnded(new TurnFailed(string.IsNullOrWhiteSpace(errors) ? $"claude ended the turn with {subtype}" : $"claude ended the turn with {subtype}: {errors}"));
    }

    private static JsonObject Usage(JsonObject result)
    {
        long Tokens(string key) => result["usage"]?[key] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;
        return new JsonObject
        {
            ["inputTokens"] = Tokens("input_tokens"),
            ["cachedInputTokens"] = Tokens("cache_read_input_tokens"),
            ["outputTokens"] = Tokens("output_tokens"),
            ["totalCostUsd"] = result["total_cost_usd"] is JsonValue c && c.TryGetValue<double>(out var cost) ? cost : 0,
        };
    }

    private void OnControlRequest(JsonObject message)
    {
        var requestId = WsInbound.Str(message, "request_id") ?? "";
        var request = message["request"] as JsonObject ?? [];
        if (WsInbound.Str(request, "subtype") != "can_use_tool")
        {
            // Hooks and SDK MCP servers are not used by Paseo.NET: say so instead of leaving the CLI waiting.
            Send(new JsonObject
            {
                ["type"] = "control_response",
                ["response"] = new JsonObject { ["subtype"] = "error", ["request_id"] = requestId, ["error"] = $"Unsupported control request: {WsInbound.Str(request, "subtype")}" },
            });
            return;
        }
        var toolName = WsInbound.Str(request, "tool_name") ?? "tool";
        var cliInput = request["input"] as JsonObject ?? [];
        var permissionId = $"permission-{Guid.NewGuid():D}";
        _permissionRequests[permissionId] = requestId;
        // What goes back (updatedInput) starts from what the CLI sent; what a client sees is the tool call's whole input:
        // the real CLI asks about ExitPlanMode with an empty input, the plan being in the assistant's tool_use.
        _pendingInputs[permissionId] = (JsonObject)cliInput.DeepClone();
        var input = cliInput.Count == 0 && WsInbound.Str(request, "tool_use_id") is { } toolUseId && _tools.TryGetValue(toolUseId, out var call) ? call.Input : cliInput;
        var kind = toolName switch { "ExitPlanMode" => "plan", "AskUserQuestion" => "question", _ => "tool" };
        var detail = ClaudeToolDetails.For(toolName, input, _config.Cwd);
        var summary = Summary(input);
        var permission = new JsonObject
        {
            ["id"] = permissionId,
            ["provider"] = _provider.Description.Id,
            ["name"] = toolName,
            ["kind"] = kind,
            ["title"] = summary is null ? toolName : $"{toolName}: {summary}",
            ["input"] = input.DeepClone(),
            ["detail"] = detail,
        };
        if (kind == "plan")
        {
            if (WsInbound.Str(input, "plan") is { } plan) permission["metadata"] = new JsonObject { ["planText"] = plan };
            permission["actions"] = new JsonArray(
                new JsonObject { ["id"] = "reject", ["label"] = "Keep planning", ["behavior"] = "deny", ["variant"] = "secondary", ["intent"] = "dismiss" },
                new JsonObject { ["id"] = "implement", ["label"] = "Implement", ["behavior"] = "allow", ["variant"] = "primary", ["intent"] = "implement" });
        }
        Emit(new PermissionRequested(permission));
    }

    private void OnControlResponse(JsonObject? response)
    {
        if (response is null || WsInbound.Str(response, "request_id") is not { } requestId) return;
        if (!_modeRequests.Remove(requestId, out var mode)) return;
        if (WsInbound.Str(response, "subtype") == "success")
        {
            _mode = mode;
            Emit(new ModeChanged(mode));
            return;
        }
        Emit(new Timeline(TimelineItems.Error($"claude refused mode {mode}: {WsInbound.Str(response, "error") ?? "no reason given"}")));
        Emit(new ModeChanged(_mode));
    }
}
