// Long on purpose: the Agent Client Protocol (providers.md §4.4) mapped message by message onto the provider protocol,
// with the agent's fs/* requests it must serve; read best in one place, as the spec is.
using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Providers.Stdio;
using Paseo.Transport.Configuration;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Acp;

/// <summary>
/// One ACP session: initialize → session/new (or session/load to resume) → session/prompt per turn; session/update
/// notifications become timeline rows; session/request_permission waits for the user; session/cancel interrupts;
/// session/set_mode changes modes; fs/read_text_file and fs/write_text_file are served inside the agent's cwd only, off the
/// actor's thread, one at a time, each file at most paseo.providers.max-file-bytes.
/// </summary>
public sealed class AcpProviderSession : StdioProviderSession
{
    /// <summary>File requests of the agent waiting or running; one more is refused (an agent asks for one file at a time).</summary>
    private const int MaxFileRequests = 16;

    private Task _fileWork = Task.CompletedTask;
    private int _fileRequests;

    public AcpProviderSession(ProviderSessionConfig config, StdioLaunch launch) : base(config, launch)
    {
    }

    protected override void ProtocolMessages()
    {
        Receive<FileServed>(served =>
        {
            _fileRequests--;
            if (served.Error is { } error) Rpc.ReplyError(served.Id, served.Code, error);
            else Rpc.Reply(served.Id, served.Result);
        });
    }

    /// <summary>The answer to one of the agent's fs/* requests, computed off the actor's thread.</summary>
    private sealed record FileServed(JsonNode Id, JsonObject? Result, int Code, string? Error) : INoSerializationVerificationNeeded;

