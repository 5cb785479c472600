using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using static Paseo.Bench.RelayDriver;

namespace Paseo.Bench;

/// <summary>
/// Relay cluster load driver (issue #14): the one-node relay as it runs without --cluster, then three `paseo relay start
/// --cluster` processes forming one cluster, each with a real daemon (`--relay` pointed at the first node, so its control
/// and data sockets are all there) and N phones spread evenly over the nodes (phones on the other nodes cross one node
/// boundary to their daemon's data socket). For each: handshake p50/p99, round trip p50/p99 of ~1 KiB encrypted pings
/// at a fixed total rate, and RSS per relay node. Then the cost of the node boundary: one phone on the daemon's node and
/// one on another node, pings one at a time. Writes bench/results/relay-cluster.csv and relay-cluster.png.
/// Options: --phones 1000 --rate 1000 --seconds 10 --single 2000; --chart-only redraws the chart from the CSV.
/// </summary>
public static class RelayClusterDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var phones = int.Parse(Arg("--phones", "1000"));
        var rate = int.Parse(Arg("--rate", "1000"));
        var seconds = int.Parse(Arg("--seconds", "10"));
        var single = int.Parse(Arg("--single", "2000"));
        var results = Path.Combine(Repository.Root, "bench", "results");
        if (args.Contains("--chart-only"))
        {
            // Redraws the chart from the last run's CSV.
            Chart([.. await File.ReadAllLinesAsync(Path.Combine(results, "relay-cluster.csv"))], results);
            return 0;
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; {phones} phones, {rate} frames/s in total, {seconds} s per run");
        var rows = new List<string> { "nodes,phones,handshake_p50_ms,handshake_p99_ms,rtt_p50_ms,rtt_p99_ms,frames_per_s,rss_per_node_mib,same_node_p50_ms,same_node_p99_ms,other_node_p50_ms,other_node_p99_ms" };
        foreach (var nodes in new[] { 1, 3 }) rows.Add(await RunAsync(nodes, phones, rate, seconds, single));
        Directory.CreateDirectory(results);
        await File.WriteAllLinesAsync(Path.Combine(results, "relay-cluster.csv"), rows);
        Chart(rows, results);
        Console.WriteLine($"wrote {Path.Combine(results, "relay-cluster.csv")}, relay-cluster.png");
        return 0;
    }

    private static void Chart(List<string> rows, string folder)
    {
        var data = rows.Skip(1).Select(r => r.Split(',')).ToList();
        var plot = new ScottPlot.Plot();
        var labels = new[] { "round trip p50", "round trip p99", "handshake p50 / 10", "one phone alone p50 × 10 (3 nodes: on another node)" };
        for (var n = 0; n < data.Count; n++)
        {
            var d = data[n];
            double V(int i) => double.Parse(d[i], CultureInfo.InvariantCulture);
            var values = new[] { V(4), V(5), V(2) / 10, (d[10].Length > 0 ? V(10) : V(8)) * 10 };
            var bars = values.Select((v, i) => new ScottPlot.Bar { Position = i * 3 + n, Value = v, FillColor = n == 0 ? ScottPlot.Colors.SteelBlue : ScottPlot.Colors.DarkOrange }).ToList();
            plot.Add.Bars(bars).LegendText = $"{d[0]} node{(d[0] == "1" ? "" : "s")}";
        }
        plot.Axes.Bottom.SetTicks(labels.Select((_, i) => i * 3 + 0.5).ToArray(), labels);
        plot.Axes.Left.Label.Text = "ms";
        plot.Title($"{data[0][1]} phones at 1 000 frames/s: one relay node against a three-node cluster");
        plot.ShowLegend();
        plot.SavePng(Path.Combine(folder, "relay-cluster.png"), 900, 500);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<string> RunAsync(int nodes, int phones, int rate, int seconds, int single)
    {
        var root = Directory.CreateTempSubdirectory("paseo-relay-cluster-bench-").FullName;
        var relays = new List<ChildProcess>();
        try
        {
            var limits = $"paseo.relay-server.max-clients-per-server = {phones + 10}\npaseo.relay-server.max-connections = {4 * phones + 100}\n" +
                         $"paseo.front-door.max-concurrent-connections = {4 * phones + 100}\npaseo.sessions.max-sessions = {phones + 10}\n";
            Directory.CreateDirectory(Path.Combine(root, "relay"));
            Directory.CreateDirectory(Path.Combine(root, "home"));
            await File.WriteAllTextAsync(Path.Combine(root, "relay", "paseo.hocon"), limits);
            await File.WriteAllTextAsync(Path.Combine(root, "home", "paseo.hocon"), limits);
            var listens = new List<string>();
            if (nodes == 1)
            {
                var relay = Start(["relay", "start", "--listen", "127.0.0.1:0", "--home", Path.Combine(root, "relay")]);
                relays.Add(relay);
                listens.Add(await relay.LineAsync("Relay listening on "));
            }
            else
            {
                var clusterPorts = Enumerable.Range(0, nodes).Select(_ => FreePort()).ToList();
                var seeds = clusterPorts.SelectMany(p => new[] { "--seed", $"127.0.0.1:{p}" }).ToArray();
                for (var i = 0; i < nodes; i++)
                {
                    var relay = Start(["relay", "start", "--listen", "127.0.0.1:0", "--home", Path.Combine(root, "relay"), "--pid-file", Path.Combine(root, $"relay-{i}.pid"),
                        "--cluster", "--cluster-listen", $"127.0.0.1:{clusterPorts[i]}", .. seeds]);
                    relays.Add(relay);
                    listens.Add(await relay.LineAsync("Relay listening on "));
                }
                using var http = new HttpClient();
                foreach (var listen in listens)
                    for (var attempt = 0; ; attempt++)
                    {
                        // 503 until this node is Up; then the members it sees.
                        var response = await http.GetAsync($"http://{listen}/health");
                        var health = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                        if (response.IsSuccessStatusCode && health["members"]!.AsArray().Count(m => m!["status"]!.GetValue<string>() == "Up") == nodes) break;
                        if (attempt > 300) throw new TimeoutException("the cluster did not form");
                        await Task.Delay(100);
                    }
            }
            using var daemon = Start(["daemon", "start", "--foreground", "--port", "0", "--relay", listens[0], "--home", Path.Combine(root, "home")]);
            var home = Path.Combine(root, "home");
            await WaitForFileAsync(Path.Combine(home, "paseo.pid"));
            await WaitForFileAsync(Path.Combine(home, "daemon-keypair.json"));
            await WaitForFileAsync(Path.Combine(home, "server-id"));
            var daemonKey = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(home, "daemon-keypair.json")))!["publicKeyB64"]!.GetValue<string>();
            var serverId = (await File.ReadAllTextAsync(Path.Combine(home, "server-id"))).Trim();

            async Task<E2eeClientChannel> PairAsync(string listen, int i)
            {
                var socket = new ClientWebSocket();
                await socket.ConnectAsync(new Uri($"ws://{listen}/ws?serverId={serverId}&role=client&v=2"), CancellationToken.None);
                var channel = E2eeClientChannel.Start(new WebSocketFrameTransport(socket, 1 << 20, 64, 1024), daemonKey, new E2eeClientOptions { MaxHelloAttempts = 60 });
                await channel.SendTextAsync($"{{\"type\":\"hello\",\"clientId\":\"cid_bench_{i}\",\"clientType\":\"mobile\",\"protocolVersion\":1}}");
                await WaitForAsync(channel, "server_info", TimeSpan.FromSeconds(60));
                return channel;
            }

            // The cost of the node boundary first, on an otherwise idle relay: pings one at a time.
            var (sameP50, sameP99) = await SinglePhoneAsync(await PairAsync(listens[0], 100_000), single);
            var (otherP50, otherP99) = nodes > 1 ? await SinglePhoneAsync(await PairAsync(listens[1], 100_001), single) : (double.NaN, double.NaN);

            var handshakes = new List<double>();
            var channels = new List<E2eeClientChannel>();
            for (var i = 0; i < phones; i++)
            {
                var watch = Stopwatch.StartNew();
                channels.Add(await PairAsync(listens[i % nodes], i));
                handshakes.Add(watch.Elapsed.TotalMilliseconds);
            }
            var (rtts, fps) = await PingLoadAsync(channels, rate, seconds);
            var rss = relays.Select(r => r.RssMiB()).ToList();
            Console.WriteLine($"{nodes} node{(nodes == 1 ? "" : "s")}, N={phones}: handshake p50 {P(handshakes, 0.5):0.0} ms p99 {P(handshakes, 0.99):0.0} ms; rtt p50 {P(rtts, 0.5):0.00} ms p99 {P(rtts, 0.99):0.00} ms; {fps:0} frames/s; " +
                              $"RSS per node {string.Join(" / ", rss)} MiB, daemon {daemon.RssMiB()} MiB; single phone on the daemon's node p50 {sameP50:0.000} ms p99 {sameP99:0.000} ms" +
                              (nodes > 1 ? $", on another node p50 {otherP50:0.000} ms p99 {otherP99:0.000} ms" : ""));
            foreach (var channel in channels) channel.Close();
            string F(double v) => double.IsNaN(v) ? "" : v.ToString("0.000", CultureInfo.InvariantCulture);
            return $"{nodes},{phones},{P(handshakes, 0.5):0.0},{P(handshakes, 0.99):0.0},{P(rtts, 0.5):0.00},{P(rtts, 0.99):0.00},{fps:0},{string.Join('/', rss)},{F(sameP50)},{F(sameP99)},{F(otherP50)},{F(otherP99)}";
        }
        finally
        {
            foreach (var relay in relays) relay.Dispose();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Round trips of one phone, one ping at a time (after 200 to warm up): the latency of the path alone.</summary>
    private static async Task<(double P50, double P99)> SinglePhoneAsync(E2eeClientChannel channel, int count)
    {
        var padding = new string('x', 1000);
        var rtts = new List<double>();
        for (var k = 0; k < count + 200; k++)
        {
            var id = $"s{k}";
            var start = Stopwatch.GetTimestamp();
            await channel.SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"{id}\",\"pad\":\"{padding}\"}}}}");
            await WaitForPongAsync(channel, id);
            if (k >= 200) rtts.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        channel.Close();
        return (P(rtts, 0.5), P(rtts, 0.99));
    }

    private static async Task WaitForPongAsync(E2eeClientChannel channel, string id)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var message = await channel.Messages.ReadAsync(cts.Token);
            if (JsonNode.Parse(message.Text)?["message"]?["payload"]?["requestId"]?.GetValue<string>() == id) return;
        }
    }
}
