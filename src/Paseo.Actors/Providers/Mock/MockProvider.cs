using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Akka.Actor;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Mock;

/// <summary>
/// The built-in `mock` provider: a deterministic scripted agent for tests and for a first run without any agent CLI.
/// The prompt is the script; bracketed directives, in order, say what the turn does (docs/protocol.md):
/// `[shell CMD]`, `[read PATH]`, `[edit PATH]` run a tool call (running → completed); `[permission CMD]` asks to run
/// CMD and waits for the answer (unless the mode is `bypassPermissions`); `[chunks N]` streams the reply in N chunks
/// (padded with dots when it has fewer characters);
/// `[fail]` fails the turn; `[hang]` waits until the turn is cancelled; `[crash]` makes the provider session throw;
/// `[stream RATE SECONDS]` streams RATE timestamped chunks a second for SECONDS (for load tests); `[say TEXT]` makes the reply
/// exactly TEXT (structured output in CLI tests).
/// Every turn starts with one reasoning chunk and ends with the reply ("Mock reply to: PROMPT" unless `[say]`) and usage.
/// </summary>
public sealed class MockProvider : IAgentProvider
{
    public const string Id = "mock";

    public ProviderDescription Description { get; } = new(
        Id,
        "Mock",
        "A scripted agent built into Paseo.NET, for tests and trying the daemon without an agent CLI",
        new AgentCapabilities(Streaming: true, SessionPersistence: true, DynamicModes: true, McpServers: false, ReasoningStream: true, ToolInvocations: true),
        [
            new AgentMode("default", "Always Ask", "Asks before running a tool", "ShieldCheck", "safe"),
            new AgentMode("bypassPermissions", "Bypass", "Runs tools without asking", "ShieldAlert", "dangerous"),
        ],
        "default",
        [new JsonObject { ["provider"] = Id, ["id"] = "mock-1", ["label"] = "Mock 1", ["isDefault"] = true }]);

    public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new MockProviderSession(config));
}

