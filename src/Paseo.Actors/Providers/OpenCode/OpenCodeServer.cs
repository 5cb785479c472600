using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
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
    private sealed record SessionFeed(IActorRef Actor, Channel<OpenCodeEvent> Events);

    /// <summary>The SSE reader of one directory, for one server generation, shared by the sessions working there.</summary>
    private sealed record DirectoryFeed(int Generation, CancellationTokenSource Stop, Task Connected)
    {
        public int Sessions { get; set; }
    }

    private readonly Dictionary<string, SessionFeed> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DirectoryFeed> _directories = new(StringComparer.Ordinal);
    // The feed each session counts on: after a server restart a directory gets a new feed, and a session of the old
    // generation that leaves must not take a count from the new one.
    private readonly Dictionary<string, (string Directory, DirectoryFeed? Feed)> _sessionFeeds = new(StringComparer.Ordinal);
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
            _log ??= system.Log;
            var port = FreePort();
            var process = ChildProcess.Start(
                new ChildProcessStart([.. command, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hostname", "127.0.0.1"],
                    Environment.CurrentDirectory, environment, settings.MaxLineBytes, settings.OutputBacklog, settings.KillGrace,
                    settings.InputBacklog, settings.MaxStderrLineBytes),
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
                process.Dispose();
                throw new ChildProcessStartException($"{name} serve did not start listening{(process.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}");
            }
            _ = DrainAsync(process);
            _process = process;
            _baseUri = new Uri($"http://127.0.0.1:{port}/");
            _http?.Dispose();
            _http = new HttpClient { BaseAddress = _baseUri, Timeout = TimeSpan.FromMinutes(5) };
            var generation = ++_generation;
            if (_generation == 1)
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, $"stop-{name}-server", () =>
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

    /// <summary>
    /// Makes sure this directory's event feed is connected, before the session's first prompt so that no event of it is
    /// missed. A feed lives while sessions are registered on it; <see cref="CloseIfUnused"/> ends one nobody registered on.
    /// </summary>
    public Task OpenFeedAsync(string directory)
    {
        lock (_sessions)
        {
            var http = Http;
            if (!_directories.TryGetValue(directory, out var feed) || feed.Generation != _generation)
            {
                feed?.Stop.Cancel();
                var stop = new CancellationTokenSource();
                var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                feed = new DirectoryFeed(_generation, stop, connected.Task);
                _directories[directory] = feed;
                _ = ReadEventsAsync(http, directory, connected, stop.Token);
            }
            return feed.Connected;
        }
    }

    /// <summary>The session's events, in order; the actor reads the next one when it has handled the last.</summary>
    public ChannelReader<OpenCodeEvent> Register(string sessionId, string directory, IActorRef session)
    {
        var feed = new SessionFeed(session, Channel.CreateBounded<OpenCodeEvent>(new BoundedChannelOptions(settings.OutputBacklog)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        }));
        lock (_sessions)
        {
            if (_sessions.Remove(sessionId, out var previous)) previous.Events.Writer.TryComplete();
            _sessions[sessionId] = feed;
            if (!_sessionFeeds.ContainsKey(sessionId))
            {
                // Normally the feed opened for this session's start; if another session's failed start closed it
                // meanwhile, it is opened again.
                if (_directories.GetValueOrDefault(directory)?.Generation != _generation && _http is not null) _ = OpenFeedAsync(directory);
                var directoryFeed = _directories.GetValueOrDefault(directory);
                if (directoryFeed is not null) directoryFeed.Sessions++;
                _sessionFeeds[sessionId] = (directory, directoryFeed);
            }
        }
        return feed.Events.Reader;
    }

    /// <summary>The session is gone: its channel is completed (which also frees the feed if it waits for room in it),
    /// and its directory's feed is closed when no session uses it any more.</summary>
    public void Unregister(string sessionId)
    {
        lock (_sessions)
        {
            if (_sessions.Remove(sessionId, out var feed))
                feed.Events.Writer.TryComplete();
            if (_sessionFeeds.Remove(sessionId, out var counted) && counted.Feed is { } directoryFeed)
            {
                directoryFeed.Sessions--;
                if (directoryFeed.Sessions <= 0)
                {
                    directoryFeed.Stop.Cancel();
                    if (_directories.GetValueOrDefault(counted.Directory) == directoryFeed) _directories.Remove(counted.Directory);
                }
            }
        }
    }

    /// <summary>Closes the directory's feed when no session is registered on it (e.g. its only session failed to start).</summary>
    public void CloseIfUnused(string directory)
    {
        lock (_sessions)
        {
            if (_directories.TryGetValue(directory, out var feed) && feed.Sessions <= 0)
            {
                feed.Stop.Cancel();
                _directories.Remove(directory);
            }
        }
    }

    public void Stop()
    {
        _process?.Dispose();
        _process = null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
    private async Task ReadEventsAsync(HttpClient http, string directory, TaskCompletionSource connected, CancellationToken stop)
    {
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
                    else await DispatchAsync(line);
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
        }
        catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Closed because no session uses it, or the server went away (WatchAsync reports that).
            connected.TrySetException(new HttpRequestException($"the event feed of {directory} could not be opened: {e.Message}", e));
        }
    }

    private async ValueTask DispatchAsync(ReadOnlySequence<byte> line)
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
        var sessionId = WsInbound.Str(properties, "sessionID") ?? properties["part"]?["sessionID"]?.GetValue<string>() ?? properties["info"]?["sessionID"]?.GetValue<string>();
        if (sessionId is null) return;
        SessionFeed? feed;
        lock (_sessions) _sessions.TryGetValue(sessionId, out feed);
        if (feed is null) return;
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
