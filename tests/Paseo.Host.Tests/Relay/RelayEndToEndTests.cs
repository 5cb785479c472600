using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.Hosting;
using Paseo.Actors.Relay;
using Paseo.Host.Hosting;
using Paseo.Host.RelayServer;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Relay;

/// <summary>
/// A real relay and a real daemon on loopback, and phones that pair from the daemon's identity: the tunnel opens a data
/// socket per phone, each phone makes its own E2EE handshake and reaches a real client session.
/// </summary>
public sealed class RelayEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private RelayServerHost _relay = null!;
    private InProcessDaemon _daemon = null!;
    private readonly System.Collections.Concurrent.ConcurrentQueue<WireFrame> _forwarded = new();

    public async Task InitializeAsync()
    {
        _relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger(),
            tap: _forwarded.Enqueue);
        await _relay.StartAsync();
        _daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?>
        {
            ["PASEO_RELAY_ENABLED"] = "true",
            ["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{_relay.Listen.Port}",
        });
        await Eventually.HoldsAsync(async () => (await TunnelAsync()).ControlReady, "the daemon's control socket to be ready");
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        await _relay.DisposeAsync();
    }

    private Task<RelayTunnelProtocol.TunnelState> TunnelAsync() => _daemon.RelayTunnelAsync();

    /// <summary>A phone: a client socket on the relay, the E2EE channel with the daemon's public key, and hello.</summary>
    private async Task<(E2eeClientChannel Channel, JsonObject ServerInfo)> PhoneAsync(string clientId)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Listen.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        var transport = new WebSocketFrameTransport(socket, 16 * 1024 * 1024, 64, 256);
        var channel = E2eeClientChannel.Start(transport, Convert.ToBase64String(_daemon.Server.Identity.KeyPair.PublicKey));
        await channel.SendTextAsync($"{{\"type\":\"hello\",\"clientId\":\"{clientId}\",\"clientType\":\"mobile\",\"protocolVersion\":1}}");
        await channel.Opened.WaitAsync(Wait);
        var info = await channel.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        return (channel, ProtocolClient.Payload(info, "status")!);
    }

    [Fact]
    public async Task A_phone_reaches_the_daemon_through_the_relay_and_drives_an_agent()
    {
        var (phone, info) = await PhoneAsync("cid_phone_1");
        Assert.Equal(_daemon.Server.Identity.ServerId.Value, info["serverId"]!.GetValue<string>());
        Assert.Single((await TunnelAsync()).DataConnections);

        var cwd = _daemon.TestHome.PathIn("relayed");
        Directory.CreateDirectory(cwd);
        await phone.SendTextAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "create_agent_request", ["requestId"] = "r1",
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd }, ["initialPrompt"] = "over the relay",
            },
        }.ToJsonString());
        // The reply and the stream travel different paths: either may come first.
        JsonObject? created = null;
        var completed = false;
        while (created is null || !completed)
        {
            var frame = await phone.NextAsync(_ => true);
            if (ProtocolClient.Payload(frame, "status")?["requestId"]?.GetValue<string>() == "r1") created = frame;
            if (ProtocolClient.Payload(frame, "agent_stream")?["event"]?["type"]?.GetValue<string>() == "turn_completed") completed = true;
        }
        Assert.Equal("agent_created", ProtocolClient.Payload(created, "status")!["status"]!.GetValue<string>());

        // The phone leaves: the relay tells the daemon, which drops the data socket.
        phone.Close();
        await Eventually.HoldsAsync(async () => (await TunnelAsync()).DataConnections.Count == 0, "the data socket to be closed");

        // Every frame the relay forwarded in both directions: the handshake JSON, else base64 ciphertext of nothing readable.
        Assert.NotEmpty(_forwarded);
        foreach (var frame in _forwarded)
        {
            var text = Assert.IsType<WireFrame.Text>(frame).Value;
            var kind = E2eeFrames.Classify(text);
            Assert.True(kind is InboundFrame.Hello or InboundFrame.Ready or InboundFrame.Ciphertext, text);
            if (kind is InboundFrame.Ciphertext)
            {
                Assert.NotNull(E2eeFrames.DecodeBase64Lenient(text));
                foreach (var secret in new[] { "over the relay", "create_agent_request", "server_info", "cid_phone_1", cwd })
                    Assert.DoesNotContain(secret, text);
            }
        }
    }

    [SkippableFact]
    public async Task A_phone_types_into_a_terminal_through_the_relay_with_frames_inside_encrypted_messages()
    {
        TerminalSupport.Require();
        var (phone, _) = await PhoneAsync("cid_terminal_phone");
        var cwd = _daemon.TestHome.PathIn("relay-shell");
        Directory.CreateDirectory(cwd);
        await phone.SendTextAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "create_terminal_request", ["requestId"] = "t1", ["cwd"] = cwd } }.ToJsonString());
        var created = await phone.NextAsync(f => ProtocolClient.Payload(f, "create_terminal_response") is not null);
        var id = ProtocolClient.Payload(created, "create_terminal_response")!["terminal"]!["id"]!.GetValue<string>();
        await phone.SendTextAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "subscribe_terminal_request", ["requestId"] = "t2", ["terminalId"] = id } }.ToJsonString());
        var subscribed = ProtocolClient.Payload(await phone.NextAsync(f => ProtocolClient.Payload(f, "subscribe_terminal_response") is not null), "subscribe_terminal_response")!;
        var slot = (byte)subscribed["slot"]!.GetValue<int>();

        // The Snapshot comes after the reply, as the plaintext of one encrypted message.
        var snapshot = await phone.NextBinaryAsync();
        Assert.Equal((Paseo.Transport.Protocol.BinaryFrames.Snapshot, slot), (snapshot[0], snapshot[1]));
        Assert.Equal(80, JsonNode.Parse(snapshot.AsSpan(2))!["cols"]!.GetValue<int>());

        await phone.SendAsync(E2eeMessage.FromBytes(Paseo.Transport.Protocol.BinaryFrames.Terminal(Paseo.Transport.Protocol.BinaryFrames.Resize, slot, "{\"rows\":30,\"cols\":100}"u8)));
        await phone.SendAsync(E2eeMessage.FromBytes(Paseo.Transport.Protocol.BinaryFrames.Terminal(Paseo.Transport.Protocol.BinaryFrames.Input, slot, "echo $((6*7)); stty size\r"u8)));
        var output = await TerminalSupport.OutputUntilAsync(phone.NextBinaryAsync, slot, "30 100");
        Assert.Contains("42\r\n", output);
        // A large output arrives whole and in order through the relay.
        var file = _daemon.TestHome.PathIn("lines.txt");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, 40_000).Select(i => $"line {i:D6}"));
        await phone.SendAsync(E2eeMessage.FromBytes(Paseo.Transport.Protocol.BinaryFrames.Terminal(Paseo.Transport.Protocol.BinaryFrames.Input, slot, System.Text.Encoding.UTF8.GetBytes($"stty -echo; cat {file}; echo __$((1+1))done__\r"))));
        // The marker is computed by the shell, so the echo of the typed line cannot match it.
        var all = await TerminalSupport.OutputUntilAsync(phone.NextBinaryAsync, slot, "__2done__\r\n");
        // Each line where it is (the prompt may share a frame with the first one).
        var lines = System.Text.RegularExpressions.Regex.Matches(all, @"line (\d{6})\r\n").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(Enumerable.Range(0, 40_000), lines);
        // What the relay forwarded was ciphertext only: no keystroke or output in the clear.
        Assert.DoesNotContain(_forwarded, f => f is WireFrame.Text t && t.Value.Contains("stty size"));
    }

    [Fact]
    public async Task Several_phones_each_get_their_own_handshake_and_only_their_own_replies()
    {
        var phones = new List<E2eeClientChannel>();
        for (var i = 0; i < 5; i++) phones.Add((await PhoneAsync($"cid_many_{i}")).Channel);
        Assert.Equal(5, (await TunnelAsync()).DataConnections.Count);
        Assert.Equal(5, phones.Select(p => Convert.ToBase64String(p.PublicKey)).Distinct().Count());

        for (var i = 0; i < phones.Count; i++)
            await phones[i].SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"p{i}\"}}}}");
        for (var i = 0; i < phones.Count; i++)
        {
            var pong = await phones[i].NextAsync(f => ProtocolClient.Payload(f, "pong") is not null);
            Assert.Equal($"p{i}", ProtocolClient.Payload(pong, "pong")!["requestId"]!.GetValue<string>());
        }
        foreach (var phone in phones) phone.Close();
    }

    [Fact]
    public async Task After_a_relay_restart_the_daemon_reconnects_and_phones_pair_again()
    {
        var (phone, _) = await PhoneAsync("cid_before");
        var port = _relay.Listen.Port;
        await _relay.DisposeAsync();
        // The phone's socket ends with the relay; the daemon's tunnel notices and retries with backoff.
        await phone.Closed.WaitAsync(Wait);
        await Eventually.HoldsAsync(async () => !(await TunnelAsync()).ControlReady, "the tunnel to notice");

        _relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse($"127.0.0.1:{port}"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
        await _relay.StartAsync();
        await Eventually.HoldsAsync(async () => (await TunnelAsync()).ControlReady, "the control socket to reconnect", TimeSpan.FromSeconds(30));

        var (again, info) = await PhoneAsync("cid_before");
        Assert.Equal(_daemon.Server.Identity.ServerId.Value, info["serverId"]!.GetValue<string>());
        again.Close();
    }

    [Fact]
    public async Task A_second_socket_on_a_phones_connection_sees_only_ciphertext_and_cannot_send_a_command()
    {
        var (phone, _) = await PhoneAsync("cid_victim");
        var connectionId = Assert.Single((await TunnelAsync()).DataConnections);

        // The attacker knows the serverId and the connectionId (the relay operator sees both) and joins the connection.
        using var attacker = new ClientWebSocket();
        await attacker.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Listen.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2&connectionId={connectionId}"), CancellationToken.None);
        await using var eavesdrop = new WebSocketFrameTransport(attacker, 16 * 1024 * 1024, 64, 64);
        var rooms = _relay.App.Services.GetRequiredService<IRequiredActor<RelayRoomsKey>>().ActorRef;
        var room = new Paseo.Actors.RelayServer.RelayRoomId(_daemon.Server.Identity.ServerId.Value, 2);
        await Eventually.HoldsAsync(async () => (await rooms.Ask<Paseo.Actors.RelayServer.RelayRoomProtocol.RoomState>(
            new Paseo.Actors.RelayServer.RelayRoomProtocol.InspectRoom(room), TimeSpan.FromSeconds(5))).ClientSockets.GetValueOrDefault(connectionId) == 2, "the attacker to join");

        // What the daemon sends to the phone, the attacker receives too: base64 ciphertext, never JSON.
        await phone.SendTextAsync("{\"type\":\"session\",\"message\":{\"type\":\"fetch_agents_request\",\"requestId\":\"secret\"}}");
        await phone.NextAsync(f => ProtocolClient.Payload(f, "fetch_agents_response") is not null);
        var seen = (WireFrame.Text)await eavesdrop.Inbound.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.IsType<InboundFrame.Ciphertext>(E2eeFrames.Classify(seen.Value));
        Assert.DoesNotContain("fetch_agents_response", seen.Value);
        Assert.NotNull(E2eeFrames.DecodeBase64Lenient(seen.Value));

        // A plaintext command from the attacker is refused by the daemon's FSM: the connection ends, nothing runs.
        var cwd = _daemon.TestHome.PathIn("attack");
        Directory.CreateDirectory(cwd);
        await eavesdrop.Outbound.WriteAsync(new WireFrame.Text(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject { ["type"] = "create_agent_request", ["requestId"] = "evil", ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd } },
        }.ToJsonString()));
        Assert.Equal(1012, (await phone.Closed.WaitAsync(Wait)).Code);
        await Eventually.HoldsAsync(async () => (await TunnelAsync()).DataConnections.Count == 0, "the data socket to be closed");

        var (checker, _) = await PhoneAsync("cid_checker");
        await checker.SendTextAsync("{\"type\":\"session\",\"message\":{\"type\":\"fetch_agents_request\",\"requestId\":\"count\"}}");
        var list = await checker.NextAsync(f => ProtocolClient.Payload(f, "fetch_agents_response") is not null);
        Assert.Empty(ProtocolClient.Payload(list, "fetch_agents_response")!["entries"]!.AsArray());
        checker.Close();
    }

    [Fact]
    public async Task A_phone_written_with_tweetnacl_and_ws_pairs_from_the_link_and_reaches_the_daemon()
    {
        var env = PaseoBinary.CleanEnvironment(_daemon.TestHome);
        env["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{_relay.Listen.Port}";
        var pair = await PaseoBinary.RunAsync(env, "daemon", "pair", "--json");
        Assert.True(pair.ExitCode == 0, pair.StdErr);
        var url = JsonNode.Parse(pair.StdOut)!["url"]!.GetValue<string>();

        Assert.True(File.Exists(Path.Combine(TestRepository.Root, "tests", "interop", "node_modules", "ws", "package.json")), "run ./build.sh test (npm ci in tests/interop)");
        var (exitCode, stdout, stderr) = await RunNodePhoneAsync(url);

        Assert.True(exitCode == 0, stderr);
        var info = JsonNode.Parse(stdout)!;
        Assert.Equal("server_info", info["status"]!.GetValue<string>());
        Assert.Equal(_daemon.Server.Identity.ServerId.Value, info["serverId"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_daemon_with_an_embedded_relay_is_reachable_by_a_phone_through_it_and_pair_names_that_relay_by_itself()
    {
        using var home = new TestHome();
        var env = PaseoBinary.CleanEnvironment(home);
        await using var daemon = new ForegroundDaemon(env, "--port", "0", "--embedded-relay", "127.0.0.1:0");
        string? relayListen = null;
        await Eventually.HoldsAsync(() =>
        {
            var line = daemon.StdErr.Split('\n').FirstOrDefault(l => l.Contains("embedded relay listening on "));
            relayListen = line?.Split("embedded relay listening on ")[1].Trim();
            return relayListen is not null;
        }, "the embedded relay to listen");
        await RunningDaemon.WaitHealthyAsync(home.Home);

        // No relay in the config: `paseo daemon pair` learns the embedded one from the running daemon (its pid file), and
        // says that a loopback address is no use to a phone.
        var pair = await PaseoBinary.RunAsync(env, "daemon", "pair", "--json");
        Assert.True(pair.ExitCode == 0, pair.StdErr);
        var paired = JsonNode.Parse(pair.StdOut)!;
        Assert.True(paired["relayEnabled"]!.GetValue<bool>());
        Assert.Equal($"http://{relayListen}/", paired["webUrl"]!.GetValue<string>().Split('#')[0]);
        var text = await PaseoBinary.RunAsync(env, "daemon", "pair");
        Assert.Contains($"the relay's address {relayListen} is this machine's loopback", text.StdErr);
        Assert.DoesNotContain("disabled", text.StdErr);
        var (exitCode, stdout, stderr) = await RunNodePhoneAsync(paired["url"]!.GetValue<string>());
        Assert.True(exitCode == 0, stderr);
        Assert.Equal("server_info", JsonNode.Parse(stdout)!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Twenty_phones_attaching_at_once_each_complete_their_own_handshake()
    {
        var phones = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => PhoneAsync($"cid_crowd_{i}")));
        Assert.Equal(20, (await TunnelAsync()).DataConnections.Count);
        Assert.Equal(20, phones.Select(p => Convert.ToBase64String(p.Channel.PublicKey)).Distinct().Count());
        await Task.WhenAll(phones.Select((p, i) => p.Channel.SendTextAsync($"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"c{i}\"}}}}").AsTask()));
        for (var i = 0; i < phones.Length; i++)
        {
            var pong = await phones[i].Channel.NextAsync(f => ProtocolClient.Payload(f, "pong") is not null);
            Assert.Equal($"c{i}", ProtocolClient.Payload(pong, "pong")!["requestId"]!.GetValue<string>());
        }
        foreach (var phone in phones) phone.Channel.Close();
    }

    [Fact]
    public async Task The_daemon_stopping_closes_its_phones_1012()
    {
        var (phone, _) = await PhoneAsync("cid_left_behind");
        await _daemon.Server.StopAsync();
        Assert.Equal(1012, (await phone.Closed.WaitAsync(Wait)).Code);
    }

    public static TheoryData<string> RelayedAttacks => new() { "low-order-key", "replayed-frame", "tampered-frame" };

    [Theory]
    [MemberData(nameof(RelayedAttacks))]
    public async Task Attacks_through_the_relay_end_the_connection_and_run_nothing(string attack)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Listen.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        await using var raw = new WebSocketFrameTransport(socket, 1 << 20, 64, 64);
        var cwd = _daemon.TestHome.PathIn("attacked");
        Directory.CreateDirectory(cwd);
        var command = new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject { ["type"] = "create_agent_request", ["requestId"] = "evil", ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd } },
        }.ToJsonString();
        var hello = "{\"type\":\"hello\",\"clientId\":\"cid_attacker\",\"clientType\":\"mobile\",\"protocolVersion\":1}";

        if (attack == "low-order-key")
        {
            // The all-zero key: tweetnacl would derive a constant, public key; anyone could then encrypt commands.
            await raw.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.HelloFrame(new byte[32])));
            var constant = Convert.FromHexString("351f86faa3b988468a850122b65b0acece9c4826806aeee63de9c0da2bd7f91e");
            await raw.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt(System.Text.Encoding.UTF8.GetBytes(hello), constant).Frame));
            await raw.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt(System.Text.Encoding.UTF8.GetBytes(command), constant).Frame));
        }
        else
        {
            var keys = BoxKeyPair.Generate();
            var shared = NaclBox.SharedKey(_daemon.Server.Identity.KeyPair.PublicKey, keys.SecretKey);
            await raw.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.HelloFrame(keys.PublicKey)));
            Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)await raw.Inbound.ReadAsync().AsTask().WaitAsync(Wait)).Value);
            var helloFrame = E2eeFrames.Encrypt(System.Text.Encoding.UTF8.GetBytes(hello), shared).Frame;
            await raw.Outbound.WriteAsync(new WireFrame.Text(helloFrame));
            var commandFrame = E2eeFrames.Encrypt(System.Text.Encoding.UTF8.GetBytes(command), shared).Frame;
            if (attack == "replayed-frame")
            {
                // The hello again (a relay replaying a frame it saw), then the command: the replay ends the connection first.
                await raw.Outbound.WriteAsync(new WireFrame.Text(helloFrame));
            }
            else
            {
                var bytes = Convert.FromBase64String(commandFrame);
                bytes[^1] ^= 0x01;
                commandFrame = Convert.ToBase64String(bytes);
            }
            await raw.Outbound.WriteAsync(new WireFrame.Text(commandFrame));
        }

        // The daemon closes its data socket (1011); the relay closes the attacker's socket with 1012.
        Assert.Equal(1012, (await raw.Closed.WaitAsync(Wait)).Code);
        var (checker, _) = await PhoneAsync("cid_after_attack");
        await checker.SendTextAsync("{\"type\":\"session\",\"message\":{\"type\":\"fetch_agents_request\",\"requestId\":\"n\"}}");
        var list = await checker.NextAsync(f => ProtocolClient.Payload(f, "fetch_agents_response") is not null);
        Assert.Empty(ProtocolClient.Payload(list, "fetch_agents_response")!["entries"]!.AsArray());
        checker.Close();
    }

    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunNodePhoneAsync(string url)
    {
        var script = Path.Combine(TestRepository.Root, "tests", "interop", "relay-phone.mjs");
        var psi = new System.Diagnostics.ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(url);
        using var node = System.Diagnostics.Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (node.ExitCode, await stdout, await stderr);
    }

}
