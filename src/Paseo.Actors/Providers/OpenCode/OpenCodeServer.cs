using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
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
/// free loopback port (ready when it prints that it listens), one SSE reader of `GET /event` dispatching events to the
/// session actors by session id, and a new generation when the process dies. Its process group is stopped when the
/// actor system terminates.
/// </summary>
public sealed class OpenCodeServer(string name, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, ProviderProcessSettings settings)
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private readonly Dictionary<string, IActorRef> _sessions = new(StringComparer.Ordinal);
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
            var port = FreePort();
            var process = ChildProcess.Start(
                new ChildProcessStart([.. command, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hostname", "127.0.0.1"],
                    Environment.CurrentDirectory, environment, settings.MaxLineBytes, settings.OutputBacklog, settings.KillGrace),
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
            catch (Exception e) when (e is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
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
            _ = ReadEventsAsync(_http, generation);
            _ = WatchAsync(process, generation);
            return _baseUri;
        }
        finally
        {
            _starting.Release();
        }
    }

    public void Register(string sessionId, IActorRef session)
    {
        lock (_sessions) _sessions[sessionId] = session;
    }

    public void Unregister(string sessionId)
    {
        lock (_sessions) _sessions.Remove(sessionId);
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
        catch (System.Threading.Channels.ChannelClosedException)
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
        lock (_sessions) foreach (var session in _sessions.Values) session.Tell(message);
    }

    /// <summary>`GET /event`: server-sent events, one JSON object per `data:` line, routed by properties.sessionID.</summary>
    private async Task ReadEventsAsync(HttpClient http, int generation)
    {
        try
        {
            using var response = await http.GetAsync("event", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                JsonObject? data;
                try
                {
                    data = JsonNode.Parse(line[5..].Trim()) as JsonObject;
                }
                catch (JsonException)
                {
                    continue;
                }
                if (data is null || WsInbound.Str(data, "type") is not { } type || data["properties"] is not JsonObject properties) continue;
                var sessionId = WsInbound.Str(properties, "sessionID") ?? properties["part"]?["sessionID"]?.GetValue<string>() ?? properties["info"]?["sessionID"]?.GetValue<string>();
                if (sessionId is null) continue;
                IActorRef? target;
                lock (_sessions) _sessions.TryGetValue(sessionId, out target);
                target?.Tell(new OpenCodeEvent(type, properties));
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or ObjectDisposedException or TaskCanceledException)
        {
            // The server went away: WatchAsync reports it.
        }
    }
}
