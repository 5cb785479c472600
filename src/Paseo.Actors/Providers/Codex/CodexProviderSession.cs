using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Providers.Stdio;
using Paseo.Transport.Configuration;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Codex;

/// <summary>
/// One Codex thread: initialize + initialized, thread/start (or thread/resume), turn/start per prompt, turn/interrupt;
/// item and turn notifications become timeline rows; command and file-change approvals wait for the user and are
/// answered accept / decline / cancel.
/// </summary>
public sealed class CodexProviderSession(ProviderSessionConfig config, StdioLaunch launch) : StdioProviderSession(config, launch)
{
    private string? _threadId;
    private string? _turnId;
    private string _mode = config.ModeId ?? "auto";
    private JsonObject? _lastUsage;
    private readonly HashSet<string> _streamed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (JsonNode RpcId, string Kind)> _approvals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (JsonNode RpcId, JsonArray Questions)> _questions = new(StringComparer.Ordinal);
    // A prompt that replaces a running turn interrupts it; that turn's own notifications (and its turn/completed) may
    // still arrive after the new turn started and must not touch it. Bounded: only the last few are remembered.
    private const int AbandonedTurnsRemembered = 16;
    private readonly Queue<string> _abandonedOrder = new();
    private readonly HashSet<string> _abandonedTurns = new(StringComparer.Ordinal);
    private long _turnStarts;
    private readonly Dictionary<string, JsonObject> _items = new(StringComparer.Ordinal);

    protected override bool IncludeJsonRpcVersion => false;

    private (string Approval, string Sandbox, string SandboxType) Policy => _mode switch
    {
        "full-access" => ("never", "danger-full-access", "dangerFullAccess"),
        "read-only" => ("on-request", "read-only", "readOnly"),
        _ => ("on-request", "workspace-write", "workspaceWrite"),
    };

    /// <summary>The thinking option as Codex's effort; "auto"/"default" (or none) leave Codex's own default.</summary>
    private string? Effort => Config.ThinkingOptionId is { Length: > 0 } t && t is not ("auto" or "default") ? t : null;

    protected override void OnStarted() => Rpc.Call("initialize", new JsonObject
    {
        ["clientInfo"] = new JsonObject { ["name"] = "paseo", ["title"] = "Paseo", ["version"] = "0.0.0" },
        ["capabilities"] = new JsonObject { ["experimentalApi"] = true },
    });

    /// <summary>A new prompt replaces the running turn: it is interrupted and left (its late notifications are ignored).</summary>
    protected override void ReplaceTurn()
    {
        Interrupt();
        if (_turnId is not null) Abandon(_turnId);
        // Its questions go with it (the agent resolves its pending permissions when the turn ends).
        _approvals.Clear();
        _questions.Clear();
    }

