using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;

namespace Paseo.Bench;

/// <summary>
/// Relay load driver (issue #5): for each N, a real relay (`paseo relay start`) and a real daemon (`--relay`) as
/// processes on loopback, N phones (E2EE channel over a relay client socket, hello → server_info), then a fixed total
/// rate of 1 KiB encrypted session pings spread over the phones for a few seconds. Reports handshake time, round trip
/// p50/p99, frames per second, and the RSS of relay and daemon; then the same N and rate against a plain WebSocket echo
/// (no relay, no crypto), the limit on this machine. Writes bench/results/relay.csv.
/// Options: --phones 1,10,100 --rate 1000 --seconds 10.
/// </summary>
public static class RelayDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var counts = Arg("--phones", "1,10,100,500,1000").Split(',').Select(int.Parse).ToList();
        var rate = int.Parse(Arg("--rate", "1000"));
        var seconds = int.Parse(Arg("--seconds", "10"));
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; {rate} frames/s in total, {seconds} s per run");
        var rows = new List<string> { "target,phones,handshake_p50_ms,handshake_p99_ms,rtt_p50_ms,rtt_p99_ms,frames_per_s,relay_rss_mib,daemon_rss_mib,relay_idle_rss_mib,relay_base_rss_mib" };
        foreach (var n in counts)
        {
            rows.Add(await RelayRunAsync(n, rate, seconds));
            rows.Add(await EchoRunAsync(n, rate, seconds));
        }
        var results = Path.Combine(Repository.Root, "bench", "results");
        Directory.CreateDirectory(results);
        await File.WriteAllLinesAsync(Path.Combine(results, "relay.csv"), rows);
        Charts(rows, counts, results);
        Console.WriteLine($"wrote {Path.Combine(results, "relay.csv")}, relay-latency.png, relay-memory.png");
        return 0;
    }

    /// <summary>Round trip (p50/p99, relay and plain echo) and memory against N, as PNG charts (ScottPlot).</summary>
    private static void Charts(List<string> rows, List<int> counts, string folder)
    {
        var data = rows.Skip(1).Select(r => r.Split(',')).ToList();
        double[] Column(string target, int index) => data.Where(d => d[0] == target).Select(d => double.Parse(d[index], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var positions = Enumerable.Range(0, counts.Count).Select(i => (double)i).ToArray();
        var labels = counts.Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        var latency = new ScottPlot.Plot();
        foreach (var (target, index, name) in new[] { ("relay", 4, "relay p50"), ("relay", 5, "relay p99"), ("echo", 4, "plain echo p50"), ("echo", 5, "plain echo p99") })
            latency.Add.Scatter(positions, Column(target, index)).LegendText = name;
        latency.Axes.Bottom.SetTicks(positions, labels);
        latency.Axes.Bottom.Label.Text = "phones (1 000 frames/s in total, 1 KiB each)";
        latency.Axes.Left.Label.Text = "round trip (ms)";
        latency.Title("Round trip through the relay and the daemon, beside a plain WebSocket echo");
        latency.ShowLegend();
        latency.SavePng(Path.Combine(folder, "relay-latency.png"), 900, 500);

        var memory = new ScottPlot.Plot();
        memory.Add.Scatter(positions, Column("relay", 7)).LegendText = "relay RSS";
        memory.Add.Scatter(positions, Column("relay", 8)).LegendText = "daemon RSS";
        memory.Axes.Bottom.SetTicks(positions, labels);
        memory.Axes.Bottom.Label.Text = "phones";
        memory.Axes.Left.Label.Text = "MiB";
        memory.Title("Memory with N phones attached");
        memory.ShowLegend();
        memory.SavePng(Path.Combine(folder, "relay-memory.png"), 900, 500);
    }

    internal static async Task<string> RelayRunAsync(int phones, int rate, int seconds)
    {
        var root = Directory.CreateTempSubdirectory("paseo-relay-bench-").FullName;
        try
        {
            var limits = $"paseo.relay-server.max-clients-per-server = {phones + 10}\npaseo.front-door.max-concurrent-connections = {4 * phones + 100}\n" +
                         $"paseo.sessions.max-sessions = {phones + 10}\n";
            Directory.CreateDirectory(Path.Combine(root, "relay"));
            Directory.CreateDirectory(Path.Combine(root, "home"));
            await File.WriteAllTextAsync(Path.Combine(root, "relay", "paseo.hocon"), limits);
            await File.WriteAllTextAsync(Path.Combine(root, "home", "paseo.hocon"), limits);
            using var relay = Start(["relay", "start", "--listen", "127.0.0.1:0", "--home", Path.Combine(root, "relay")]);
            var relayListen = await relay.LineAsync("Relay listening on ");
            using var daemon = Start(["daemon", "start", "--foreground", "--port", "0", "--relay", relayListen, "--home", Path.Combine(root, "home")]);
            var home = Path.Combine(root, "home");
            await WaitForFileAsync(Path.Combine(home, "paseo.pid"));
            await WaitForFileAsync(Path.Combine(home, "daemon-keypair.json"));
            await WaitForFileAsync(Path.Combine(home, "server-id"));
            var keyFile = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(home, "daemon-keypair.json")))!;
            var serverId = (await File.ReadAllTextAsync(Path.Combine(home, "server-id"))).Trim();
            var daemonKey = keyFile["publicKeyB64"]!.GetValue<string>();

            var relayBase = relay.RssMiB();
            var handshakes = new List<double>();
            var channels = new List<E2eeClientChannel>();
            for (var i = 0; i < phones; i++)
            {
                var watch = Stopwatch.StartNew();
                var socket = new ClientWebSocket();
                await socket.ConnectAsync(new Uri($"ws://{relayListen}/ws?serverId={serverId}&role=client&v=2"), CancellationToken.None);
                var channel = E2eeClientChannel.Start(new WebSocketFrameTransport(socket, 1 << 20, 64, 1024), daemonKey,
                    new E2eeClientOptions { MaxHelloAttempts = 60 });
                await channel.SendTextAsync($"{{\"type\":\"hello\",\"clientId\":\"cid_bench_{i}\",\"clientType\":\"mobile\",\"protocolVersion\":1}}");
                await WaitForAsync(channel, "server_info", TimeSpan.FromSeconds(60));
                handshakes.Add(watch.Elapsed.TotalMilliseconds);
                channels.Add(channel);
            }
            // Idle: every phone attached, nothing sent yet.
            var relayIdle = relay.RssMiB();
            var (relayCpu, daemonCpu) = (ProcessCpu.Of(relay.Pid), ProcessCpu.Of(daemon.Pid));
            var (rtts, fps) = await PingLoadAsync(channels, rate, seconds);
            (relayCpu, daemonCpu) = (ProcessCpu.Of(relay.Pid) - relayCpu, ProcessCpu.Of(daemon.Pid) - daemonCpu);
            var perThousand = 1000.0 / rtts.Count;
            var relayRss = relay.RssMiB();
            var daemonRss = daemon.RssMiB();
            Console.WriteLine($"relay  N={phones,4}: handshake p50 {P(handshakes, 0.5):0.0} ms p99 {P(handshakes, 0.99):0.0} ms; rtt p50 {P(rtts, 0.5):0.00} ms p99 {P(rtts, 0.99):0.00} ms; {fps:0} frames/s; RSS relay {relayRss} MiB (idle {relayIdle}, empty {relayBase}), daemon {daemonRss} MiB; " +
                              $"CPU per 1 000 pings (each forwarded both ways): relay {relayCpu.TotalMilliseconds * perThousand:0} ms, daemon {daemonCpu.TotalMilliseconds * perThousand:0} ms");
            foreach (var channel in channels) channel.Close();
            return $"relay,{phones},{P(handshakes, 0.5):0.0},{P(handshakes, 0.99):0.0},{P(rtts, 0.5):0.00},{P(rtts, 0.99):0.00},{fps:0},{relayRss},{daemonRss},{relayIdle},{relayBase}";
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Sends session pings of ~1 KiB at the total rate, round-robin over the phones; a ping's round trip ends at its pong.</summary>
    internal static async Task<(List<double> Rtts, double Fps)> PingLoadAsync(List<E2eeClientChannel> channels, int rate, int seconds)
    {
        var padding = new string('x', 1000);
        var rtts = new List<double>();
        var sent = new Dictionary<string, long>();
        var readers = channels.Select((channel, i) => Task.Run(async () =>
        {
            await foreach (var message in channel.Messages.ReadAllAsync())
            {
                var frame = JsonNode.Parse(message.Text);
                if (frame?["message"]?["type"]?.GetValue<string>() != "pong") continue;
                var id = frame["message"]!["payload"]!["requestId"]!.GetValue<string>();
                var now = Stopwatch.GetTimestamp();
                lock (sent)
                    if (sent.Remove(id, out var at)) rtts.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
            }
        })).ToList();
        var total = rate * seconds;
        var start = Stopwatch.GetTimestamp();
        for (var k = 0; k < total; k++)
        {
            // Paced sends: the k-th frame leaves at k / rate seconds.
            var due = TimeSpan.FromSeconds(k / (double)rate) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due);
            var id = $"p{k}";
            lock (sent) sent[id] = Stopwatch.GetTimestamp();
            await channels[k % channels.Count].SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"{id}\",\"pad\":\"{padding}\"}}}}");
        }
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            lock (sent) if (sent.Count == 0) break;
            await Task.Delay(50);
        }
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        lock (sent) return (rtts.ToList(), rtts.Count / elapsed);
    }

    private static async Task<string> EchoRunAsync(int phones, int rate, int seconds)
    {
        // The limit: the same sockets and frame sizes through a bare Kestrel echo, no relay and no encryption.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => { k.Listen(IPAddress.Loopback, 0); k.Limits.MaxConcurrentConnections = null; k.Limits.MaxConcurrentUpgradedConnections = null; });
        await using var app = builder.Build();
        app.UseWebSockets();
        app.Map("/echo", async (HttpContext http) =>
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) break;
                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        });
        await app.StartAsync();
        var uri = new Uri(app.Urls.First().Replace("http://", "ws://") + "/echo");
        var sockets = new List<ClientWebSocket>();
        for (var i = 0; i < phones; i++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(uri, CancellationToken.None);
            sockets.Add(socket);
        }
        var rtts = new List<double>();
        var sent = new Dictionary<string, long>();
        var readers = sockets.Select(socket => Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    var now = Stopwatch.GetTimestamp();
                    var id = System.Text.Encoding.UTF8.GetString(buffer, 0, Math.Min(result.Count, 16)).Split(' ')[0];
                    lock (sent) if (sent.Remove(id, out var at)) rtts.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
                }
            }
            catch (WebSocketException)
            {
            }
        })).ToList();
        var padding = new string('x', 1000);
        var start = Stopwatch.GetTimestamp();
        var total = rate * seconds;
        for (var k = 0; k < total; k++)
        {
            var due = TimeSpan.FromSeconds(k / (double)rate) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due);
            var id = $"p{k}";
            lock (sent) sent[id] = Stopwatch.GetTimestamp();
            await sockets[k % sockets.Count].SendAsync(System.Text.Encoding.UTF8.GetBytes($"{id} {padding}"), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        var wait = Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(10))
        {
            lock (sent) if (sent.Count == 0) break;
            await Task.Delay(50);
        }
        var fps = rtts.Count / Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine($"echo   N={phones,4}: rtt p50 {P(rtts, 0.5):0.00} ms p99 {P(rtts, 0.99):0.00} ms; {fps:0} frames/s");
        foreach (var socket in sockets) socket.Abort();
        return $"echo,{phones},,,{P(rtts, 0.5):0.00},{P(rtts, 0.99):0.00},{fps:0},,,,";
    }

    internal static async Task WaitForAsync(E2eeClientChannel channel, string status, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var message = await channel.Messages.ReadAsync(cts.Token);
            if (JsonNode.Parse(message.Text)?["message"]?["payload"]?["status"]?.GetValue<string>() == status) return;
        }
    }

    internal static async Task WaitForFileAsync(string path)
    {
        for (var i = 0; i < 300 && !File.Exists(path); i++) await Task.Delay(100);
    }

    internal static double P(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
    }

    internal static ChildProcess Start(string[] args) => new(args);

    /// <summary>A `paseo` process whose output lines can be awaited.</summary>
    internal sealed class ChildProcess : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];

        public ChildProcess(string[] args)
        {
            var psi = new ProcessStartInfo(Path.Combine(Repository.Root, "src", "Paseo.Host", "bin", "Release", "net10.0", "paseo"))
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["PASEO_LOG_LEVEL"] = "warn";
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public async Task<string> LineAsync(string prefix)
        {
            for (var i = 0; i < 300; i++)
            {
                lock (_lines)
                    if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } line) return line[prefix.Length..].Trim();
                await Task.Delay(100);
            }
            throw new TimeoutException($"no line starting with '{prefix}'");
        }

        public int Pid => _process.Id;

        public long RssMiB() =>
            long.Parse(File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;

        public void Dispose()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}

internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }
}