/// <summary>One mock session: runs the script of each turn, pausing at permissions and hangs.</summary>
public sealed class MockProviderSession : ProviderSessionActor
{
    private static readonly Regex Directive = new(@"\[(shell|read|edit|permission|chunks|fail|hang|crash|stream|say)(?:\s+([^\]]*))?\]", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly TimeSpan StreamTick = TimeSpan.FromMilliseconds(10);

    private int _streamTicksLeft;
    private int _streamPerTick;

    private readonly ProviderSessionConfig _config;
    private readonly Queue<Step> _steps = new();
    private string _mode;
    private int _callCounter;
    private int _permissionCounter;
    private string? _waitingPermission;

    public MockProviderSession(ProviderSessionConfig config)
    {
        _config = config;
        _mode = config.ModeId ?? "default";
    }

    protected override string Name => "mock";

    protected override TimeSpan InterruptGrace => TimeSpan.FromSeconds(1);

    // The script stops at once: the turn ends as the interrupt comes.
    protected override void AbortTurn() => EndTurn(new TurnCanceled("Interrupted"));

    // Replaced: the base ends the turn as replaced; the script just stops.
    protected override void ReplaceTurn()
    {
    }

    protected override void SendPrompt(RunTurn run) => StartTurn(run.Prompt);

    protected override void ForgetTurn()
    {
        _waitingPermission = null;
        _streamTicksLeft = 0;
        Timers.Cancel("stream");
        _steps.Clear();
    }

    protected override void Common()
    {
        Receive<StreamTickDue>(_ =>
        {
            if (!InTurn || _streamTicksLeft <= 0) return;
            // Each chunk carries the time it was made (UTC ticks), so a load driver can measure delivery latency.
            for (var i = 0; i < _streamPerTick; i++) Emit(new Timeline(TimelineItems.AssistantMessage($"t={DateTime.UtcNow.Ticks} ")));
            if (--_streamTicksLeft > 0) return;
            Timers.Cancel("stream");
            _steps.Dequeue();
            Continue();
        });
        Receive<ResolvePermission>(resolve =>
        {
            if (_waitingPermission != resolve.RequestId) return;
            _waitingPermission = null;
            var step = _steps.Dequeue();
            var allowed = WsInbound.Str(resolve.Resolution, "behavior") == "allow";
            if (allowed)
            {
                RunTool(step.Argument, "Bash", TimelineItems.ShellDetail(step.Argument, _config.Cwd));
            }
            else if (resolve.Resolution["interrupt"] is JsonValue interrupt && interrupt.TryGetValue<bool>(out var stop) && stop)
            {
                EndTurn(new TurnCanceled("Permission denied"));
                return;
            }
            else
            {
                Emit(new Timeline(TimelineItems.ToolCall(NextCallId(), "Bash", TimelineItems.ShellDetail(step.Argument, _config.Cwd), "failed", "Permission denied")));
            }
            Continue();
        });
        Receive<SetMode>(set =>
        {
            _mode = set.ModeId;
            Emit(new ModeChanged(set.ModeId));
        });
    }

    protected override void PreStart()
    {
        Emit(new ThreadStarted("mock-" + _config.AgentId));
        Opened();
    }

    /// <summary>Runs the prompt's script; the turn has started for the agent already.</summary>
    private void StartTurn(string prompt)
    {
        _steps.Clear();
        var chunks = 3;
        string? say = null;
        foreach (Match match in Directive.Matches(prompt))
        {
            var kind = match.Groups[1].Value.ToLowerInvariant();
            var argument = match.Groups[2].Success ? match.Groups[2].Value.Trim() : "";
            if (kind == "chunks" && int.TryParse(argument, out var n) && n is > 0 and <= 1_000_000) chunks = n;
            else if (kind == "say") say = argument;
            else _steps.Enqueue(new Step(kind, argument));
        }
        _steps.Enqueue(new Step("reply", prompt, chunks, say));
        Emit(new Timeline(TimelineItems.Reasoning("Reading the request.")));
        Continue();
    }

    private void Continue()
    {
        while (InTurn && _steps.Count > 0)
        {
            var step = _steps.Peek();
            switch (step.Kind)
            {
                case "shell":
                    _steps.Dequeue();
                    RunTool(step.Argument, "Bash", TimelineItems.ShellDetail(step.Argument, _config.Cwd));
                    break;
                case "read":
                    _steps.Dequeue();
                    RunTool(step.Argument, "Read", TimelineItems.ReadDetail(step.Argument));
                    break;
                case "edit":
                    _steps.Dequeue();
                    RunTool(step.Argument, "Edit", TimelineItems.EditDetail(step.Argument, "old", "new"));
                    break;
                case "permission" when _mode == "bypassPermissions":
                    _steps.Dequeue();
                    RunTool(step.Argument, "Bash", TimelineItems.ShellDetail(step.Argument, _config.Cwd));
                    break;
                case "permission":
                    _waitingPermission = $"perm-{_config.AgentId[..Math.Min(8, _config.AgentId.Length)]}-{++_permissionCounter}";
                    Emit(new PermissionRequested(new JsonObject
                    {
                        ["id"] = _waitingPermission,
                        ["provider"] = MockProvider.Id,
                        ["name"] = "Bash",
                        ["kind"] = "tool",
                        ["title"] = $"Run {step.Argument}",
                        ["input"] = new JsonObject { ["command"] = step.Argument },
                        ["detail"] = TimelineItems.ShellDetail(step.Argument, _config.Cwd),
                    }));
                    return;
                case "hang":
                    return;
                case "stream":
                    // [stream RATE SECONDS]: RATE assistant chunks a second for SECONDS (a load generator for benchmarks).
                    var parts = step.Argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var rate = parts.Length > 0 && int.TryParse(parts[0], out var r) ? Math.Clamp(r, 1, 1_000_000) : 100;
                    var seconds = parts.Length > 1 && int.TryParse(parts[1], out var sec) ? Math.Clamp(sec, 1, 3600) : 1;
                    _streamPerTick = Math.Max(1, rate / 100);
                    _streamTicksLeft = seconds * 100;
                    Timers.StartPeriodicTimer("stream", StreamTickDue.Instance, StreamTick);
                    return;
                case "fail":
                    EndTurn(new TurnFailed("Mock failure requested"));
                    return;
                case "crash":
                    throw new InvalidOperationException("Mock provider crash requested");
                case "reply":
                    _steps.Dequeue();
                    var reply = step.Say ?? "Mock reply to: " + step.Argument;
                    // More chunks than characters: the reply is padded with dots, one per extra chunk.
                    if (step.Count > reply.Length) reply += new string('.', step.Count - reply.Length);
                    foreach (var chunk in Split(reply, step.Count)) Emit(new Timeline(TimelineItems.AssistantMessage(chunk)));
                    EndTurn(new TurnCompleted(new JsonObject
                    {
                        ["inputTokens"] = step.Argument.Length,
                        ["cachedInputTokens"] = 0,
                        ["outputTokens"] = reply.Length,
                        ["totalCostUsd"] = 0,
                    }));
                    return;
                default:
                    _steps.Dequeue();
                    break;
            }
        }
    }

    private void RunTool(string argument, string name, JsonObject detail)
    {
        var callId = NextCallId();
        Emit(new Timeline(TimelineItems.ToolCall(callId, name, detail, "running")));
        var done = (JsonObject)detail.DeepClone();
        if (name == "Bash")
        {
            done["output"] = $"mock output of {argument}\n";
            done["exitCode"] = 0;
        }
        else if (name == "Read")
        {
            done["content"] = $"mock content of {argument}\n";
        }
        Emit(new Timeline(TimelineItems.ToolCall(callId, name, done, "completed")));
    }

    private string NextCallId() => $"mock-call-{++_callCounter}";

    private void EndTurn(ProviderEvent end) => TurnEnded(end);

    private static IEnumerable<string> Split(string text, int parts)
    {
        parts = Math.Max(1, Math.Min(parts, Math.Max(1, text.Length)));
        var size = (int)Math.Ceiling(text.Length / (double)parts);
        for (var i = 0; i < text.Length; i += size) yield return text.Substring(i, Math.Min(size, text.Length - i));
    }

    private sealed record Step(string Kind, string Argument, int Count = 0, string? Say = null);

    private sealed record StreamTickDue : INoSerializationVerificationNeeded
    {
        public static readonly StreamTickDue Instance = new();
    }
}
