using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using System.Threading.Channels;
using Akka.Event;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers.OpenCode;

/// <summary>An event of the server's SSE feed for one OpenCode session (`properties.sessionID`).</summary>
public sealed record OpenCodeEvent(string Type, JsonObject Properties);

/// <summary>The shared server went away (crash, or the daemon stopping): every session's turn ends with this.</summary>
public sealed record OpenCodeServerGone(string Reason);

/// <summary>
/// The one `opencode serve` of a daemon (providers.md §4.3), shared by every OpenCode agent: started on first use on a
/// free loopback port (ready when it prints that it listens), one SSE reader of `GET /event?directory=` per working
/// directory in use (the server scopes its event feed to a directory, like every other request), dispatching events to
/// the session actors by session id, and a new generation when the process dies. Its process group is stopped when the
/// actor system terminates.
/// Bounded like a stdio provider's stdout: an SSE line longer than `paseo.providers.max-line-bytes` is skipped (with a
/// warning: the server is shared, so one oversized event must not stop every agent), and each session's events wait in
/// a channel of `output-backlog` entries that its actor pulls from; a full channel holds the feed back (the server
/// buffers) instead of growing a mailbox without bound.
/// </summary>
public sealed class OpenCodeServer(string name, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, ProviderProcessSettings settings)
{
    private readonly SemaphoreSlim _starting = new(1, 1);

    /// <summary>A registered session: its actor, the directory it works in, and the channel its events wait in.</summary>
    private sealed record SessionFeed(IActorRef Actor, string Directory, Channel<OpenCodeEvent> Events);

    /// <summary>The SSE reader of one directory, for one server generation.</summary>
    private sealed record DirectoryFeed(int Generation, CancellationTokenSource Stop, Task Connected);

    /// <summary>
    /// The session actors working in a directory (from their start to their stop, registered or not): its feed lives
    /// while there is one, so an agent that fails to start cannot close the feed another one is about to use.
    /// </summary>
    private sealed class DirectoryLease
    {
        public int Holders;
        public DirectoryFeed? Feed;
    }

    private readonly Dictionary<string, SessionFeed> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DirectoryLease> _directories = new(StringComparer.Ordinal);
    private ILoggingAdapter? _log;
    private ChildProcess? _process;
    private Uri? _baseUri;
    private HttpClient? _http;
    private int _generation;

    public HttpClient Http => _http ?? throw new InvalidOperationException("the OpenCode server is not running");

    /// <summary>Starts the server if it is not running (or died), and returns its base URI.</summary>
    public async Task<Uri> EnsureStartedAsync(ActorSystem system, CancellationToken cancellationToken)
    {
        await _starting.WaitAsync(cancellationToken);
        try
        {
            if (_process is { HasExited: false } && _baseUri is not null) return _baseUri;
            _process?.StopAsync(); // a server that died: its group is cleared and it is no longer counted
            _log ??= system.Log;
            var port = Paseo.Transport.Listen.LoopbackPorts.Free();
            var process = ChildProcess.Start(
                new ChildProcessStart([.. command, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hostname", "127.0.0.1"],
                    Environment.CurrentDirectory, environment, settings.MaxLineBytes, settings.OutputBacklog, settings.KillGrace,
                    settings.InputBacklog, settings.MaxStderrLineBytes, Processes.DaemonChildProcesses.Get(system).Tracker),
                line => system.Log.Info("{0} server [stderr]: {1}", name, line));
            // Ready when it says it listens (no polling); it must say so within the version timeout.
            using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
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
                throw new ChildProcessStartException($"{name} serve did not start listening{(process.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}");
            }
            _ = DrainAsync(process);
            _process = process;
            _baseUri = new Uri($"http://127.0.0.1:{port}/");
            _http?.Dispose();
            _http = new HttpClient { BaseAddress = _baseUri, Timeout = TimeSpan.FromMinutes(5) };
            var generation = ++_generation;
            if (_generation == 1)
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, $"stop-{name}-server", () =>
                {
                    Stop();
                    return Task.FromResult(Akka.Done.Instance);
                });
            _ = WatchAsync(process, generation);
            return _baseUri;
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>A session actor starts working in this directory (its PreStart); <see cref="Release"/> in its PostStop.</summary>
    public void Acquire(string directory)
    {
        lock (_sessions)
        {
            if (!_directories.TryGetValue(directory, out var lease)) _directories[directory] = lease = new DirectoryLease();
            lease.Holders++;
        }
    }

    /// <summary>
    /// Makes sure this directory's event feed of the running server is open, and completes when it is connected: a
    /// session sends its first prompt only then, so that no event of it is missed.
    /// </summary>
    public Task OpenFeedAsync(string directory)
    {
        lock (_sessions)
        {
            var lease = _directories.GetValueOrDefault(directory) ?? throw new InvalidOperationException($"no session holds {directory}");
            if (lease.Feed is { } feed && feed.Generation == _generation && !feed.Stop.IsCancellationRequested) return feed.Connected;
            lease.Feed?.Stop.Cancel();
            var stop = new CancellationTokenSource();
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lease.Feed = new DirectoryFeed(_generation, stop, connected.Task);
            _ = ReadEventsAsync(Http, directory, lease.Feed, connected);
            return connected.Task;
        }
    }

    /// <summary>The session's events, in order; the actor reads the next one when it has handled the last.</summary>
    public ChannelReader<OpenCodeEvent> Register(string sessionId, string directory, IActorRef session)
    {
        var feed = new SessionFeed(session, directory, Channel.CreateBounded<OpenCodeEvent>(new BoundedChannelOptions(settings.OutputBacklog)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        }));
        lock (_sessions)
        {
            if (_sessions.Remove(sessionId, out var previous)) previous.Events.Writer.TryComplete();
            _sessions[sessionId] = feed;
        }
        return feed.Events.Reader;
    }

