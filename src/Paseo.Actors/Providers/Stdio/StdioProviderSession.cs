using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers.Processes;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Stdio;

/// <summary>How a stdio provider's process is launched: argv, extra environment, limits.</summary>
public sealed record StdioLaunch(string Name, IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Environment, ProviderProcessSettings Settings);

/// <summary>
/// The part every JSON-over-stdio agent CLI shares (Codex app-server, ACP agents): the process belongs to this actor
/// (started in PreStart, its process group stopped in PostStop without blocking), stdout is read one line at a time through a bounded
/// queue, a line that is not JSON is shown in the timeline and skipped, a line over the limit or an exit fails the turn
/// with the exit code and the last stderr lines, and the actor stops — the agent's next prompt starts a fresh process.
/// Subclasses speak the protocol: <see cref="OnStarted"/>, <see cref="OnMessage"/>, and the agent's commands.
/// </summary>
public abstract class StdioProviderSession : ReceiveActor, IWithTimers
{
    private sealed record OutputEnded;

    private sealed record ProcessExited(int Code);

    protected sealed record InterruptOverdue;

    public ITimerScheduler Timers { get; set; } = null!;

    protected readonly ILoggingAdapter Log = Context.GetLogger();
    protected ProviderSessionConfig Config { get; }
    protected StdioLaunch Launch { get; }
    protected JsonRpc Rpc { get; private set; } = null!;
    protected bool InTurn { get; set; }
    private ChildProcess? _process;
    private string? _startError;

    protected StdioProviderSession(ProviderSessionConfig config, StdioLaunch launch)
    {
        Config = config;
        Launch = launch;
        Receive<RunTurn>(run =>
        {
            if (_startError is not null || _process is null)
            {
                Emit(TurnStarted.Instance);
                Emit(new TurnFailed(_startError ?? $"{Launch.Name} is not running"));
                Context.Stop(Self);
                return;
            }
            OnRunTurn(run);
        });
        Receive<Interrupt>(_ =>
        {
            if (!InTurn) return;
            OnInterrupt();
            Timers.StartSingleTimer("interrupt", new InterruptOverdue(), Launch.Settings.InterruptGrace);
        });
        Receive<InterruptOverdue>(_ =>
        {
            if (!InTurn) return;
            InTurn = false;
            Emit(new TurnCanceled($"Interrupted: {Launch.Name} did not stop within {Launch.Settings.InterruptGrace.TotalSeconds:0} s, so its process was stopped"));
            Context.Stop(Self);
        });
        Receive<ResolvePermission>(OnResolvePermission);
        Receive<SetMode>(OnSetMode);
        Receive<ChildOutput.Line>(line =>
        {
            OnLine(line.Text);
            ReadNext();
        });
        Receive<ChildOutput.TooLong>(tooLong => Die($"{Launch.Name} printed a line over {tooLong.Limit} characters (paseo.providers.max-line-bytes); its process was stopped"));
        Receive<OutputEnded>(_ => { });
        Receive<ProcessExited>(exited => Die($"{Launch.Name} exited with code {exited.Code}{(_process?.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}"));
    }

    protected override void PreStart()
    {
        try
        {
            var log = Log;
            var name = Launch.Name;
            var agentId = Config.AgentId;
            var env = new Dictionary<string, string>(Launch.Environment, StringComparer.Ordinal) { ["PASEO_AGENT_ID"] = Config.AgentId };
            _process = ChildProcess.Start(
                new ChildProcessStart(Launch.Command, Config.Cwd, env, Launch.Settings.MaxLineBytes, Launch.Settings.OutputBacklog, Launch.Settings.KillGrace,
                    Launch.Settings.InputBacklog, Launch.Settings.MaxStderrLineBytes, DaemonChildProcesses.Get(Context.System).Tracker),
                line => log.Info("{0} {1} [stderr]: {2}", name, agentId, line));
        }
        catch (ChildProcessStartException e)
        {
            _startError = $"cannot start {Launch.Name}: {e.Message}";
            Log.Warning("Agent {0}: {1}", Config.AgentId, _startError);
            return;
        }
        Rpc = new JsonRpc(line =>
        {
            // Written off the actor's thread, in order, through a bounded queue: a CLI that stops reading is stopped.
            if (_deathReason is not null) Die(_deathReason);
            else if (_process?.WriteLine(line) == StdinWrite.StoppedReading) Die(Launch.Settings.StoppedReading(Launch.Name));
        }, IncludeJsonRpcVersion, Launch.Settings.InputBacklog,
            () => Die($"{Launch.Name} left {Launch.Settings.InputBacklog} requests unanswered (paseo.providers.input-backlog); its process was stopped"));
        _process.Exited.PipeTo(Self, success: code => new ProcessExited(code));
        ReadNext();
        OnStarted();
    }

