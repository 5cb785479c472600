using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.RelayServer;

/// <summary>
/// Issue #14: three `paseo relay start --cluster` processes on loopback form one relay; a real daemon reaches it through a
/// TCP load balancer (its control socket lands on node A, its data sockets spread over the nodes); phones pair on any node.
/// Node loss (SIGKILL), a rolling restart and cross-node fan-out and limits, each on a cluster of its own.
/// </summary>
[Collection(Paseo.Host.Tests.Sessions.MeasuredAloneCollection.Name)]
public sealed class RelayClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    // Faster failure handling than the shipped 3 s + 5 s, so a lost node's rooms move within a test's patience.
    private const string ClusterHocon = """
        paseo.relay-server {
          max-clients-per-server = 40
          cluster { stable-after = 2s, acceptable-heartbeat-pause = 2s, register-retry = 1s }
        }
        """;

    private readonly TestHome _relayHome = new(extraHocon: ClusterHocon);
    private readonly List<RelayClusterNode> _nodes = [];
    private readonly List<TcpBalancer> _balancers = [];
    private TcpBalancer _daemonBalancer = null!;
    // Where a phone that lost its connection pairs again: any node that accepts, as behind a real load balancer.
    private TcpBalancer _phoneBalancer = null!;
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync() => await StartClusterAsync(ClusterHocon);

    private async Task StartClusterAsync(string hocon)
    {
        File.WriteAllText(Path.Combine(_relayHome.Home.Root, "paseo.hocon"), hocon);
        var ports = RelayClusterNode.FreePorts(6);
        var seeds = new[] { ports[3], ports[4], ports[5] };
        var env = PaseoBinary.CleanEnvironment(_relayHome);
        // The first node first: it starts the cluster, the others join it.
        _nodes.Add(await RelayClusterNode.StartAsync("A", ports[0], ports[3], seeds, env));
        _nodes.AddRange(await Task.WhenAll(
            RelayClusterNode.StartAsync("B", ports[1], ports[4], seeds, env),
            RelayClusterNode.StartAsync("C", ports[2], ports[5], seeds, env)));
        foreach (var node in _nodes) await Eventually.HoldsAsync(async () => await node.UpMembersAsync() == 3, $"node {node.Name} to see three members up", Wait);
        // Everything the nodes send to the daemon passes here (recorded) and to each node's phones through their own balancer.
        _daemonBalancer = new TcpBalancer([.. _nodes.Select(n => n.Port)], record: true, healthChecked: true);
        _balancers.Add(_daemonBalancer);
        _phoneBalancer = new TcpBalancer([.. _nodes.Select(n => n.Port)], record: true, healthChecked: true);
        _balancers.Add(_phoneBalancer);
        _daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?>
        {
            ["PASEO_RELAY_ENABLED"] = "true",
            ["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{_daemonBalancer.Port}",
        },
        // The limits test holds raw client sockets that never say hello: their data sockets must outlive it.
        extraHocon: "paseo.e2ee.hello-timeout = 120s");
        await _daemon.WaitForRelayControlAsync();
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        foreach (var balancer in _balancers) await balancer.DisposeAsync();
        foreach (var node in _nodes) await node.DisposeAsync();
        _relayHome.Dispose();
    }

    private RelayClusterNode Node(string name) => _nodes.Single(n => n.Name == name);

    private async Task<RelayClusterNode> RoomNodeAsync()
    {
        RelayClusterNode? holder = null;
        await Eventually.HoldsAsync(async () =>
        {
            foreach (var node in _nodes.Where(n => !n.HasExited))
                if (await node.RoomsAsync() == 1) holder = node;
            return holder is not null;
        }, "a node to hold the daemon's room", Wait);
        return holder!;
    }

    // ---- phones -------------------------------------------------------------------------------------------------

    /// <param name="Node">The node it was sent to; null when it went through the balancer over all nodes.</param>
    private sealed record Phone(int Index, RelayClusterNode? Node, E2eeClientChannel Channel, TcpBalancer Via);

    /// <summary>A phone on <paramref name="node"/> (through a recording balancer of its own): its socket, its E2EE handshake, hello.</summary>
    private async Task<Phone> PairAsync(int index, RelayClusterNode? node)
    {
        var via = _phoneBalancer;
        if (node is not null)
        {
            via = new TcpBalancer([node.Port], record: true);
            _balancers.Add(via);
        }
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{via.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        var channel = E2eeClientChannel.Start(new WebSocketFrameTransport(socket, 16 * 1024 * 1024, 64, 256), Convert.ToBase64String(_daemon.Server.Identity.KeyPair.PublicKey));
        await channel.SendTextAsync($"{{\"type\":\"hello\",\"clientId\":\"cid_phone_{index}\",\"clientType\":\"mobile\",\"protocolVersion\":1}}");
        await channel.Opened.WaitAsync(Wait);
        await channel.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        return new Phone(index, node, channel, via);
    }

    private static readonly Regex RequestIds = new("\"requestId\":\"([^\"]+)\"");

    /// <summary>An agent turn: create_agent_request with a prompt of the phone's own, until its agent_created and turn_completed. Returns the prompt.</summary>
    private async Task<string> TurnAsync(Phone phone, string round)
    {
        var prefix = $"p{phone.Index}-{round}";
        var prompt = $"secret prompt {prefix} {Guid.NewGuid():N}";
        var cwd = _daemon.TestHome.PathIn($"cwd-{phone.Index}");
        Directory.CreateDirectory(cwd);
        await phone.Channel.SendTextAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "create_agent_request", ["requestId"] = $"{prefix}-create",
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd }, ["initialPrompt"] = prompt,
            },
        }.ToJsonString());
        string? agentId = null;
        var completed = false;
        while (agentId is null || !completed)
        {
            var message = await phone.Channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
            var text = message.Text;
            // Every reply this phone gets answers one of its own requests.
            foreach (Match m in RequestIds.Matches(text)) Assert.StartsWith($"p{phone.Index}-", m.Groups[1].Value);
            if (message.Bytes.Length == 0 || message.Bytes.Span[0] != (byte)'{') continue;
            var frame = JsonNode.Parse(text)!.AsObject();
            if (ProtocolClient.Payload(frame, "status") is { } status && status["requestId"]?.GetValue<string>() == $"{prefix}-create")
            {
                Assert.Equal("agent_created", status["status"]!.GetValue<string>());
                agentId = status["agentId"]?.GetValue<string>() ?? status["agent"]?["id"]?.GetValue<string>() ?? "created";
            }
            if (ProtocolClient.Payload(frame, "agent_stream")?["event"]?["type"]?.GetValue<string>() == "turn_completed") completed = true;
        }
        return prompt;
    }

    private static async Task PingAsync(E2eeClientChannel channel, string requestId)
    {
        await channel.SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"{requestId}\"}}}}");
        await channel.NextAsync(f => ProtocolClient.Payload(f, "pong")?["requestId"]?.GetValue<string>() == requestId);
    }

    /// <summary>What the relay nodes sent to the daemon and to every phone: none of it may hold a prompt or a request in the clear.</summary>
    private void AssertOnlyCiphertextLeftTheRelay(IEnumerable<string> secrets)
    {
        var seen = _balancers.Select(b => Encoding.UTF8.GetString(b.Recorded)).ToList();
        Assert.Contains(seen, s => s.Contains("\"type\":\"e2ee_ready\"") || s.Length > 1000);
        foreach (var text in seen)
            foreach (var secret in secrets.Append("create_agent_request").Append("agent_created").Append("turn_completed"))
                Assert.DoesNotContain(secret, text);
    }

    // ---- tests --------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Thirty_phones_spread_over_three_nodes_each_run_a_turn_and_get_only_their_own_replies()
    {
        // The daemon's control socket went to A (the balancer's first pick), and its room sits beside it.
        Assert.Equal("A", (await RoomNodeAsync()).Name);
        var phones = new List<Phone>();
        for (var i = 0; i < 30; i++) phones.Add(await PairAsync(i, _nodes[i % 3]));
        Assert.Equal(30, (await _daemon.RelayTunnelAsync()).DataConnections.Count);
        // The daemon's data sockets came through the balancer, round robin: every node serves some.
        var dataSocketsPerNode = _daemonBalancer.Routed.Where(r => r.RequestLine.Contains("connectionId=")).GroupBy(r => r.Backend).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(_nodes, n => Assert.True(dataSocketsPerNode.GetValueOrDefault(n.Port) > 0, $"no data socket on {n.Name}"));

        var prompts = await Task.WhenAll(phones.Select(p => TurnAsync(p, "first")));
        AssertOnlyCiphertextLeftTheRelay(prompts.Concat(phones.Select(p => _daemon.TestHome.PathIn($"cwd-{p.Index}"))));
        foreach (var phone in phones) phone.Channel.Close();
    }

    [Fact]
    public async Task Killing_the_node_that_holds_the_room_moves_the_room_and_every_phone_runs_a_new_turn()
    {
        var phones = new List<Phone>();
        for (var i = 0; i < 9; i++) phones.Add(await PairAsync(i, _nodes[i % 3]));
        await Task.WhenAll(phones.Select(p => TurnAsync(p, "before")));
        var holder = await RoomNodeAsync();
        Assert.Equal("A", holder.Name);

        var clock = Stopwatch.StartNew();
        await holder.KillAsync();

        // Each phone runs a new turn on its connection; a phone whose connection ends (its own socket was on the lost
        // node, or its daemon data socket was: 1012) pairs again through the balancer and runs it there. The others keep
        // their connection: their frames never passed through the room, which moves meanwhile.
        var closedBy = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var recovered = new double[phones.Count];
        await Task.WhenAll(phones.Select(async phone =>
        {
            var current = phone;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await TurnAsync(current, $"after{attempt}");
                    recovered[phone.Index] = clock.Elapsed.TotalSeconds;
                    return;
                }
                catch (Exception e) when (e is System.Threading.Channels.ChannelClosedException or TimeoutException or E2eeChannelException && attempt < 5)
                {
                    if (current == phone && phone.Node != holder && phone.Channel.Closed.IsCompleted) closedBy[phone.Index] = phone.Channel.Closed.Result.Code;
                    current.Channel.Close();
                    current = await RetryPairAsync(phone.Index);
                }
            }
        }));
        var roomMoved = await RoomNodeAsync();
        output.WriteLine($"node {holder.Name} killed; room now on {roomMoved.Name}; each phone's new turn done after (s): {string.Join(", ", recovered.Select(r => r.ToString("F1")))}; " +
                         $"all within {recovered.Max():F1} s");
        output.WriteLine($"phones on surviving nodes that were closed (index → code): {string.Join(", ", closedBy.Select(c => $"{c.Key}→{c.Value}"))}");

        Assert.NotEqual(holder, roomMoved);
        // Only phones that lost their data socket were closed, with 1012 as on one node; the rest kept their connection.
        Assert.All(closedBy.Values, code => Assert.Equal(1012, code));
        var dataOnLost = _daemonBalancer.Routed.Count(r => r.Backend == holder.Port && r.RequestLine.Contains("connectionId="));
        Assert.True(closedBy.Count <= dataOnLost, $"{closedBy.Count} phones on surviving nodes closed, but only {dataOnLost} data sockets were on the lost node");
        Assert.True(recovered.Max() < 45, $"recovery took {recovered.Max()} s");
    }

    /// <summary>
    /// Pairs again through the balancer until the cluster serves the room: while a lost node is being downed a new socket
    /// waits for its room, and the phone's handshake may give up first (15 hellos).
    /// </summary>
    private async Task<Phone> RetryPairAsync(int index)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await PairAsync(index, null);
            }
            catch (Exception e) when (deadline.Elapsed < TimeSpan.FromSeconds(40) && e is TimeoutException or E2eeChannelException or WebSocketException or OperationCanceledException)
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} phone {index}: pairing failed ({e.GetType().Name}: {e.Message}); again");
            }
        }
    }

    [Fact]
    public async Task Two_phones_on_two_nodes_share_a_connection_and_both_get_the_daemons_frames_and_limits_hold_across_nodes()
    {
        var phone = await PairAsync(0, Node("A"));
        var connectionId = Assert.Single((await _daemon.RelayTunnelAsync()).DataConnections);

        // A second socket on another node joins the same connection: the daemon's frames reach both.
        using var second = new ClientWebSocket();
        await second.ConnectAsync(new Uri($"ws://127.0.0.1:{Node("B").Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2&connectionId={connectionId}"), CancellationToken.None);
        await using var beside = new WebSocketFrameTransport(second, 16 * 1024 * 1024, 64, 64);
        // Once it is linked, the next reply the phone gets reaches it as well (ciphertext it cannot read).
        WireFrame? copy = null;
        await Eventually.HoldsAsync(async () =>
        {
            await PingAsync(phone.Channel, $"p0-{Guid.NewGuid():N}");
            return beside.Inbound.TryRead(out copy);
        }, "the second socket to receive the daemon's frames", Wait);
        Assert.IsType<InboundFrame.Ciphertext>(E2eeFrames.Classify(Assert.IsType<WireFrame.Text>(copy).Value));

        // max-clients-per-server = 40 holds for the room, wherever its client sockets are.
        var sockets = new List<ClientWebSocket>();
        for (var i = 0; i < 38; i++)
        {
            var extra = new ClientWebSocket();
            await extra.ConnectAsync(new Uri($"ws://127.0.0.1:{_nodes[i % 3].Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
            sockets.Add(extra);
        }
        // 40 client sockets now (the phone, the second one, 38 more), once the room has them all: each new connection is a
        // data socket of the daemon's (39: the second socket shares the phone's). The 41st, on C, is refused with 1013.
        await Eventually.HoldsAsync(async () => (await _daemon.RelayTunnelAsync()).DataConnections.Count == 39, "the room to take all 40 client sockets", Wait);
        using var refused = new ClientWebSocket();
        await refused.ConnectAsync(new Uri($"ws://127.0.0.1:{Node("C").Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        var buffer = new byte[256];
        var result = await refused.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Wait);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((WebSocketCloseStatus)1013, refused.CloseStatus);
        Assert.Equal("Too many clients", refused.CloseStatusDescription);
        // The others are unharmed: the phone still reaches its daemon.
        await PingAsync(phone.Channel, "p0-after-limit");
        foreach (var s in sockets) s.Dispose();
    }

    [Fact]
    public async Task A_frame_of_several_mebibytes_crosses_nodes_whole_both_ways_in_order()
    {
        // A room of its own: a daemon data socket on A, its phone on B (raw sockets; the relay never reads frames).
        var serverId = "srv_large_frames";
        using var data = new ClientWebSocket();
        await data.ConnectAsync(new Uri($"ws://127.0.0.1:{Node("A").Port}/ws?serverId={serverId}&role=server&v=2&connectionId=c1"), CancellationToken.None);
        await using var daemonSide = new WebSocketFrameTransport(data, 16 * 1024 * 1024, 64, 64);
        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{Node("B").Port}/ws?serverId={serverId}&role=client&v=2&connectionId=c1"), CancellationToken.None);
        await using var phoneSide = new WebSocketFrameTransport(client, 16 * 1024 * 1024, 64, 64);

        var random = new Random(14);
        var big = new byte[3 * 1024 * 1024 + 17];
        random.NextBytes(big);
        var small = "after the big one";
        await phoneSide.Outbound.WriteAsync(new WireFrame.Binary(big));
        await phoneSide.Outbound.WriteAsync(new WireFrame.Text(small));
        using var limit = new CancellationTokenSource(Wait);
        Assert.True(Assert.IsType<WireFrame.Binary>(await daemonSide.Inbound.ReadAsync(limit.Token)).Value.Span.SequenceEqual(big));
        Assert.Equal(small, Assert.IsType<WireFrame.Text>(await daemonSide.Inbound.ReadAsync(limit.Token)).Value);

        Array.Reverse(big);
        await daemonSide.Outbound.WriteAsync(new WireFrame.Binary(big));
        await daemonSide.Outbound.WriteAsync(new WireFrame.Text(small));
        Assert.True(Assert.IsType<WireFrame.Binary>(await phoneSide.Inbound.ReadAsync(limit.Token)).Value.Span.SequenceEqual(big));
        Assert.Equal(small, Assert.IsType<WireFrame.Text>(await phoneSide.Inbound.ReadAsync(limit.Token)).Value);
    }

    [Fact]
    public async Task A_rolling_restart_of_all_three_nodes_keeps_phones_reaching_the_daemon_with_frames_in_order_once()
    {
        var phones = new Phone?[6];
        for (var i = 0; i < phones.Length; i++) phones[i] = await PairAsync(i, _nodes[i % 3]);
        var longestGap = new TimeSpan[phones.Length];
        var reconnects = new int[phones.Length];
        var pongs = new int[phones.Length];
        using var stop = new CancellationTokenSource();

        // Each phone pings without pause; on a closed connection it pairs again on the next node (as a phone app does).
        var clock = Stopwatch.StartNew();
        var pingers = Enumerable.Range(0, phones.Length).Select(i => Task.Run(async () =>
        {
            var lastPong = Stopwatch.StartNew();
            var seq = 0;
            var phone = phones[i]!;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    // Four pings at once: their pongs must come back in the order sent, each once.
                    var ids = Enumerable.Range(0, 4).Select(_ => $"p{i}-{reconnects[i]}-{++seq}").ToList();
                    foreach (var id in ids)
                        await phone.Channel.SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"{id}\"}}}}");
                    foreach (var id in ids)
                    {
                        var pong = await phone.Channel.NextAsync(f => ProtocolClient.Payload(f, "pong") is not null);
                        Assert.Equal(id, ProtocolClient.Payload(pong, "pong")!["requestId"]!.GetValue<string>());
                    }
                    if (lastPong.Elapsed > longestGap[i]) longestGap[i] = lastPong.Elapsed;
                    Interlocked.Increment(ref pongs[i]);
                    lastPong.Restart();
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException && !stop.IsCancellationRequested)
                {
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: phone {i} lost its connection after {lastPong.Elapsed.TotalSeconds:F1} s without a pong " +
                                     $"({e.GetType().Name}: {e.Message}; closed {(phone.Channel.Closed.IsCompleted ? phone.Channel.Closed.Result.Code : 0)})");
                    phone.Channel.Close();
                    reconnects[i]++;
                    seq = 0;
                    phone = await RetryPairAsync(i);
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: phone {i} paired again");
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    break;
                }
            }
        })).ToList();

        foreach (var node in _nodes)
        {
            await node.StopAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {node.Name} stopped");
            await node.RestartAsync();
            foreach (var n in _nodes) await Eventually.HoldsAsync(async () => await n.UpMembersAsync() == 3, $"{n.Name} to see three members up again", TimeSpan.FromSeconds(40));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {node.Name} back, three members up");
        }
        // Every phone reaches the daemon after the last restart.
        var restarted = pongs.Select(p => Volatile.Read(ref p)).ToArray();
        await Task.WhenAll(Enumerable.Range(0, phones.Length).Select(i =>
            Eventually.HoldsAsync(() => Volatile.Read(ref pongs[i]) > restarted[i] + 3, $"phone {i} to get pongs after the last restart", Wait)));
        stop.Cancel();
        await Task.WhenAll(pingers);

        if (longestGap.Any(g => g > TimeSpan.FromSeconds(10)))
            foreach (var node in _nodes)
                foreach (var line in node.Log.Split('\n').Where(l => l.Contains("WRN") || l.Contains("ERR")))
                    output.WriteLine($"  {node.Name}| {line}");
        output.WriteLine($"rolling restart took {clock.Elapsed.TotalSeconds:F1} s; longest time without a pong per phone: {string.Join(", ", longestGap.Select(g => $"{g.TotalSeconds:F1} s"))}; reconnects: {string.Join(", ", reconnects)}");
        // Measured 1–2 s here (a phone on the stopping node, or whose daemon data socket was there, pairs again
        // elsewhere); the stated bound is 10 s.
        Assert.All(longestGap, gap => Assert.True(gap < TimeSpan.FromSeconds(10), $"a phone could not reach the daemon for {gap}"));
        await Eventually.HoldsAsync(async () => (await _daemon.RelayTunnelAsync()).ControlReady, "the daemon's control socket to be up", Wait);
    }
}
