using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Paseo.Bench;

/// <summary>
/// Fan-out load driver (issue #4): starts the real `paseo` daemon on loopback with a fresh home, attaches N clients
/// (hello + a subscribing fetch_agents), creates one mock agent that streams RATE timestamped timeline events a second for
/// SECONDS, and measures, per delivered event, the time from the agent making it to a client reading it, plus the
/// daemon's RSS every second. Then it measures the memory of idle agents. Options: --clients N --rate R --seconds S
/// --idle-agents A --hocon "key = value; key = value" (paseo.hocon overrides for the daemon under test).
/// </summary>
public static class FanoutDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        var clients = Arg("--clients", 100);
        var rate = Arg("--rate", 10_000);
        var seconds = Arg("--seconds", 60);
        var idleAgents = Arg("--idle-agents", 1000);
        var hocon = Array.IndexOf(args, "--hocon") is var h and >= 0 && h + 1 < args.Length ? args[h + 1] : null;
        Daemon.ExtraHocon = hocon;
        if (hocon is not null) Console.WriteLine($"paseo.hocon overrides: {hocon}");

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        await FanOutAsync(clients, rate, seconds);
        await IdleAgentsAsync(idleAgents);
        return 0;
    }

    private static async Task FanOutAsync(int clientCount, int rate, int seconds)
    {
        await using var daemon = await Daemon.StartAsync();
        var clients = new List<Receiver>();
        for (var i = 0; i < clientCount; i++) clients.Add(await Receiver.ConnectAsync(daemon.WebSocketUri, $"cid_fanout_{i}"));
        var control = clients[0];

        var rss = new List<long> { daemon.RssKiB() };
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(sampling.Token)) rss.Add(daemon.RssKiB());
            }
            catch (OperationCanceledException)
            {
                // Sampling ends with the run.
            }
        });

        var started = Stopwatch.StartNew();
        await control.StartStreamingAgentAsync(daemon.Home, rate, seconds);
        var expected = (long)rate / 100 * 100 * seconds;
        // Wait until every client has its events (or has been disconnected), bounded by the run plus a margin.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
        while (!deadline.IsCancellationRequested && clients.Any(c => !c.Closed && c.Events < expected))
            await Task.Delay(200, CancellationToken.None);
        var elapsed = started.Elapsed;
        await sampling.CancelAsync();
        await sampler;

        var histogram = new long[Receiver.Buckets];
        foreach (var client in clients) for (var i = 0; i < histogram.Length; i++) histogram[i] += client.Histogram[i];
        var total = histogram.Sum();
        Console.WriteLine($"fan-out: 1 agent, {rate} events/s for {seconds} s, {clientCount} clients; run {elapsed.TotalSeconds:0.0} s");
        Console.WriteLine($"  delivered {total} events ({total / (double)(expected * clientCount):P1} of {expected} × {clientCount}); disconnected clients: {clients.Count(c => c.Closed)} {string.Join(", ", clients.Where(c => c.Closed).Select(c => c.CloseReason).Distinct())}");
        Console.WriteLine($"  latency p50 {Percentile(histogram, 0.50)} ms, p90 {Percentile(histogram, 0.90)} ms, p99 {Percentile(histogram, 0.99)} ms, p99.9 {Percentile(histogram, 0.999)} ms, max {Percentile(histogram, 1.0)} ms");
        Console.WriteLine($"  daemon RSS (MiB): start {rss[0] / 1024}, min {rss.Min() / 1024}, max {rss.Max() / 1024}, end {rss[^1] / 1024}; per second: {string.Join(" ", rss.Select(r => r / 1024))}");
        foreach (var client in clients) await client.DisposeAsync();
    }

    private static async Task IdleAgentsAsync(int count)
    {
        await using var daemon = await Daemon.StartAsync();
        var client = await Receiver.ConnectAsync(daemon.WebSocketUri, "cid_idle");
        // Warm up (first agent, JIT), then measure the growth for `count` more.
        await client.CreateIdleAgentAsync(daemon.Home, "warmup");
        await Task.Delay(2000);
        var before = daemon.RssKiB();
        for (var i = 0; i < count; i++) await client.CreateIdleAgentAsync(daemon.Home, $"idle-{i}");
        await Task.Delay(5000); // settle: a measurement of resident memory, not a test
        var after = daemon.RssKiB();
        Console.WriteLine($"idle agents: {count} created; daemon RSS {before / 1024} MiB → {after / 1024} MiB; {(after - before) / (double)count:0.0} KiB per idle agent");
        await client.DisposeAsync();
    }

    internal static double Percentile(long[] histogram, double q)
    {
        var total = histogram.Sum();
        if (total == 0) return double.NaN;
        var target = (long)Math.Ceiling(total * q);
        long seen = 0;
        for (var i = 0; i < histogram.Length; i++)
        {
            seen += histogram[i];
            if (seen >= target) return i / 10.0;
        }
        return double.PositiveInfinity;
    }

    /// <summary>The real daemon binary in the foreground, with a fresh $PASEO_HOME.</summary>
    internal sealed class Daemon : IAsyncDisposable
    {
        private readonly Process _process;
        public string Home { get; }
        public Uri WebSocketUri { get; }

        private Daemon(Process process, string home, Uri uri)
        {
            _process = process;
            Home = home;
            WebSocketUri = uri;
        }

        public static string? ExtraHocon { get; set; }

        public int Pid => _process.Id;

        /// <summary>User + system CPU time the daemon process has used so far.</summary>
        public TimeSpan CpuTime() => ProcessCpu.Of(_process.Id);

        public static async Task<Daemon> StartAsync(string? configJson = null)
        {
            var root = Directory.CreateTempSubdirectory("paseo-fanout-").FullName;
            var home = Path.Combine(root, "home");
            Directory.CreateDirectory(home);
            if (configJson is not null) File.WriteAllText(Path.Combine(home, "config.json"), configJson);
            if (ExtraHocon is not null) File.WriteAllText(Path.Combine(home, "paseo.hocon"), ExtraHocon.Replace(";", "\n") + "\n");
            var psi = new ProcessStartInfo(Binary()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "daemon", "start", "--foreground", "--port", "0", "--home", home }) psi.ArgumentList.Add(a);
            psi.Environment["PASEO_LOG_LEVEL"] = "warn";
            var process = Process.Start(psi)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var pidFile = Path.Combine(home, "paseo.pid");
            for (var i = 0; i < 300; i++)
            {
                // PidFile.Read: the daemon may be writing it at this moment (a locked or half-written file reads as "not yet").
                if (Paseo.Transport.Daemon.PidFile.Read(pidFile)?.Listen is { } listen && !listen.EndsWith(":0"))
                    return new Daemon(process, root, new Uri($"ws://{listen}/ws"));
                await Task.Delay(100);
            }
            throw new TimeoutException("the daemon did not start");
        }

        public long RssKiB()
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:"));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }

        private static string Binary()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
            return Path.Combine(dir!.FullName, "src", "Paseo.Host", "bin", "Release", "net10.0", "paseo");
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            Directory.Delete(Home, recursive: true);
        }
    }

    /// <summary>One client: hello, a subscribing fetch_agents, then it reads every frame and records event latencies (0.1 ms buckets).</summary>
    internal sealed class Receiver : IAsyncDisposable
    {
        public const int Buckets = 100_000;
        private static readonly byte[] Marker = "t="u8.ToArray();
        // Like a phone's browser: no pings of its own (it still answers the daemon's).
        private readonly ClientWebSocket _socket = new() { Options = { KeepAliveInterval = TimeSpan.Zero } };
        private readonly TaskCompletionSource<JsonObject> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string? _awaiting;
        public long[] Histogram { get; } = new long[Buckets];
        public long Events;
        /// <summary>Frames that carried events (a frame may carry several coalesced ones).</summary>
        public long EventFrames;
        public bool Closed;
        public string? CloseReason;

        public static async Task<Receiver> ConnectAsync(Uri uri, string clientId)
        {
            var receiver = new Receiver();
            await receiver._socket.ConnectAsync(uri, CancellationToken.None);
            _ = Task.Run(receiver.ReceiveAsync);
            await receiver.SendAsync(new JsonObject { ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = "cli", ["protocolVersion"] = 1 });
            await receiver.RequestAsync(new JsonObject { ["type"] = "fetch_agents_request", ["subscribe"] = new JsonObject() });
            return receiver;
        }

        /// <summary>Creates a mock agent whose first turn emits <paramref name="rate"/> timestamped deltas a second for <paramref name="seconds"/>.</summary>
        public Task StartStreamingAgentAsync(string cwd, int rate, int seconds) => SendAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "create_agent_request", ["requestId"] = "create",
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd },
                ["initialPrompt"] = $"[stream {rate} {seconds}] fan-out",
            },
        });

        public Task SendAsync(JsonObject message) =>
            _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);

        public async Task<JsonObject> RequestAsync(JsonObject message)
        {
            var requestId = Guid.NewGuid().ToString("N");
            message["requestId"] = requestId;
            _awaiting = requestId;
            await SendAsync(new JsonObject { ["type"] = "session", ["message"] = message });
            var reply = await _reply.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return reply;
        }

        public async Task CreateIdleAgentAsync(string cwd, string title)
        {
            var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pendingCreate = reply;
            await SendAsync(new JsonObject
            {
                ["type"] = "session",
                ["message"] = new JsonObject { ["type"] = "create_agent_request", ["requestId"] = title, ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd, ["title"] = title } },
            });
            await reply.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }

        private TaskCompletionSource<JsonObject>? _pendingCreate;

        private async Task ReceiveAsync()
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (true)
                {
                    var count = 0;
                    WebSocketReceiveResult result;
                    do
                    {
                        result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None) is var r
                            ? new WebSocketReceiveResult(r.Count, r.MessageType, r.EndOfMessage)
                            : null!;
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            Closed = true;
                            CloseReason = $"{_socket.CloseStatus} {_socket.CloseStatusDescription}";
                            return;
                        }
                        count += result.Count;
                    } while (!result.EndOfMessage);
                    var now = DateTime.UtcNow.Ticks;
                    var frame = buffer.AsSpan(0, count);
                    // A row may hold several coalesced events: each `t=<ticks>` is one event, measured on its own.
                    var rest = frame;
                    var found = false;
                    for (var at = rest.IndexOf(Marker); at >= 0; at = rest.IndexOf(Marker))
                    {
                        found = true;
                        rest = rest[(at + Marker.Length)..];
                        long ticks = 0;
                        foreach (var b in rest)
                        {
                            if (b is < (byte)'0' or > (byte)'9') break;
                            ticks = ticks * 10 + (b - '0');
                        }
                        var bucket = (int)Math.Clamp((now - ticks) / 1000, 0, Buckets - 1); // 0.1 ms buckets
                        Histogram[bucket]++;
                        Interlocked.Increment(ref Events);
                    }
                    if (found)
                    {
                        Interlocked.Increment(ref EventFrames);
                        continue;
                    }
                    var json = JsonNode.Parse(Encoding.UTF8.GetString(frame)) as JsonObject;
                    var payload = json?["message"]?["payload"] as JsonObject;
                    if (_awaiting is not null && payload?["requestId"]?.GetValue<string>() == _awaiting)
                    {
                        _awaiting = null;
                        _reply.TrySetResult(payload);
                    }
                    else if (payload?["status"]?.GetValue<string>() is "agent_created" or "agent_create_failed")
                    {
                        _pendingCreate?.TrySetResult(payload);
                    }
                }
            }
            catch (WebSocketException e)
            {
                Closed = true;
                CloseReason = e.Message;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (_socket.State == WebSocketState.Open) await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
            catch (Exception e) when (e is WebSocketException or InvalidOperationException or ObjectDisposedException)
            {
                // The daemon may already have closed it; the measurement is done.
            }
            _socket.Dispose();
        }
    }
}