    /// <summary>The process group is stopped (SIGTERM, SIGKILL after kill-grace) without waiting here: the daemon's tracker waits at shutdown.</summary>
    protected override void PostStop()
    {
        _process?.StopAsync();
        _process = null;
    }

    /// <summary>ACP says `"jsonrpc":"2.0"` on every message; Codex's app-server leaves it out.</summary>
    protected abstract bool IncludeJsonRpcVersion { get; }

    protected abstract void OnStarted();

    protected abstract void OnRunTurn(RunTurn run);

    protected abstract void OnInterrupt();

    protected abstract void OnResolvePermission(ResolvePermission resolve);

    protected abstract void OnSetMode(SetMode set);

    /// <summary>A response to one of our requests (with what we sent), a request from the agent, or a notification.</summary>
    protected abstract void OnMessage(JsonRpc.Message message);

    protected void Emit(ProviderEvent e) => Context.Parent.Tell(e);

    /// <summary>The turn has ended: no interrupt timer is left running.</summary>
    /// <summary>Ends the running turn this way; nothing when no turn runs (e.g. a failed write already ended it).</summary>
    protected void TurnEnded(ProviderEvent how)
    {
        if (!InTurn) return;
        InTurn = false;
        Timers.Cancel("interrupt");
        Emit(how);
    }

    protected void Die(string reason)
    {
        // Idempotent: a handler may go on after a failed write; a turn it starts afterwards fails with the same reason.
        if (_deathReason is null) Log.Warning("Agent {0}: {1}", Config.AgentId, reason);
        _deathReason ??= reason;
        if (InTurn) Emit(new TurnFailed(_deathReason));
        InTurn = false;
        Context.Stop(Self);
    }

    private string? _deathReason;

    private void ReadNext()
    {
        if (_process is null) return;
        _process.Output.ReadAsync().AsTask().PipeTo(Self, success: output => output, failure: _ => new OutputEnded());
    }

    private void OnLine(string line)
    {
        if (CliOutputLines.Parse(line, Launch.Name, Config.AgentId, Log, Emit) is { } json) OnMessage(Rpc.Classify(json));
    }
}

/// <summary>
/// JSON-RPC over NDJSON lines: numbered requests remembered until their response, notifications, and answers to the
/// agent's own requests. Not thread-safe: used from its actor only. At most <paramref name="maxPending"/> requests wait
/// for an answer; one more calls <paramref name="onTooManyPending"/> instead of being sent (a CLI that stopped answering).
/// </summary>
public sealed class JsonRpc(Action<string> writeLine, bool includeVersion, int maxPending, Action onTooManyPending)
{
    private long _nextId;
    private readonly Dictionary<long, (string Method, object? Tag)> _pending = [];

    public abstract record Message;

    public sealed record Response(string Method, object? Tag, JsonNode? Result, JsonObject? Error) : Message;

    public sealed record Request(JsonNode Id, string Method, JsonObject Params) : Message;

    public sealed record Notification(string Method, JsonObject Params) : Message;

    public sealed record Unknown(JsonObject Raw) : Message;

    public long Call(string method, JsonObject? parameters, object? tag = null)
    {
        if (_pending.Count >= maxPending)
        {
            onTooManyPending();
            return -1;
        }
        var id = ++_nextId;
        _pending[id] = (method, tag);
        Write(new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() });
        return id;
    }

    public void Notify(string method, JsonObject? parameters) =>
        Write(new JsonObject { ["method"] = method, ["params"] = parameters ?? new JsonObject() });

    public void Reply(JsonNode id, JsonNode? result) => Write(new JsonObject { ["id"] = id.DeepClone(), ["result"] = result });

    public void ReplyError(JsonNode id, int code, string message) =>
        Write(new JsonObject { ["id"] = id.DeepClone(), ["error"] = new JsonObject { ["code"] = code, ["message"] = message } });

    public Message Classify(JsonObject json)
    {
        var method = WsInbound.Str(json, "method");
        var hasId = json.TryGetPropertyValue("id", out var id) && id is not null;
        if (method is not null)
            return hasId ? new Request(id!, method, json["params"] as JsonObject ?? []) : new Notification(method, json["params"] as JsonObject ?? []);
        if (hasId && id is JsonValue v && v.TryGetValue<long>(out var number) && _pending.Remove(number, out var pending))
            return new Response(pending.Method, pending.Tag, json["result"], json["error"] as JsonObject);
        return new Unknown(json);
    }

    private void Write(JsonObject message)
    {
        if (includeVersion) message["jsonrpc"] = "2.0";
        writeLine(message.ToJsonString());
    }
}
