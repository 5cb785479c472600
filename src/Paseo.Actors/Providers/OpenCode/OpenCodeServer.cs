using System.Buffers;
using System.Collections.Immutable;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers.OpenCode;

/// <summary>An event of the server's SSE feed for one OpenCode session (`properties.sessionID`).</summary>
public sealed record OpenCodeEvent(string Type, JsonObject Properties);

/// <summary>The shared server went away (crash, or the daemon stopping): every session's turn ends with this.</summary>
public sealed record OpenCodeServerGone(string Reason);

/// <summary>The messages between OpenCode sessions (and the provider's model listing) and their server's actor.</summary>
public static class OpenCodeServerProtocol
{
    /// <summary>
    /// From a session actor as it starts: it works in <paramref name="Directory"/>. The server is started if it is not
    /// running, the directory's event feed opened, and <paramref name="Session"/> (watched: its end releases the
    /// directory) is answered <see cref="FeedReady"/> once the feed is connected — so no event of its first prompt is
    /// missed — or <see cref="FeedFailed"/>.
    /// </summary>
    public sealed record Acquire(string Directory, IActorRef Session);

    /// <summary>The server runs and the directory's feed is connected: its HTTP client, and a token cancelled when the server stops.</summary>
    public sealed record FeedReady(HttpClient Http, CancellationToken ServerStopping);

    public sealed record FeedFailed(string Reason);

    /// <summary>From a session that knows its OpenCode session id: route that session's events to it; answered <see cref="SessionEvents"/>.</summary>
    public sealed record BindSession(string SessionId, string Directory, IActorRef Session);

    /// <summary>The session's events, in order, in a bounded channel the session pulls from (completed when it is unbound or replaced).</summary>
    public sealed record SessionEvents(ChannelReader<OpenCodeEvent> Events);

    /// <summary>Start the server if needed; answered <see cref="ServerReady"/> or a <see cref="Status.Failure"/>.</summary>
    public sealed record EnsureRunning
    {
        public static readonly EnsureRunning Instance = new();
        private EnsureRunning() { }
    }

    public sealed record ServerReady(HttpClient Http, CancellationToken ServerStopping);

    /// <summary>From the daemon's coordinated shutdown: stop the server's process now (the process tracker then waits for it); answered Done.</summary>
    public sealed record StopServer
    {
        public static readonly StopServer Instance = new();
        private StopServer() { }
    }
}

