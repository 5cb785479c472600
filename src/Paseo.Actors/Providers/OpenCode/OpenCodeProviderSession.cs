using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Configuration;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.OpenCode;

/// <summary>
/// One OpenCode session on the shared server: `POST /session` (or the stored session id), `prompt_async` per turn,
/// `abort` to interrupt; SSE events for this session (routed by the server) become timeline rows; `permission.asked` waits
/// for the user and is answered with `POST /permission/{id}/reply`. HTTP calls run off the actor's thread (PipeTo).
/// </summary>
public sealed class OpenCodeProviderSession : ProviderSessionActor
{
    private sealed record Started(string SessionId);

    private sealed record StartFailed(string Error);

    private sealed record CallFailed(string What, string Error);

    /// <summary>This session's event channel was completed (unregistered or replaced): nothing more to read.</summary>
    private sealed record FeedEnded;

    private sealed record NoServer;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ProviderSessionConfig _config;
    private readonly OpenCodeProvider _provider;
    private string? _sessionId;
    private string _mode;
    private JsonObject? _usage;
    private readonly Dictionary<string, string> _partTypes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _streamedParts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _permissions = new(StringComparer.Ordinal); // our id → OpenCode request id
    private readonly Dictionary<string, (string RequestId, JsonArray Questions)> _questions = new(StringComparer.Ordinal); // our id → OpenCode question
    private System.Threading.Channels.ChannelReader<OpenCodeEvent>? _events;
    private readonly string _directory;
    // The server's actor and HTTP client, once it has answered Acquire; the OpenCode session id while it is being bound.
    private IActorRef? _server;
    private HttpClient? _http;
    private string? _binding;
    // Every HTTP call of this session: cancelled when it stops, or when the server does.
    private readonly CancellationTokenSource _stopping = new();
    private CancellationTokenSource _calls;
    // Only the server's: an abort must reach the server even when this session stops right after asking for it.
    private CancellationToken _serverStopping;