    /// <summary>turn/start: the text, then each image as an `image` input with a data URL.</summary>
    protected override void SendPrompt(RunTurn run)
    {
        _turnId = null;
        var input = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = run.Prompt });
        foreach (var image in run.AttachedImages)
            input.Add(new JsonObject { ["type"] = "image", ["url"] = $"data:{image.MimeType};base64,{image.Data}" });
        var (approval, _, sandboxType) = Policy;
        var request = new JsonObject
        {
            ["threadId"] = _threadId,
            ["input"] = input,
            ["approvalPolicy"] = approval,
            ["sandboxPolicy"] = sandboxType == "workspaceWrite"
                ? new JsonObject { ["type"] = sandboxType, ["networkAccess"] = false }
                : new JsonObject { ["type"] = sandboxType },
            ["cwd"] = Config.Cwd,
        };
        if (Config.Model is { } model) request["model"] = model;
        if (Effort is { } effort) request["effort"] = effort;
        Rpc.Call("turn/start", request, tag: ++_turnStarts);
    }

    private void Abandon(string turnId)
    {
        if (!_abandonedTurns.Add(turnId)) return;
        _abandonedOrder.Enqueue(turnId);
        if (_abandonedOrder.Count > AbandonedTurnsRemembered) _abandonedTurns.Remove(_abandonedOrder.Dequeue());
    }

    /// <summary>A notification of a turn this agent has left (replaced by a newer prompt).</summary>
    private bool FromAbandonedTurn(JsonObject p) =>
        (WsInbound.Str(p, "turnId") ?? p["turn"]?["id"]?.GetValue<string>()) is { } turnId
        && (_abandonedTurns.Contains(turnId) || (_turnId is not null && turnId != _turnId));

    protected override void AbortTurn() => Interrupt();

    private void Interrupt()
    {
        if (_threadId is null) return;
        Rpc.Call("turn/interrupt", new JsonObject { ["threadId"] = _threadId, ["turnId"] = _turnId });
    }

    protected override void OnResolvePermission(ResolvePermission resolve)
    {
        if (_questions.Remove(resolve.RequestId, out var question))
        {
            Rpc.Reply(question.RpcId, new JsonObject { ["answers"] = Answers(question.Questions, resolve.Resolution) });
            return;
        }
        if (!_approvals.Remove(resolve.RequestId, out var pending)) return;
        var allow = WsInbound.Str(resolve.Resolution, "behavior") == "allow";
        var interrupt = resolve.Resolution["interrupt"] is JsonValue i && i.TryGetValue<bool>(out var stop) && stop;
        Rpc.Reply(pending.RpcId, new JsonObject { ["decision"] = allow ? "accept" : interrupt ? "cancel" : "decline" });
    }

    /// <summary>The daemon's MCP server as Codex's config override (app-orchestration.md §4.2): `mcp_servers.paseo`, sent over stdin.</summary>
    private JsonObject? McpConfig() => Config.PaseoMcp is { } mcp
        ? new JsonObject
        {
            ["mcp_servers"] = new JsonObject
            {
                [mcp.Name] = new JsonObject { ["url"] = mcp.Url, ["http_headers"] = new JsonObject { ["Authorization"] = mcp.Authorization } },
            },
        }
        : null;

    /// <summary>Codex takes the policy with each turn: the new mode applies from the next one.</summary>
    protected override void OnSetMode(SetMode set)
    {
        _mode = set.ModeId;
        Emit(new ModeChanged(set.ModeId));
    }

    protected override void OnMessage(JsonRpc.Message message)
    {
        switch (message)
        {
            case JsonRpc.Response { Method: "initialize" } init:
                if (init.Error is not null)
                {
                    Die($"{Launch.Name} refused initialize: {WsInbound.Str(init.Error, "message")}");
                    return;
                }
                Rpc.Notify("initialized", new JsonObject());
                var (approval, sandbox, _) = Policy;
                if (Config.ResumeSessionId is { } resume)
                {
                    var resumed = new JsonObject { ["threadId"] = resume };
                    if (McpConfig() is { } mcp) resumed["config"] = mcp;
                    Rpc.Call("thread/resume", resumed, tag: resume);
                }
                else
                {
                    var start = new JsonObject { ["cwd"] = Config.Cwd, ["approvalPolicy"] = approval, ["sandbox"] = sandbox };
                    if (Config.Model is { } model) start["model"] = model;
                    if (McpConfig() is { } mcp) start["config"] = mcp;
                    Rpc.Call("thread/start", start);
                }
                break;
            case JsonRpc.Response { Method: "thread/start" or "thread/resume" } thread:
                if (thread.Error is not null)
                {
                    Die($"{Launch.Name} could not open a thread: {WsInbound.Str(thread.Error, "message")}");
                    return;
                }
                _threadId = thread.Result?["thread"]?["id"]?.GetValue<string>() ?? thread.Tag as string;
                if (_threadId is null)
                {
                    Die($"{Launch.Name} answered {thread.Method} without a thread id");
                    return;
                }
                Emit(new ThreadStarted(_threadId));
                Opened();
                break;
            case JsonRpc.Response { Method: "turn/start" } turn:
                var startedId = turn.Result?["turn"]?["id"] is JsonValue id ? id.GetValue<string>() : null;
                if (turn.Tag is long seq && seq != _turnStarts)
                {
                    // The answer for a turn replaced before its id was known: forget it, and make sure it stops.
                    if (startedId is null) break;
                    Abandon(startedId);
                    if (_turnId == startedId) _turnId = null;
                    Rpc.Call("turn/interrupt", new JsonObject { ["threadId"] = _threadId, ["turnId"] = startedId });
                }
                else if (turn.Error is not null && InTurn) TurnEnded(new TurnFailed($"{Launch.Name}: {WsInbound.Str(turn.Error, "message")}"));
                else if (startedId is not null) _turnId = startedId;
                break;
            case JsonRpc.Notification n:
                OnNotification(n.Method, n.Params);
                break;
            case JsonRpc.Request { Method: "item/commandExecution/requestApproval" or "item/fileChange/requestApproval" } abandoned when FromAbandonedTurn(abandoned.Params):
                Rpc.Reply(abandoned.Id, new JsonObject { ["decision"] = "cancel" }); // a question of a turn that was replaced
                break;
            case JsonRpc.Request { Method: "item/tool/requestUserInput" or "tool/requestUserInput" } abandoned when FromAbandonedTurn(abandoned.Params):
                Rpc.Reply(abandoned.Id, new JsonObject { ["answers"] = new JsonObject() });
                break;
            case JsonRpc.Request { Method: "item/commandExecution/requestApproval" or "item/fileChange/requestApproval" } approvalRequest:
                OnApproval(approvalRequest);
                break;
            case JsonRpc.Request { Method: "item/tool/requestUserInput" or "tool/requestUserInput" } question:
                OnQuestion(question);
                break;
            case JsonRpc.Request other:
                Rpc.ReplyError(other.Id, -32601, $"Method not supported by Paseo.NET: {other.Method}");
                break;
        }
    }

    private void OnNotification(string method, JsonObject p)
    {
        if (FromAbandonedTurn(p)) return;
        switch (method)
        {
            case "turn/started":
                _turnId = p["turn"]?["id"]?.GetValue<string>() ?? _turnId;
                break;
            case "item/reasoning/textDelta" when WsInbound.Str(p, "delta") is { Length: > 0 } thought:
                _streamed.Add(WsInbound.Str(p, "itemId") ?? "");
                Emit(new Timeline(TimelineItems.Reasoning(thought)));
                break;
            case "turn/plan/updated" when p["plan"] is JsonArray plan:
                Emit(new Timeline(TimelineItems.Todo(plan.OfType<JsonObject>().Select(step =>
                    (WsInbound.Str(step, "step") ?? "", WsInbound.Str(step, "status") == "completed")))));
                break;
            case "item/agentMessage/delta" when WsInbound.Str(p, "delta") is { Length: > 0 } delta:
                _streamed.Add(WsInbound.Str(p, "itemId") ?? "");
                Emit(new Timeline(TimelineItems.AssistantMessage(delta)));
                break;
            case "item/reasoning/summaryTextDelta" when WsInbound.Str(p, "delta") is { Length: > 0 } thought:
                _streamed.Add(WsInbound.Str(p, "itemId") ?? "");
                Emit(new Timeline(TimelineItems.Reasoning(thought)));
                break;
            case "item/started" when p["item"] is JsonObject item:
                OnItem(item, completed: false);
                break;
            case "item/completed" when p["item"] is JsonObject item:
                OnItem(item, completed: true);
                break;
            case "thread/tokenUsage/updated":
                var last = p["tokenUsage"]?["last"] as JsonObject;
                if (last is not null)
                    _lastUsage = new JsonObject
                    {
                        ["inputTokens"] = last["inputTokens"]?.DeepClone() ?? 0,
                        ["cachedInputTokens"] = last["cachedInputTokens"]?.DeepClone() ?? 0,
                        ["outputTokens"] = last["outputTokens"]?.DeepClone() ?? 0,
                    };
                break;
            case "turn/completed" when InTurn:
                var status = p["turn"]?["status"]?.GetValue<string>() ?? "completed";
                _streamed.Clear();
                _items.Clear();
                _approvals.Clear();
                _questions.Clear();
                TurnEnded(status switch
                {
                    "completed" => new TurnCompleted(_lastUsage),
                    "interrupted" => new TurnCanceled("Interrupted"),
                    _ => new TurnFailed($"{Launch.Name}: {p["turn"]?["error"]?["message"]?.GetValue<string>() ?? $"the turn {status}"}"),
                });
                _lastUsage = null;
                break;
        }
    }

    private void OnItem(JsonObject item, bool completed)
    {
        var id = WsInbound.Str(item, "id") ?? Guid.NewGuid().ToString("N");
        switch (WsInbound.Str(item, "type"))
        {
            case "agentMessage" when completed && !_streamed.Contains(id) && WsInbound.Str(item, "text") is { Length: > 0 } text:
                Emit(new Timeline(TimelineItems.AssistantMessage(text)));
                break;
            case "reasoning" when completed && !_streamed.Contains(id):
                // Not streamed: the summary (or the raw content) arrives whole with the completed item.
                var reasoning = string.Join("\n", ((item["summary"] as JsonArray ?? item["content"] as JsonArray) ?? []).Select(x => x is JsonValue v ? v.ToString() : WsInbound.Str(x as JsonObject ?? [], "text")).Where(x => !string.IsNullOrEmpty(x)));
                if (reasoning.Length > 0) Emit(new Timeline(TimelineItems.Reasoning(reasoning)));
                break;
            case "mcpToolCall":
                var mcpStatus = !completed ? "running" : WsInbound.Str(item, "status") == "failed" || item["error"] is JsonObject ? "failed" : "completed";
                Emit(new Timeline(TimelineItems.ToolCall(id, $"{WsInbound.Str(item, "server") ?? "mcp"}.{WsInbound.Str(item, "tool") ?? "tool"}",
                    new JsonObject { ["type"] = "unknown", ["input"] = item["arguments"]?.DeepClone(), ["output"] = item["result"]?.DeepClone() }, mcpStatus,
                    mcpStatus == "failed" ? item["error"]?["message"]?.GetValue<string>() ?? "The tool failed" : null)));
                break;
            case "webSearch":
                Emit(new Timeline(TimelineItems.ToolCall(id, "web_search",
                    new JsonObject { ["type"] = "search", ["query"] = WsInbound.Str(item, "query") ?? "", ["toolName"] = "web_search" }, completed ? "completed" : "running")));
                break;
            case "commandExecution":
                _items[id] = item;
                var command = WsInbound.Str(item, "command") ?? "";
                var output = WsInbound.Str(item, "aggregatedOutput");
                int? exitCode = item["exitCode"] is JsonValue e && e.TryGetValue<int>(out var code) ? code : null;
                var status = !completed ? "running" : WsInbound.Str(item, "status") is "failed" or "declined" ? "failed" : "completed";
                Emit(new Timeline(TimelineItems.ToolCall(id, "shell", TimelineItems.ShellDetail(command, WsInbound.Str(item, "cwd") ?? Config.Cwd, output, exitCode), status,
                    status == "failed" ? output ?? $"The command {WsInbound.Str(item, "status")}" : null)));
                break;
            case "fileChange":
                _items[id] = item;
                var path = (item["changes"] as JsonArray)?.OfType<JsonObject>().Select(c => WsInbound.Str(c, "path")).FirstOrDefault(x => x is not null) ?? "";
                var changeStatus = !completed ? "running" : WsInbound.Str(item, "status") is "failed" or "declined" ? "failed" : "completed";
                Emit(new Timeline(TimelineItems.ToolCall(id, "apply_patch", TimelineItems.EditDetail(path), changeStatus,
                    changeStatus == "failed" ? $"The change {WsInbound.Str(item, "status")}" : null)));
                break;
        }
    }

    private void OnApproval(JsonRpc.Request request)
    {
        var itemId = WsInbound.Str(request.Params, "itemId") ?? "";
        var isCommand = request.Method.StartsWith("item/commandExecution", StringComparison.Ordinal);
        var item = _items.GetValueOrDefault(itemId);
        var permissionId = $"permission-{Guid.NewGuid():D}";
        _approvals[permissionId] = (request.Id.DeepClone(), isCommand ? "command" : "file");
        var command = WsInbound.Str(request.Params, "command") ?? (item is null ? null : WsInbound.Str(item, "command")) ?? "";
        var path = (item?["changes"] as JsonArray)?.OfType<JsonObject>().Select(c => WsInbound.Str(c, "path")).FirstOrDefault(x => x is not null) ?? "";
        var permission = new JsonObject
        {
            ["id"] = permissionId,
            ["provider"] = Launch.Name,
            ["name"] = isCommand ? "shell" : "apply_patch",
            ["kind"] = "tool",
            ["title"] = isCommand ? $"Run {command}" : $"Change {path}",
            ["input"] = (JsonObject)request.Params.DeepClone(),
            ["detail"] = isCommand ? TimelineItems.ShellDetail(command, WsInbound.Str(request.Params, "cwd") ?? Config.Cwd) : TimelineItems.EditDetail(path),
        };
        if (WsInbound.Str(request.Params, "reason") is { } reason) permission["description"] = reason;
        Emit(new PermissionRequested(permission));
    }

    /// <summary>
    /// `item/tool/requestUserInput {questions:[{id, header, question, options:[{label, description}]}]}`: asked as a
    /// `kind:"question"` permission; the answer is `{answers:{<question id>:{answers:[...]}}}`.
    /// </summary>
    private void OnQuestion(JsonRpc.Request request)
    {
        var questions = request.Params["questions"] as JsonArray ?? [];
        var permissionId = $"permission-{Guid.NewGuid():D}";
        _questions[permissionId] = (request.Id.DeepClone(), (JsonArray)questions.DeepClone());
        var first = questions.OfType<JsonObject>().FirstOrDefault() ?? [];
        Emit(new PermissionRequested(new JsonObject
        {
            ["id"] = permissionId,
            ["provider"] = Launch.Name,
            ["name"] = "request_user_input",
            ["kind"] = "question",
            ["title"] = WsInbound.Str(first, "header") ?? WsInbound.Str(first, "question") ?? "Question",
            ["description"] = WsInbound.Str(first, "question"),
            ["input"] = new JsonObject { ["questions"] = questions.DeepClone() },
        }));
    }

    /// <summary>
    /// The resolution's `updatedInput.answers`, keyed by question id or question text (or a list in question order),
    /// each a string or a list of strings; a denial (or no answers) answers nothing, so Codex goes on without them.
    /// </summary>
    private static JsonObject Answers(JsonArray questions, JsonObject resolution)
    {
        var answers = new JsonObject();
        var given = WsInbound.Str(resolution, "behavior") == "allow" ? resolution["updatedInput"]?["answers"] : null;
        var index = 0;
        foreach (var question in questions.OfType<JsonObject>())
        {
            var id = WsInbound.Str(question, "id") ?? $"q{index}";
            var answer = given switch
            {
                JsonObject map => map[id] ?? map[WsInbound.Str(question, "question") ?? ""],
                JsonArray list when index < list.Count => list[index],
                _ => null,
            };
            index++;
            if (answer is null) continue;
            var labels = answer is JsonArray many
                ? new JsonArray([.. many.Select(x => (JsonNode?)JsonValue.Create(x?.ToString() ?? ""))])
                : new JsonArray(JsonValue.Create(answer.ToString()));
            answers[id] = new JsonObject { ["answers"] = labels };
        }
        return answers;
    }
}