/// <summary>
/// The one `opencode serve` of an OpenCode provider (providers.md §4.3), shared by its agents
/// (`providers/&lt;provider id&gt;`): started on first use on a free loopback port (ready when it prints that it listens),
/// one SSE reader of `GET /event?directory=` per working directory some session works in (the server scopes its event
/// feed to a directory, like every other request), dispatching events to the session actors by session id, and a new
/// generation when the process dies.
/// <para>
/// Everything it knows is this actor's state; only the SSE readers run off its thread, and they read the session routes
/// from an immutable snapshot the actor publishes. It owns a <see cref="CancellationTokenSource"/> cancelled when it
/// stops: the feeds, the start-up wait and every HTTP call made with its <c>ServerStopping</c> token end with it.
/// </para>
/// Bounded like a stdio provider's stdout: an SSE line longer than `paseo.providers.max-line-bytes` is skipped (with a
/// warning: the server is shared, so one oversized event must not stop every agent), and each session's events wait in
/// a channel of `output-backlog` entries that its actor pulls from; a full channel holds the feed back (the server
/// buffers) instead of growing a mailbox without bound.
/// </summary>
public sealed class OpenCodeServerActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _name;
    private readonly IReadOnlyList<string> _command;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ProviderProcessSettings _settings;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>A registered session: its actor, the directory it works in, and the channel its events wait in.</summary>
    private sealed record SessionFeed(IActorRef Actor, string Directory, Channel<OpenCodeEvent> Events);

    /// <summary>
    /// The SSE reader of one directory for one server generation, and the sessions waiting for it to connect. Its reader's
    /// messages name the feed itself: a feed closed and opened again for the same directory is another feed.
    /// </summary>
    private sealed class DirectoryFeed(int generation, CancellationTokenSource stop)
    {
        public int Generation { get; } = generation;
        public CancellationTokenSource Stop { get; } = stop;
        public bool Connected { get; set; }
        public List<IActorRef> Waiting { get; } = [];
    }

    // The session actors working in each directory (from their start to their stop): a feed lives while there is one.
    private readonly Dictionary<string, HashSet<IActorRef>> _holders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DirectoryFeed> _feeds = new(StringComparer.Ordinal);
    // Session id → its feed; published whole on every change, read by the SSE readers on their threads.
    private volatile ImmutableDictionary<string, SessionFeed> _routes = ImmutableDictionary.Create<string, SessionFeed>(StringComparer.Ordinal);
    private readonly List<(IActorRef ReplyTo, string? Directory)> _waitingForStart = [];
    private ChildProcess? _process;
    private HttpClient? _http;
    private int _generation;
    private bool _starting;

    public ITimerScheduler Timers { get; set; } = null!;

    public OpenCodeServerActor(string name, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, ProviderProcessSettings settings)
    {
        _name = name;
        _command = command;
        _environment = environment;
        _settings = settings;

        Receive<OpenCodeServerProtocol.Acquire>(acquire =>
        {
            if (!_holders.TryGetValue(acquire.Directory, out var holders)) _holders[acquire.Directory] = holders = [];
            if (holders.Add(acquire.Session)) Context.Watch(acquire.Session);
            WhenRunning(acquire.Session, acquire.Directory);
        });
        Receive<OpenCodeServerProtocol.EnsureRunning>(_ => WhenRunning(Sender, null));
        Receive<OpenCodeServerProtocol.BindSession>(bind =>
        {
            var feed = new SessionFeed(bind.Session, bind.Directory, Channel.CreateBounded<OpenCodeEvent>(new BoundedChannelOptions(_settings.OutputBacklog)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            }));
            if (_routes.TryGetValue(bind.SessionId, out var previous)) previous.Events.Writer.TryComplete();
            _routes = _routes.SetItem(bind.SessionId, feed);
            bind.Session.Tell(new OpenCodeServerProtocol.SessionEvents(feed.Events.Reader));
        });
        Receive<Started>(OnStarted);
        Receive<StartFailed>(failed =>
        {
            _starting = false;
            _log.Warning("{0} server did not start: {1}", _name, failed.Reason);
            foreach (var (replyTo, directory) in _waitingForStart)
                replyTo.Tell(directory is null ? new Status.Failure(new ChildProcessStartException(failed.Reason)) : new OpenCodeServerProtocol.FeedFailed(failed.Reason));
            _waitingForStart.Clear();
        });
        Receive<FeedConnected>(connected =>
        {
            if (!_feeds.TryGetValue(connected.Directory, out var feed) || !ReferenceEquals(feed, connected.Feed)) return;
            feed.Connected = true;
            foreach (var session in feed.Waiting) session.Tell(new OpenCodeServerProtocol.FeedReady(_http!, _stopping.Token));
            feed.Waiting.Clear();
        });
        Receive<FeedEnded>(ended =>
        {
            ended.Feed.Stop.Dispose();
            if (!_feeds.TryGetValue(ended.Directory, out var feed) || !ReferenceEquals(feed, ended.Feed) || feed.Stop.IsCancellationRequested) return;
            _feeds.Remove(ended.Directory);
            foreach (var session in feed.Waiting) session.Tell(new OpenCodeServerProtocol.FeedFailed($"the event feed of {ended.Directory} could not be opened: {ended.Reason}"));
            if (!feed.Connected) return;
            // A server that is exiting ends its feeds first; its exit (with the exit code and stderr) is the better reason,
            // so it is given up to kill-grace to happen. Otherwise the directory's sessions would wait for events that never come.
            Timers.StartSingleTimer(("feed-lost", ended.Directory), new FeedLost(ended.Directory, ended.Generation,
                $"{_name}: the event feed of {ended.Directory} ended ({ended.Reason})"), _settings.KillGrace);
        });
        Receive<FeedLost>(lost =>
        {
            // Not if the server died meanwhile (its exit told them) or a session opened the directory's feed anew.
            if (lost.Generation != _generation || _process is null || _feeds.ContainsKey(lost.Directory)) return;
            foreach (var feed in _routes.Values.Where(f => f.Directory == lost.Directory)) feed.Actor.Tell(new OpenCodeServerGone(lost.Reason));
        });
        Receive<ServerExited>(exited =>
        {
            if (exited.Generation != _generation) return;
            _process = null;
            var reason = $"{_name} serve exited with code {exited.Code}{(exited.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}";
            _log.Warning("{0}", reason);
            foreach (var feed in _feeds.Values) feed.Stop.Cancel();
            _feeds.Clear();
            // Every session that uses the server is told (registered or still starting): their turns cannot end otherwise.
            foreach (var session in _routes.Values.Select(f => f.Actor).Concat(_holders.Values.SelectMany(h => h)).Distinct()) session.Tell(new OpenCodeServerGone(reason));
        });
        Receive<Terminated>(terminated => Release(terminated.ActorRef));
        Receive<OpenCodeServerProtocol.StopServer>(_ =>
        {
            StopProcess();
            Sender.Tell(Akka.Done.Instance);
        });
    }

    public static Props Props(string name, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, ProviderProcessSettings settings) =>
        Akka.Actor.Props.Create(() => new OpenCodeServerActor(name, command, environment, settings));

    protected override void PreStart()
    {
        // The process is stopped while the daemon's services stop, before the child-process tracker waits for them all.
        var self = Self;
        CoordinatedShutdown.Get(Context.System).AddTask(CoordinatedShutdown.PhaseServiceStop, $"stop-{_name}-server", async () =>
        {
            try
            {
                await self.Ask<Akka.Done>(OpenCodeServerProtocol.StopServer.Instance, TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // Already stopped with its system: its PostStop stopped the process.
            }
            return Akka.Done.Instance;
        });
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        foreach (var feed in _routes.Values) feed.Events.Writer.TryComplete();
        StopProcess();
        _http?.Dispose();
        _stopping.Dispose();
    }

    private void StopProcess()
    {
        _generation++;
        foreach (var feed in _feeds.Values) feed.Stop.Cancel();
        _feeds.Clear();
        _ = _process?.StopAsync();
        _process = null;
    }

    /// <summary>Answers <paramref name="replyTo"/> once the server runs (and, for a session, once its directory's feed is connected).</summary>
    private void WhenRunning(IActorRef replyTo, string? directory)
    {
        if (_process is null)
        {
            _waitingForStart.Add((replyTo, directory));
            Start();
            return;
        }
        if (directory is null)
        {
            replyTo.Tell(new OpenCodeServerProtocol.ServerReady(_http!, _stopping.Token));
            return;
        }
        var feed = OpenFeed(directory);
        if (feed.Connected) replyTo.Tell(new OpenCodeServerProtocol.FeedReady(_http!, _stopping.Token));
        else feed.Waiting.Add(replyTo);
    }

    private void Start()
    {
        if (_starting) return;
        _starting = true;
        var system = Context.System;
        var name = _name;
        var settings = _settings;
        var command = _command;
        var environment = _environment;
        var stopping = _stopping.Token;
        async Task<object> StartAsync()
        {
            var port = Paseo.Transport.Listen.LoopbackPorts.Free();
            var process = ChildProcess.Start(
                new ChildProcessStart([.. command, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hostname", "127.0.0.1"],
                    Environment.CurrentDirectory, environment, settings.MaxLineBytes, settings.OutputBacklog, settings.KillGrace,
                    settings.InputBacklog, settings.MaxStderrLineBytes, Processes.DaemonChildProcesses.Get(system).Tracker),
                line => system.Log.Info("{0} server [stderr]: {1}", name, line));
            // Ready when it says it listens (no polling); it must say so within the version timeout.
            using var ready = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            ready.CancelAfter(settings.VersionTimeout);
            try
            {
                while (true)
                {
                    var output = await process.Output.ReadAsync(ready.Token);
                    if (output is ChildOutput.Line { Text: var text } && text.Contains("listening on", StringComparison.OrdinalIgnoreCase)) break;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
                _ = process.StopAsync();
                return new StartFailed($"{name} serve did not start listening{(process.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}");
            }
            return new Started(process, new Uri($"http://127.0.0.1:{port}/"));
        }
        StartAsync().PipeTo(Self, failure: e => new StartFailed(e.GetBaseException().Message));
    }

    private void OnStarted(Started started)
    {
        _starting = false;
        if (_stopping.IsCancellationRequested)
        {
            _ = started.Process.StopAsync();
            return;
        }
        _process = started.Process;
        _ = DrainAsync(started.Process);
        // A new generation: the old client's calls may still be running (their sessions are told the server is gone).
        _http?.Dispose();
        _http = new HttpClient { BaseAddress = started.BaseUri, Timeout = TimeSpan.FromMinutes(5) };
        var generation = ++_generation;
        var process = started.Process;
        process.Exited.PipeTo(Self, success: code => new ServerExited(generation, code, process.StderrTail), failure: _ => new ServerExited(generation, -1, null));
        var waiting = _waitingForStart.ToList();
        _waitingForStart.Clear();
        foreach (var (replyTo, directory) in waiting) WhenRunning(replyTo, directory);
    }

    private DirectoryFeed OpenFeed(string directory)
    {
        if (_feeds.TryGetValue(directory, out var feed) && feed.Generation == _generation) return feed;
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        feed = new DirectoryFeed(_generation, stop);
        _feeds[directory] = feed;
        var self = Self;
        var generation = _generation;
        _ = ReadEventsAsync(_http!, directory, stop.Token, () => self.Tell(new FeedConnected(directory, feed)))
            .ContinueWith(t => self.Tell(new FeedEnded(directory, feed, generation, t.Result)), TaskScheduler.Default);
        return feed;
    }

    /// <summary>A session actor stopped: its routes go, and a directory's feed is closed when no session works there any more.</summary>
    private void Release(IActorRef session)
    {
        var mine = _routes.Where(r => r.Value.Actor.Equals(session)).ToList();
        foreach (var (sessionId, feed) in mine) feed.Events.Writer.TryComplete();
        if (mine.Count > 0) _routes = _routes.RemoveRange(mine.Select(r => r.Key));
        foreach (var (directory, holders) in _holders.ToList())
        {
            if (!holders.Remove(session) || holders.Count > 0) continue;
            _holders.Remove(directory);
            if (_feeds.Remove(directory, out var feed)) feed.Stop.Cancel();
        }
        _waitingForStart.RemoveAll(w => w.ReplyTo.Equals(session));
    }

    /// <summary>Stdout after the listening line is not used; it is read so the server never blocks on a full pipe.</summary>
    private static async Task DrainAsync(ChildProcess process)
    {
        try
        {
            await foreach (var _ in process.Output.ReadAllAsync()) { }
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>`GET /event?directory=`: server-sent events, one JSON object per `data:` line, routed by properties.sessionID. Returns why it ended.</summary>
    private async Task<string> ReadEventsAsync(HttpClient http, string directory, CancellationToken stop, Action connected)
    {
        try
        {
            using var response = await http.GetAsync($"event?directory={Uri.EscapeDataString(directory)}", HttpCompletionOption.ResponseHeadersRead, stop);
            response.EnsureSuccessStatusCode();
            connected();
            var reader = PipeReader.Create(await response.Content.ReadAsStreamAsync(stop));
            var skipping = false;
            while (true)
            {
                var read = await reader.ReadAsync(stop);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    if (skipping) skipping = false;
                    else await DispatchAsync(line, directory);
                }
                if (!skipping && buffer.Length > _settings.MaxLineBytes)
                {
                    skipping = true;
                    _log.Warning("{0} server: an event over {1} bytes was skipped (paseo.providers.max-line-bytes)", _name, _settings.MaxLineBytes);
                }
                if (skipping) reader.AdvanceTo(buffer.End);
                else reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
            await reader.CompleteAsync();
            return "the server closed it";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return e.Message;
        }
    }

    private async ValueTask DispatchAsync(ReadOnlySequence<byte> line, string directory)
    {
        if (line.Length < 5) return;
        var text = Encoding.UTF8.GetString(line).TrimEnd('\r');
        if (!text.StartsWith("data:", StringComparison.Ordinal)) return;
        JsonObject? data;
        try
        {
            data = JsonNode.Parse(text.AsSpan(5).Trim().ToString()) as JsonObject;
        }
        catch (JsonException)
        {
            return;
        }
        if (data is null || WsInbound.Str(data, "type") is not { } type || data["properties"] is not JsonObject properties) return;
        var sessionId = WsInbound.Str(properties, "sessionID") ?? WsInbound.Str(properties["part"] as JsonObject ?? [], "sessionID")
            ?? WsInbound.Str(properties["info"] as JsonObject ?? [], "sessionID");
        // Only the feed of the session's own directory delivers its events (never twice through two feeds).
        if (sessionId is null || !_routes.TryGetValue(sessionId, out var feed) || feed.Directory != directory) return;
        try
        {
            await feed.Events.Writer.WriteAsync(new OpenCodeEvent(type, properties));
        }
        catch (ChannelClosedException)
        {
            // The session stopped while its events waited for room.
        }
    }

    private sealed record Started(ChildProcess Process, Uri BaseUri) : INoSerializationVerificationNeeded;
    private sealed record StartFailed(string Reason) : INoSerializationVerificationNeeded;
    private sealed record FeedConnected(string Directory, DirectoryFeed Feed) : INoSerializationVerificationNeeded;
    private sealed record FeedEnded(string Directory, DirectoryFeed Feed, int Generation, string Reason) : INoSerializationVerificationNeeded;
    private sealed record FeedLost(string Directory, int Generation, string Reason) : INoSerializationVerificationNeeded;
    private sealed record ServerExited(int Generation, int Code, string? StderrTail) : INoSerializationVerificationNeeded;
}