    /// <summary>
    /// The session actor stopped: its registration goes (only its own: a newer actor of the same OpenCode session may
    /// have registered already), its channel is completed (which also frees the feed if it waits for room in it), and the
    /// directory's feed is closed when no actor works there any more.
    /// </summary>
    public void Release(string? sessionId, string directory, IActorRef session)
    {
        lock (_sessions)
        {
            if (sessionId is not null && _sessions.TryGetValue(sessionId, out var feed) && feed.Actor.Equals(session))
            {
                _sessions.Remove(sessionId);
                feed.Events.Writer.TryComplete();
            }
            if (_directories.TryGetValue(directory, out var lease) && --lease.Holders <= 0)
            {
                lease.Feed?.Stop.Cancel();
                _directories.Remove(directory);
            }
        }
    }

    /// <summary>A feed that ended while nobody closed it: its sessions are told (their turns cannot end otherwise).</summary>
    private void FeedLost(string directory, DirectoryFeed lost, string reason)
    {
        List<IActorRef> affected;
        lock (_sessions)
        {
            if (_directories.TryGetValue(directory, out var lease) && lease.Feed == lost) lease.Feed = null;
            affected = [.. _sessions.Values.Where(s => s.Directory == directory).Select(s => s.Actor)];
        }
        foreach (var actor in affected) actor.Tell(new OpenCodeServerGone(reason));
    }

    /// <summary>Starts stopping the server's process group; the daemon's tracker waits for it at shutdown.</summary>
    public void Stop()
    {
        _process?.StopAsync();
        _process = null;
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

    private async Task WatchAsync(ChildProcess process, int generation)
    {
        var code = await process.Exited;
        if (generation != _generation) return;
        Broadcast(new OpenCodeServerGone($"{name} serve exited with code {code}{(process.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}"));
    }

    private void Broadcast(object message)
    {
        lock (_sessions) foreach (var session in _sessions.Values) session.Actor.Tell(message);
    }

    /// <summary>`GET /event?directory=`: server-sent events, one JSON object per `data:` line, routed by properties.sessionID.</summary>
    private async Task ReadEventsAsync(HttpClient http, string directory, DirectoryFeed feed, TaskCompletionSource connected)
    {
        var stop = feed.Stop.Token;
        string ended;
        try
        {
            using var response = await http.GetAsync($"event?directory={Uri.EscapeDataString(directory)}", HttpCompletionOption.ResponseHeadersRead, stop);
            response.EnsureSuccessStatusCode();
            connected.TrySetResult();
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
                if (!skipping && buffer.Length > settings.MaxLineBytes)
                {
                    skipping = true;
                    _log?.Warning("{0} server: an event over {1} bytes was skipped (paseo.providers.max-line-bytes)", name, settings.MaxLineBytes);
                }
                if (skipping) reader.AdvanceTo(buffer.End);
                else reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
            await reader.CompleteAsync();
            ended = "the server closed it";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            connected.TrySetException(new HttpRequestException($"the event feed of {directory} could not be opened: {e.Message}", e));
            ended = e.Message;
        }
        // Closed on purpose (no session works there, or a new generation): nothing to say. A server that is exiting
        // ends its feeds first; its exit (said by WatchAsync, with the exit code and stderr) is the better reason, so it
        // is given up to kill-grace to happen. Otherwise the directory's sessions would wait for events that never come.
        if (stop.IsCancellationRequested || feed.Generation != _generation || _process is not { } process) return;
        await Task.WhenAny(process.Exited, Task.Delay(settings.KillGrace));
        if (!process.HasExited && feed.Generation == _generation && !stop.IsCancellationRequested)
            FeedLost(directory, feed, $"{name}: the event feed of {directory} ended ({ended})");
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
        if (sessionId is null) return;
        SessionFeed? feed;
        lock (_sessions) _sessions.TryGetValue(sessionId, out feed);
        // Only the feed of the session's own directory delivers its events (never twice through two feeds).
        if (feed is null || feed.Directory != directory) return;
        try
        {
            await feed.Events.Writer.WriteAsync(new OpenCodeEvent(type, properties));
        }
        catch (ChannelClosedException)
        {
            // The session stopped while its events waited for room.
        }
    }
}