    public OpenCodeProviderSession(ProviderSessionConfig config, OpenCodeProvider provider)
    {
        _config = config;
        _provider = provider;
        _mode = config.ModeId ?? "build";
        // One spelling per directory (no trailing slash, absolute): the server keys sessions and event feeds by it.
        _directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(config.Cwd));
        _calls = _stopping;
    }

    protected override string Name => "opencode";

    protected override TimeSpan InterruptGrace => _provider.Settings.InterruptGrace;

    // The server is shared: a turn it does not confirm stopping is ended here, and the server goes on.
    protected override bool StopWhenInterruptOverdue => false;

    protected override void Common()
    {
        Receive<OpenCodeServerProtocol.FeedReady>(ready =>
        {
            if (Phase == ProviderSessionPhase.Failed) return; // it answered after this session gave up on it
            Timers.Cancel("server");
            _server = Sender;
            _http = ready.Http;
            _calls = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, ready.ServerStopping);
            _serverStopping = ready.ServerStopping;
            OpenSession();
        });
        Receive<OpenCodeServerProtocol.FeedFailed>(failed =>
        {
            Timers.Cancel("server");
            Self.Tell(new StartFailed($"cannot start opencode: {failed.Reason}"));
        });
        Receive<NoServer>(_ => Self.Tell(new StartFailed($"cannot start opencode: its server actor ({_provider.ServerPath}) did not answer")));
        // Its events are routed to this actor before the agent learns the session (and may send a prompt).
        Receive<Started>(started =>
        {
            if (Phase == ProviderSessionPhase.Failed) return;
            _binding = started.SessionId;
            _server!.Tell(new OpenCodeServerProtocol.BindSession(started.SessionId, _directory, Self));
        });
        Receive<OpenCodeServerProtocol.SessionEvents>(bound =>
        {
            if (Phase == ProviderSessionPhase.Failed) return;
            if (_binding is not { } started) return;
            _sessionId = started;
            _binding = null;
            _events = bound.Events;
            ReadNextEvent();
            Emit(new ThreadStarted(started));
            Opened();
            AddPaseoMcp();
        });
        Receive<StartFailed>(failed =>
        {
            _log.Warning("Agent {0}: {1}", _config.AgentId, failed.Error);
            OpenFailed(failed.Error);
        });
        Receive<ResolvePermission>(resolve =>
        {
            if (_questions.Remove(resolve.RequestId, out var question))
            {
                AnswerQuestion(question.RequestId, question.Questions, resolve.Resolution);
                return;
            }
            if (!_permissions.Remove(resolve.RequestId, out var requestId)) return;
            var allow = WsInbound.Str(resolve.Resolution, "behavior") == "allow";
            var body = new JsonObject { ["reply"] = allow ? "once" : "reject" };
            if (!allow && WsInbound.Str(resolve.Resolution, "message") is { } message) body["message"] = message;
            Post($"permission/{Uri.EscapeDataString(requestId)}/reply", body, "reply to a permission");
            if (!allow && resolve.Resolution["interrupt"] is JsonValue i && i.TryGetValue<bool>(out var interrupt) && interrupt) Self.Tell(Interrupt.Instance);
        });
        Receive<SetMode>(set =>
        {
            // The agent (build/plan) goes with each prompt; full-access is applied here, to permissions.
            _mode = set.ModeId;
            Emit(new ModeChanged(set.ModeId));
        });
        Receive<OpenCodeEvent>(e =>
        {
            OnEvent(e);
            ReadNextEvent();
        });
        Receive<FeedEnded>(_ => { });
        Receive<OpenCodeServerGone>(gone => Die(gone.Reason));
        Receive<Akka.NotUsed>(_ => { });
        Receive<CallFailed>(failed =>
        {
            _log.Warning("Agent {0}: opencode {1} failed: {2}", _config.AgentId, failed.What, failed.Error);
            if (failed.What == "prompt") Fail($"opencode did not take the prompt: {failed.Error}");
        });
    }

    protected override void PreStart()
    {
        // The server (started if needed) answers once this directory's event feed is connected.
        Context.ActorSelection(_provider.ServerPath).Tell(new OpenCodeServerProtocol.Acquire(_directory, Self));
        Timers.StartSingleTimer("server", new NoServer(), _provider.ServerAnswerTimeout);
    }

    /// <summary>The stored OpenCode session if the server still has it, else a new one.</summary>
    private void OpenSession()
    {
        var http = _http!;
        var cwd = _directory;
        var resume = _config.ResumeSessionId;
        var token = _calls.Token;
        Task.Run(async () =>
        {
            try
            {
                if (resume is not null)
                {
                    using var existing = await http.GetAsync($"session/{Uri.EscapeDataString(resume)}?directory={Uri.EscapeDataString(cwd)}", token);
                    if (existing.IsSuccessStatusCode) return (object)new Started(resume);
                }
                using var created = await http.PostAsJsonAsync($"session?directory={Uri.EscapeDataString(cwd)}", new JsonObject(), token);
                created.EnsureSuccessStatusCode();
                var session = await created.Content.ReadFromJsonAsync<JsonObject>(token);
                return WsInbound.Str(session ?? [], "id") is { } id ? new Started(id) : new StartFailed("opencode created a session without an id");
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException or ObjectDisposedException
                                           or System.Text.Json.JsonException)
            {
                return new StartFailed($"cannot start opencode: {e.Message}");
            }
        }).PipeTo(Self);
    }

    /// <summary>One event at a time, pulled from the bounded channel the server fills (never a mailbox flood).</summary>
    private void ReadNextEvent() =>
        _events?.ReadAsync().AsTask().PipeTo(Self, success: e => e, failure: _ => new FeedEnded());

    // The server releases this session's directory and routes when it sees it stop (DeathWatch); its calls end here.
    protected override void PostStop()
    {
        // A turn still running (the agent was deleted or stopped mid-turn) must not go on spending on the shared server.
        if (InTurn && _sessionId is not null) Abort();
        _stopping.Cancel();
        if (!ReferenceEquals(_calls, _stopping)) _calls.Dispose();
        _stopping.Dispose();
    }

    protected override void ForgetTurn()
    {
        _streamedParts.Clear();
        _partTypes.Clear();
        _permissions.Clear();
        _questions.Clear();
    }

    private void Fail(string reason) => TurnEnded(new TurnFailed(reason));

    protected override void AbortTurn() => Abort();

    /// <summary>prompt_async: the text part, then each image as a `file` part with a data URL.</summary>
    protected override void SendPrompt(RunTurn run)
    {
        var parts = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = run.Prompt });
        var index = 0;
        foreach (var image in run.AttachedImages)
            parts.Add(new JsonObject
            {
                ["type"] = "file",
                ["mime"] = image.MimeType,
                ["filename"] = $"image-{++index}.{image.MimeType[(image.MimeType.IndexOf('/') + 1)..].Replace("jpeg", "jpg")}",
                ["url"] = $"data:{image.MimeType};base64,{image.Data}",
            });
        var body = new JsonObject
        {
            ["parts"] = parts,
            ["agent"] = _mode == "plan" ? "plan" : "build",
        };
        if (_config.Model is { } model && model.IndexOf('/') is var slash and > 0)
            body["model"] = new JsonObject { ["providerID"] = model[..slash], ["modelID"] = model[(slash + 1)..] };
        Post($"session/{Uri.EscapeDataString(_sessionId!)}/prompt_async", body, "prompt");
    }

    /// <summary>
    /// The daemon's MCP server for this agent's directory (app-orchestration.md §4.2): `POST /mcp`, then
    /// `POST /mcp/paseo/connect`, one after the other; a failure (one already present) is logged and the agent goes on.
    /// </summary>
    private void AddPaseoMcp()
    {
        if (_config.PaseoMcp is not { } mcp || _http is not { } http) return;
        var query = $"?directory={Uri.EscapeDataString(_directory)}";
        var cancel = _calls.Token;
        var add = new JsonObject
        {
            ["name"] = mcp.Name,
            ["config"] = new JsonObject
            {
                ["type"] = "remote", ["url"] = mcp.Url, ["enabled"] = true, ["headers"] = new JsonObject { ["Authorization"] = mcp.Authorization },
            },
        };
        Task.Run(async () =>
        {
            try
            {
                using (var added = await http.PostAsJsonAsync("mcp" + query, add, cancel))
                    if (!added.IsSuccessStatusCode) return (object)new CallFailed("add the paseo MCP server", $"HTTP {(int)added.StatusCode}: {await added.Content.ReadAsStringAsync(cancel)}");
                using var connected = await http.PostAsJsonAsync($"mcp/{Uri.EscapeDataString(mcp.Name)}/connect{query}", new JsonObject(), cancel);
                return connected.IsSuccessStatusCode ? Akka.NotUsed.Instance
                    : new CallFailed("connect the paseo MCP server", $"HTTP {(int)connected.StatusCode}: {await connected.Content.ReadAsStringAsync(cancel)}");
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException or ObjectDisposedException)
            {
                return new CallFailed("add the paseo MCP server", e.Message);
            }
        }).PipeTo(Self);
    }

    private void Abort() => Post($"session/{Uri.EscapeDataString(_sessionId ?? "")}/abort", new JsonObject(), "abort", _serverStopping);

    /// <param name="token">What cancels the call: by default this session's stop (or the server's).</param>
    private void Post(string path, JsonObject body, string what, CancellationToken? token = null)
    {
        if (_http is not { } http)
        {
            Self.Tell(new CallFailed(what, "the OpenCode server is not running"));
            return;
        }
        var url = $"{path}?directory={Uri.EscapeDataString(_directory)}";
        var cancel = token ?? _calls.Token;
        Task.Run(async () =>
        {
            try
            {
                using var response = await http.PostAsJsonAsync(url, body, cancel);
                return response.IsSuccessStatusCode ? null : (object)new CallFailed(what, $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException or ObjectDisposedException)
            {
                return new CallFailed(what, e.Message);
            }
        }).PipeTo(Self, success: r => r ?? Akka.NotUsed.Instance);
    }

    private void OnEvent(OpenCodeEvent e)
    {
        var p = e.Properties;
        switch (e.Type)
        {
            case "message.part.updated" when p["part"] is JsonObject part:
                var partId = WsInbound.Str(part, "id") ?? "";
                var type = WsInbound.Str(part, "type") ?? "";
                _partTypes[partId] = type;
                if (type == "tool") OnToolPart(part);
                else if (type is "text" or "reasoning" && !_streamedParts.Contains(partId) && part["time"]?["end"] is not null
                         && WsInbound.Str(part, "text") is { Length: > 0 } whole && InTurn)
                    Emit(new Timeline(type == "text" ? TimelineItems.AssistantMessage(whole) : TimelineItems.Reasoning(whole)));
                break;
            case "message.part.delta" when WsInbound.Str(p, "delta") is { Length: > 0 } delta && InTurn:
                var deltaPart = WsInbound.Str(p, "partID") ?? "";
                _streamedParts.Add(deltaPart);
                Emit(new Timeline(_partTypes.GetValueOrDefault(deltaPart) == "reasoning" ? TimelineItems.Reasoning(delta) : TimelineItems.AssistantMessage(delta)));
                break;
            case "message.updated" when p["info"] is JsonObject info && WsInbound.Str(info, "role") == "assistant" && info["tokens"] is JsonObject tokens:
                _usage = new JsonObject
                {
                    ["inputTokens"] = tokens["input"]?.DeepClone() ?? 0,
                    ["cachedInputTokens"] = tokens["cache"]?["read"]?.DeepClone() ?? 0,
                    ["outputTokens"] = tokens["output"]?.DeepClone() ?? 0,
                    ["totalCostUsd"] = info["cost"]?.DeepClone() ?? 0,
                };
                break;
            case "permission.asked":
                OnPermission(p);
                break;
            case "question.asked":
                OnQuestion(p);
                break;
            case "todo.updated" when p["todos"] is JsonArray todos:
                Emit(new Timeline(TimelineItems.Todo(todos.OfType<JsonObject>().Select(t =>
                    (WsInbound.Str(t, "content") ?? "", WsInbound.Str(t, "status") == "completed")))));
                break;
            case "session.compacted":
                Emit(new Timeline(TimelineItems.Compaction("completed", "auto")));
                break;
            case "session.idle" when InTurn:
                TurnEnded(Phase == ProviderSessionPhase.Interrupting ? new TurnCanceled("Interrupted") : new TurnCompleted(_usage));
                _usage = null;
                break;
            case "session.error" when InTurn:
                var name = p["error"]?["name"]?.GetValue<string>();
                var message = p["error"]?["data"]?["message"]?.GetValue<string>() ?? name ?? "unknown error";
                TurnEnded(name == "MessageAbortedError" || Phase == ProviderSessionPhase.Interrupting ? new TurnCanceled("Interrupted") : new TurnFailed($"opencode: {message}"));
                break;
        }
    }

    private void OnToolPart(JsonObject part)
    {
        var callId = WsInbound.Str(part, "callID") ?? WsInbound.Str(part, "id") ?? "";
        var tool = WsInbound.Str(part, "tool") ?? "tool";
        var state = part["state"] as JsonObject ?? [];
        var input = state["input"] as JsonObject ?? [];
        var status = WsInbound.Str(state, "status") switch
        {
            "completed" => "completed",
            "error" => "failed",
            _ => "running",
        };
        var output = WsInbound.Str(state, "output");
        JsonObject detail = tool switch
        {
            "bash" => TimelineItems.ShellDetail(WsInbound.Str(input, "command") ?? "", _config.Cwd, output),
            "read" => TimelineItems.ReadDetail(WsInbound.Str(input, "filePath") ?? "", output),
            "edit" => TimelineItems.EditDetail(WsInbound.Str(input, "filePath") ?? "", WsInbound.Str(input, "oldString"), WsInbound.Str(input, "newString")),
            "write" => new JsonObject { ["type"] = "write", ["filePath"] = WsInbound.Str(input, "filePath") ?? "" },
            _ => new JsonObject { ["type"] = "unknown", ["input"] = input.DeepClone(), ["output"] = output },
        };
        Emit(new Timeline(TimelineItems.ToolCall(callId, tool, detail, status, status == "failed" ? WsInbound.Str(state, "error") ?? "The tool failed" : null)));
    }

    /// <summary>
    /// `question.asked {id, questions:[{question, header, options:[{label, description}], multiple?}]}`: asked as a
    /// `kind:"question"` permission, whose answers come back in the resolution's `updatedInput.answers`.
    /// </summary>
    private void OnQuestion(JsonObject p)
    {
        if (WsInbound.Str(p, "id") is not { } requestId || p["questions"] is not JsonArray questions) return;
        var id = $"permission-{Guid.NewGuid():D}";
        _questions[id] = (requestId, (JsonArray)questions.DeepClone());
        var first = questions.OfType<JsonObject>().FirstOrDefault() ?? [];
        Emit(new PermissionRequested(new JsonObject
        {
            ["id"] = id,
            ["provider"] = _provider.Description.Id,
            ["name"] = "question",
            ["kind"] = "question",
            ["title"] = WsInbound.Str(first, "header") ?? WsInbound.Str(first, "question") ?? "Question",
            ["description"] = WsInbound.Str(first, "question"),
            ["input"] = new JsonObject { ["questions"] = questions.DeepClone() },
        }));
    }

    /// <summary>
    /// Allowed with answers → `POST /question/{id}/reply {answers}` (one list of chosen labels per question; answers may
    /// also be given as Claude's `{question text: answer}` map). Denied, or allowed without answers → `/reject`.
    /// </summary>
    private void AnswerQuestion(string requestId, JsonArray questions, JsonObject resolution)
    {
        var path = $"question/{Uri.EscapeDataString(requestId)}";
        var answers = WsInbound.Str(resolution, "behavior") == "allow" ? Answers(questions, resolution["updatedInput"]?["answers"]) : null;
        if (answers is null)
        {
            if (WsInbound.Str(resolution, "behavior") == "allow")
                Emit(new Timeline(TimelineItems.Error("The question was dismissed: the answer carried no answers (updatedInput.answers)")));
            Post($"{path}/reject", new JsonObject(), "reject a question");
            return;
        }
        Post($"{path}/reply", new JsonObject { ["answers"] = answers }, "answer a question");
    }

    private static JsonArray? Answers(JsonArray questions, JsonNode? given)
    {
        static JsonArray Labels(JsonNode? answer) => answer switch
        {
            JsonArray list => new JsonArray([.. list.Select(x => (JsonNode?)JsonValue.Create(x?.ToString() ?? ""))]),
            null => [],
            _ => new JsonArray(JsonValue.Create(answer.ToString())),
        };
        return given switch
        {
            JsonArray list => new JsonArray([.. list.Select(a => (JsonNode?)Labels(a))]),
            JsonObject byQuestion => new JsonArray([.. questions.Select(q => (JsonNode?)Labels(byQuestion[WsInbound.Str(q as JsonObject ?? [], "question") ?? ""]))]),
            _ => null,
        };
    }

    private void OnPermission(JsonObject p)
    {
        var requestId = WsInbound.Str(p, "id");
        if (requestId is null) return;
        var permission = WsInbound.Str(p, "permission") ?? "tool";
        if (_mode == "full-access")
        {
            Post($"permission/{Uri.EscapeDataString(requestId)}/reply", new JsonObject { ["reply"] = "once" }, "reply to a permission");
            return;
        }
        var metadata = p["metadata"] as JsonObject ?? [];
        var patterns = p["patterns"] is JsonArray list ? string.Join(" ", list.Select(x => x?.ToString())) : null;
        var command = WsInbound.Str(metadata, "command") ?? patterns ?? permission;
        var id = $"permission-{Guid.NewGuid():D}";
        _permissions[id] = requestId;
        Emit(new PermissionRequested(new JsonObject
        {
            ["id"] = id,
            ["provider"] = _provider.Description.Id,
            ["name"] = permission,
            ["kind"] = "tool",
            ["title"] = $"{permission}: {command}",
            ["input"] = metadata.DeepClone(),
            ["detail"] = permission == "bash" ? TimelineItems.ShellDetail(command, _config.Cwd) : new JsonObject { ["type"] = "unknown", ["input"] = metadata.DeepClone(), ["output"] = null },
        }));
    }
}