    private string? _sessionId;
    private bool _loading;
    private bool _takesImages;
    private string? _authHint; // how the agent says to log in (initialize's authMethods), for a refused session
    private readonly Dictionary<string, (JsonNode RpcId, JsonArray Options)> _permissions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Title, string Kind, JsonNode? Input)> _tools = new(StringComparer.Ordinal);
    // Each session/prompt is tagged: the answer to a prompt that was replaced (canceled) must not end the new one.
    private long _prompts;

    protected override bool IncludeJsonRpcVersion => true;

    protected override void OnStarted() => Rpc.Call("initialize", new JsonObject
    {
        ["protocolVersion"] = 1,
        ["clientCapabilities"] = new JsonObject
        {
            ["fs"] = new JsonObject { ["readTextFile"] = true, ["writeTextFile"] = true },
            ["terminal"] = false,
        },
    });

    /// <summary>session/prompt: the text, then each image as an ACP image block — if the agent said it takes images.</summary>
    protected override void SendPrompt(RunTurn run)
    {
        if (run.AttachedImages.Count > 0 && !_takesImages)
        {
            TurnEnded(new TurnFailed($"{Launch.Name} does not take images (its promptCapabilities.image is false): send the prompt without them"));
            return;
        }
        var prompt = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = run.Prompt });
        foreach (var image in run.AttachedImages)
            prompt.Add(new JsonObject { ["type"] = "image", ["mimeType"] = image.MimeType, ["data"] = image.Data });
        Rpc.Call("session/prompt", new JsonObject { ["sessionId"] = _sessionId, ["prompt"] = prompt }, tag: ++_prompts);
    }

    protected override void AbortTurn() => Cancel();

    /// <summary>
    /// session/cancel, and (as ACP requires of the client) every pending session/request_permission answered with the
    /// `cancelled` outcome: the agent waits for those answers before it ends the prompt.
    /// </summary>
    private void Cancel()
    {
        Rpc.Notify("session/cancel", new JsonObject { ["sessionId"] = _sessionId });
        foreach (var (rpcId, _) in _permissions.Values)
            Rpc.Reply(rpcId, new JsonObject { ["outcome"] = new JsonObject { ["outcome"] = "cancelled" } });
        _permissions.Clear();
    }

    protected override void OnResolvePermission(ResolvePermission resolve)
    {
        if (!_permissions.Remove(resolve.RequestId, out var pending)) return;
        var allow = WsInbound.Str(resolve.Resolution, "behavior") == "allow";
        var wanted = WsInbound.Str(resolve.Resolution, "selectedActionId");
        var options = pending.Options.OfType<JsonObject>().ToList();
        var option = options.FirstOrDefault(o => wanted is not null && WsInbound.Str(o, "optionId") == wanted)
                     ?? options.FirstOrDefault(o => WsInbound.Str(o, "kind") == (allow ? "allow_once" : "reject_once"))
                     ?? options.FirstOrDefault(o => (WsInbound.Str(o, "kind") ?? "").StartsWith(allow ? "allow" : "reject", StringComparison.Ordinal));
        var outcome = option is null
            ? new JsonObject { ["outcome"] = "cancelled" }
            : new JsonObject { ["outcome"] = "selected", ["optionId"] = WsInbound.Str(option, "optionId") };
        Rpc.Reply(pending.RpcId, new JsonObject { ["outcome"] = outcome });
        if (!allow && resolve.Resolution["interrupt"] is JsonValue i && i.TryGetValue<bool>(out var interrupt) && interrupt) Self.Tell(Interrupt.Instance);
    }

    protected override void OnSetMode(SetMode set) =>
        Rpc.Call("session/set_mode", new JsonObject { ["sessionId"] = _sessionId, ["modeId"] = set.ModeId }, tag: set.ModeId);

    /// <summary>The daemon's MCP server for session/new and session/load (app-orchestration.md §4.2), with its credential as a header.</summary>
    private bool _takesHttpMcp;

    private JsonArray McpServers() => Config.PaseoMcp is { } mcp && _takesHttpMcp
        ? [new JsonObject
        {
            ["type"] = "http", ["name"] = mcp.Name, ["url"] = mcp.Url,
            ["headers"] = new JsonArray(new JsonObject { ["name"] = "Authorization", ["value"] = mcp.Authorization }),
        }]
        : [];

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
                var canLoad = init.Result?["agentCapabilities"]?["loadSession"] is JsonValue load && load.TryGetValue<bool>(out var yes) && yes;
                _takesImages = init.Result?["agentCapabilities"]?["promptCapabilities"]?["image"] is JsonValue image && image.TryGetValue<bool>(out var takes) && takes;
                // An agent that does not say it takes HTTP MCP servers is not given one (it may refuse session/new).
                _takesHttpMcp = init.Result?["agentCapabilities"]?["mcpCapabilities"]?["http"] is JsonValue http && http.TryGetValue<bool>(out var takesHttp) && takesHttp;
                _authHint = (init.Result?["authMethods"] as JsonArray)?.OfType<JsonObject>()
                    .Select(m => WsInbound.Str(m, "description") ?? WsInbound.Str(m, "name")).FirstOrDefault(d => !string.IsNullOrWhiteSpace(d));
                if (Config.ResumeSessionId is { } resume && canLoad)
                {
                    // session/load replays the conversation as session/update: the timeline already has it.
                    _loading = true;
                    Rpc.Call("session/load", new JsonObject { ["sessionId"] = resume, ["cwd"] = Config.Cwd, ["mcpServers"] = McpServers() }, tag: resume);
                }
                else
                    Rpc.Call("session/new", new JsonObject { ["cwd"] = Config.Cwd, ["mcpServers"] = McpServers() });
                break;
            case JsonRpc.Response { Method: "session/new" or "session/load" } session:
                _loading = false;
                if (session.Error is not null)
                {
                    // Credentials are the CLI's own business: a refusal for want of them says how the CLI wants to be logged in.
                    var refusal = WsInbound.Str(session.Error, "message") ?? "no reason given";
                    Die(_authHint is not null && refusal.Contains("auth", StringComparison.OrdinalIgnoreCase)
                        ? $"{Launch.Name} could not open a session: {refusal} ({_authHint})"
                        : $"{Launch.Name} could not open a session: {refusal}");
                    return;
                }
                _sessionId = WsInbound.Str(session.Result as JsonObject ?? [], "sessionId") ?? session.Tag as string;
                if (_sessionId is null)
                {
                    Die($"{Launch.Name} answered {session.Method} without a sessionId");
                    return;
                }
                Emit(new ThreadStarted(_sessionId));
                OnModes(session.Result?["modes"] as JsonObject);
                if (Config.ModeId is { } wanted && session.Result?["modes"]?["currentModeId"]?.GetValue<string>() is { } current && current != wanted)
                    OnSetMode(new SetMode(wanted));
                // The agent's model (ACP session models): the agent's model id, chosen with session/set_model.
                if (Config.Model is { } wantedModel && session.Result?["models"] is JsonObject models
                    && WsInbound.Str(models, "currentModelId") != wantedModel)
                {
                    var offered = (models["availableModels"] as JsonArray ?? []).OfType<JsonObject>().Select(m => WsInbound.Str(m, "modelId")).ToList();
                    if (offered.Contains(wantedModel))
                        Rpc.Call("session/set_model", new JsonObject { ["sessionId"] = _sessionId, ["modelId"] = wantedModel }, tag: wantedModel);
                    else
                        Emit(new Timeline(TimelineItems.Error($"{Launch.Name} does not offer model {wantedModel} (it offers {string.Join(", ", offered)}); it keeps {WsInbound.Str(models, "currentModelId")}")));
                }
                Opened();
                break;
            case JsonRpc.Response { Method: "session/prompt" } prompt:
                if (!InTurn || prompt.Tag is long seq && seq != _prompts) return; // a canceled or replaced turn's late answer
                if (prompt.Error is not null)
                {
                    TurnEnded(new TurnFailed($"{Launch.Name}: {WsInbound.Str(prompt.Error, "message") ?? "the prompt failed"}"));
                    return;
                }
                var stopReason = WsInbound.Str(prompt.Result as JsonObject ?? [], "stopReason") ?? "end_turn";
                _tools.Clear();
                TurnEnded(stopReason switch
                {
                    "end_turn" => new TurnCompleted(Usage(prompt.Result?["usage"] as JsonObject)),
                    "cancelled" => new TurnCanceled("Interrupted"),
                    _ => new TurnFailed($"{Launch.Name} stopped: {stopReason}"),
                });
                break;
            case JsonRpc.Response { Method: "session/set_model", Error: { } refused } model:
                Emit(new Timeline(TimelineItems.Error($"{Launch.Name} refused model {model.Tag}: {WsInbound.Str(refused, "message")}")));
                break;
            case JsonRpc.Response { Method: "session/set_model" }:
                break;
            case JsonRpc.Response { Method: "session/set_mode" } mode:
                if (mode.Error is null) Emit(new ModeChanged((string)mode.Tag!));
                else Emit(new Timeline(TimelineItems.Error($"{Launch.Name} refused mode {mode.Tag}: {WsInbound.Str(mode.Error, "message")}")));
                break;
            case JsonRpc.Notification { Method: "session/update" } update:
                OnUpdate(update.Params["update"] as JsonObject);
                break;
            case JsonRpc.Request { Method: "session/request_permission" } ask:
                OnPermissionRequest(ask);
                break;
            case JsonRpc.Request { Method: "fs/read_text_file" } read:
                ServeRead(read);
                break;
            case JsonRpc.Request { Method: "fs/write_text_file" } write:
                ServeWrite(write);
                break;
            case JsonRpc.Request other:
                Rpc.ReplyError(other.Id, -32601, $"Method not supported by Paseo.NET: {other.Method}");
                break;
        }
    }

    private void OnModes(JsonObject? modes)
    {
        if (modes?["availableModes"] is not JsonArray available) return;
        var list = available.OfType<JsonObject>()
            .Select(m => new AgentMode(WsInbound.Str(m, "id") ?? "", WsInbound.Str(m, "name") ?? WsInbound.Str(m, "id") ?? "", WsInbound.Str(m, "description")))
            .Where(m => m.Id.Length > 0)
            .ToList();
        Emit(new ModesDiscovered(list, WsInbound.Str(modes, "currentModeId")));
    }

    private void OnUpdate(JsonObject? update)
    {
        if (update is null || _loading) return;
        switch (WsInbound.Str(update, "sessionUpdate"))
        {
            case "agent_message_chunk" when Text(update) is { Length: > 0 } text:
                Emit(new Timeline(TimelineItems.AssistantMessage(text)));
                break;
            case "agent_thought_chunk" when Text(update) is { Length: > 0 } thought:
                Emit(new Timeline(TimelineItems.Reasoning(thought)));
                break;
            case "tool_call":
                var id = WsInbound.Str(update, "toolCallId") ?? Guid.NewGuid().ToString("N");
                var title = WsInbound.Str(update, "title") ?? "tool";
                var kind = WsInbound.Str(update, "kind") ?? "other";
                _tools[id] = (title, kind, update["rawInput"]?.DeepClone());
                Emit(new Timeline(TimelineItems.ToolCall(id, title, Detail(kind, title, update["rawInput"], null), Status(WsInbound.Str(update, "status")) ?? "running")));
                break;
            case "tool_call_update":
                var toolId = WsInbound.Str(update, "toolCallId") ?? "";
                var known = _tools.TryGetValue(toolId, out var tool) ? tool : (WsInbound.Str(update, "title") ?? "tool", WsInbound.Str(update, "kind") ?? "other", null);
                var status = Status(WsInbound.Str(update, "status"));
                if (status is null) return;
                var output = Output(update);
                Emit(new Timeline(TimelineItems.ToolCall(toolId, known.Title, Detail(known.Kind, known.Title, known.Input, output), status,
                    status == "failed" ? output ?? "The tool failed" : null)));
                if (status is "completed" or "failed") _tools.Remove(toolId);
                break;
            case "current_mode_update" when WsInbound.Str(update, "currentModeId") is { } mode:
                Emit(new ModeChanged(mode));
                break;
            case "plan" when update["entries"] is JsonArray entries:
                Emit(new Timeline(TimelineItems.Todo(entries.OfType<JsonObject>().Select(e =>
                    (WsInbound.Str(e, "content") ?? "", WsInbound.Str(e, "status") == "completed")))));
                break;
        }
    }

    /// <summary>The prompt answer's `usage` (inputTokens, outputTokens, cachedReadTokens), when the agent reports it.</summary>
    private static JsonObject? Usage(JsonObject? usage) => usage is null ? null : new JsonObject
    {
        ["inputTokens"] = usage["inputTokens"]?.DeepClone() ?? 0,
        ["cachedInputTokens"] = usage["cachedReadTokens"]?.DeepClone() ?? 0,
        ["outputTokens"] = usage["outputTokens"]?.DeepClone() ?? 0,
    };

    private void OnPermissionRequest(JsonRpc.Request ask)
    {
        var toolCall = ask.Params["toolCall"] as JsonObject ?? [];
        var options = ask.Params["options"] as JsonArray ?? [];
        var permissionId = $"permission-{Guid.NewGuid():D}";
        _permissions[permissionId] = (ask.Id.DeepClone(), (JsonArray)options.DeepClone());
        var title = WsInbound.Str(toolCall, "title") ?? "Permission";
        var kind = WsInbound.Str(toolCall, "kind") ?? "other";
        Emit(new PermissionRequested(new JsonObject
        {
            ["id"] = permissionId,
            ["provider"] = Launch.Name,
            ["name"] = title,
            ["kind"] = "tool",
            ["title"] = title,
            ["input"] = toolCall["rawInput"]?.DeepClone() ?? new JsonObject(),
            ["detail"] = Detail(kind, title, toolCall["rawInput"], null),
            ["actions"] = new JsonArray(options.OfType<JsonObject>().Select(o => (JsonNode)new JsonObject
            {
                ["id"] = WsInbound.Str(o, "optionId"),
                ["label"] = WsInbound.Str(o, "name") ?? WsInbound.Str(o, "optionId"),
                ["behavior"] = (WsInbound.Str(o, "kind") ?? "").StartsWith("allow", StringComparison.Ordinal) ? "allow" : "deny",
            }).ToArray()),
        }));
    }

    /// <summary>fs/read_text_file (optionally from a 1-based `line`, at most `limit` lines), confined to the agent's working directory.</summary>
    private void ServeRead(JsonRpc.Request read)
    {
        var line = read.Params["line"] is JsonValue l && l.TryGetValue<long>(out var fromLine) ? fromLine : (long?)null;
        var limit = read.Params["limit"] is JsonValue n && n.TryGetValue<long>(out var maxLines) ? maxLines : (long?)null;
        var maxBytes = Launch.Settings.MaxFileBytes;
        var cwd = Config.Cwd;
        ServeFile(read, path =>
        {
            var (real, refused) = ResolveInside(path, cwd, mustExist: true);
            if (refused is not null) return (null, refused);
            // Read at most one byte more than allowed: a file that grows, or a size that lies (/proc), cannot make it more.
            using var stream = new FileStream(real!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[(int)Math.Min(maxBytes + 1, Math.Max(stream.Length + 1, 4096))];
            var total = 0;
            int got;
            while (total <= maxBytes && (got = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += got;
                if (total == buffer.Length && total <= maxBytes) Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1, (long)buffer.Length * 2));
            }
            if (total > maxBytes)
                return (null, $"{path} has more than {maxBytes} bytes, more than the daemon serves to an agent (paseo.providers.max-file-bytes = {maxBytes})");
            var content = System.Text.Encoding.UTF8.GetString(buffer, 0, total);
            if (line is not null || limit is not null)
            {
                var lines = content.Split('\n').Skip((int)Math.Clamp((line ?? 1) - 1, 0, int.MaxValue));
                if (limit is { } max) lines = lines.Take((int)Math.Clamp(max, 0, int.MaxValue));
                content = string.Join('\n', lines);
            }
            return (new JsonObject { ["content"] = content }, null);
        });
    }

    private void ServeWrite(JsonRpc.Request write)
    {
        var content = WsInbound.Str(write.Params, "content") ?? "";
        var maxBytes = Launch.Settings.MaxFileBytes;
        var cwd = Config.Cwd;
        ServeFile(write, path =>
        {
            var bytes = System.Text.Encoding.UTF8.GetByteCount(content);
            if (bytes > maxBytes)
                return (null, $"the content has {bytes} bytes, more than the daemon writes for an agent (paseo.providers.max-file-bytes = {maxBytes})");
            var (real, refused) = ResolveInside(path, cwd, mustExist: false);
            if (refused is not null) return (null, refused);
            // An existing file is written where it really is; a new one is created exclusively, so a link left at its name
            // (pointing out of the cwd at nothing yet) is refused rather than followed.
            using (var stream = new FileStream(real!, File.Exists(real) ? FileMode.Truncate : FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                stream.Write(System.Text.Encoding.UTF8.GetBytes(content));
            return (new JsonObject(), null);
        });
    }

    /// <summary>
    /// The path as it really is (every link followed) must be a regular file inside the real cwd: a link out of the cwd
    /// is refused, and so are FIFOs and devices (reading one could block a thread for good or never end).
    /// </summary>
    private static (string? Real, string? Refusal) ResolveInside(string path, string cwd, bool mustExist)
    {
        var root = Paseo.Transport.Files.UnixFiles.RealPath(cwd) ?? cwd;
        var real = Paseo.Transport.Files.UnixFiles.RealPath(path);
        if (real is null)
        {
            if (mustExist) return (null, $"{path}: no such file");
            // A new file (or a link to nothing): its folder must be inside the cwd; it is created exclusively at that name.
            var folder = Paseo.Transport.Files.UnixFiles.RealPath(Path.GetDirectoryName(path)!);
            return folder is not null && Paseo.Transport.Files.UnixFiles.IsInside(folder, root)
                ? (Path.Combine(folder, Path.GetFileName(path)), null)
                : (null, "Path outside the agent's working directory");
        }
        if (!Paseo.Transport.Files.UnixFiles.IsInside(real, root)) return (null, "Path outside the agent's working directory (through a link)");
        if (Paseo.Transport.Files.UnixFiles.IsRegularFile(real) == false) return (null, $"{path} is not a regular file");
        return (real, null);
    }

    /// <summary>
    /// Runs one fs/* request off the actor's thread, after the ones before it (in order), and answers it from the actor.
    /// A path outside the cwd, too many requests at once, or any failure of the work is answered with an error.
    /// </summary>
    private void ServeFile(JsonRpc.Request request, Func<string, (JsonObject? Result, string? Refusal)> work)
    {
        if (InsideCwd(WsInbound.Str(request.Params, "path")) is not { } path)
        {
            Rpc.ReplyError(request.Id, -32602, "Path outside the agent's working directory");
            return;
        }
        if (_fileRequests >= MaxFileRequests)
        {
            Rpc.ReplyError(request.Id, -32603, $"Too many file requests at once ({MaxFileRequests}); wait for the answers");
            return;
        }
        _fileRequests++;
        var id = request.Id.DeepClone();
        _fileWork = _fileWork.ContinueWith(_ =>
        {
            try
            {
                var (result, refusal) = work(path);
                return refusal is null ? new FileServed(id, result, 0, null) : new FileServed(id, null, -32603, refusal);
            }
            catch (Exception e)
            {
                // Whatever went wrong, the agent gets an answer and the slot is freed.
                return new FileServed(id, null, -32603, e.Message);
            }
        }, TaskScheduler.Default);
        ((Task<FileServed>)_fileWork).PipeTo(Self);
    }

    private string? InsideCwd(string? path)
    {
        if (string.IsNullOrEmpty(path)) return null;
        var root = Path.GetFullPath(Config.Cwd).TrimEnd('/') + "/";
        var full = Path.GetFullPath(path, Config.Cwd);
        return full.StartsWith(root, StringComparison.Ordinal) ? full : null;
    }

    private static string? Text(JsonObject update) =>
        update["content"] is JsonObject content && WsInbound.Str(content, "type") == "text" ? WsInbound.Str(content, "text") : null;

    private static string? Status(string? acpStatus) => acpStatus switch
    {
        "pending" or "in_progress" => "running",
        "completed" => "completed",
        "failed" => "failed",
        _ => null,
    };

    private static string? Output(JsonObject update)
    {
        if (update["content"] is JsonArray blocks)
        {
            var texts = blocks.OfType<JsonObject>().Select(b => b["content"] is JsonObject c ? WsInbound.Str(c, "text") : null).Where(t => t is not null).ToList();
            if (texts.Count > 0) return string.Join("\n", texts);
        }
        return update["rawOutput"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonNode n => n.ToJsonString(),
            null => null,
        };
    }

    /// <summary>ACP tool kinds (read, edit, execute, search, fetch, ...) as timeline details.</summary>
    private static JsonObject Detail(string kind, string title, JsonNode? input, string? output)
    {
        var fields = input as JsonObject ?? [];
        string? Str(string key) => WsInbound.Str(fields, key);
        return kind switch
        {
            "execute" => TimelineItems.ShellDetail(Str("command") ?? title, null, output),
            "read" => TimelineItems.ReadDetail(Str("path") ?? Str("file_path") ?? title, output),
            "edit" => TimelineItems.EditDetail(Str("path") ?? Str("file_path") ?? title, Str("oldText"), Str("newText")),
            "search" => new JsonObject { ["type"] = "search", ["query"] = Str("query") ?? Str("pattern") ?? title },
            "fetch" => new JsonObject { ["type"] = "fetch", ["url"] = Str("url") ?? title },
            _ => new JsonObject { ["type"] = "unknown", ["input"] = input?.DeepClone(), ["output"] = output },
        };
    }
}
