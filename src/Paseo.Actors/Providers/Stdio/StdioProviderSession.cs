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
/// Its lifecycle is <see cref="ProviderSessionActor"/>'s phases: Opening until the subclass's handshake calls
/// <see cref="ProviderSessionActor.Opened"/>. Subclasses speak the protocol: <see cref="OnStarted"/>,
/// <see cref="OnMessage"/>, and the agent's commands.
/// </summary>
public abstract class StdioProviderSession : ProviderSessionActor
{
    private sealed record OutputEnded;

    private sealed record ProcessExited(int Code);

    protected readonly ILoggingAdapter Log = Context.GetLogger();
    protected ProviderSessionConfig Config { get; }
    protected StdioLaunch Launch { get; }
    protected JsonRpc Rpc { get; private set; } = null!;
    private ChildProcess? _process;

    protected StdioProviderSession(ProviderSessionConfig config, StdioLaunch launch)
    {
        Config = config;
        Launch = launch;
    }

    protected override string Name => Launch.Name;

    protected override TimeSpan InterruptGrace => Launch.Settings.InterruptGrace;

    protected sealed override void Common()
    {
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
        ProtocolMessages();
    }

    /// <summary>A subclass's own messages beyond the CLI's lines (registered in every phase).</summary>
    protected virtual void ProtocolMessages()
    {
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
            var reason = $"cannot start {Launch.Name}: {e.Message}";
            Log.Warning("Agent {0}: {1}", Config.AgentId, reason);
            OpenFailed(reason);
            return;
        }
        Rpc = new JsonRpc(line =>
        {
            // Written off the actor's thread, in order, through a bounded queue: a CLI that stops reading is stopped.
            if (Phase == ProviderSessionPhase.Failed) return;
            if (_process?.WriteLine(line) == StdinWrite.StoppedReading) Die(Launch.Settings.StoppedReading(Launch.Name));
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

    /// <summary>The process runs: the protocol's handshake starts (it calls Opened when the session is open).</summary>
    protected abstract void OnStarted();

    protected abstract void OnResolvePermission(ResolvePermission resolve);

    protected abstract void OnSetMode(SetMode set);

    /// <summary>A response to one of our requests (with what we sent), a request from the agent, or a notification.</summary>
    protected abstract void OnMessage(JsonRpc.Message message);

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
