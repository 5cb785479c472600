using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.RelayServer;
using Paseo.Host.Hosting;
using Paseo.Host.RelayServer;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.RelayServer;

/// <summary>The relay server of relay-e2ee.md §1 on a real Kestrel with raw WebSockets: HTTP surface, v2 rooms, limits, v1.</summary>
public sealed class RelayServerTests : IAsyncLifetime
{
    private RelayServerHost _relay = null!;

    private static readonly RelayLimits TestLimits = RelayLimits.Default with
    {
        BufferFrames = 200, BufferBytes = 64 * 1024, MaxFrameBytes = 256 * 1024, MaxClientsPerServer = 4,
    };

    public async Task InitializeAsync() => _relay = await StartRelayAsync(TestLimits);

    private static async Task<RelayServerHost> StartRelayAsync(RelayLimits limits, int? outboundQueue = null)
    {
        var settings = PaseoSettings.Load(null);
        settings = settings with { RelayServer = settings.RelayServer with { Limits = limits, OutboundQueue = outboundQueue ?? settings.RelayServer.OutboundQueue } };
        var relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, settings, new LoggerConfiguration().CreateLogger());
        await relay.StartAsync();
        return relay;
    }

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    private async Task<RelayRoomProtocol.RoomState> RoomAsync(string serverId, int version = 2) =>
        await _relay.App.Services.GetRequiredService<Akka.Hosting.IRequiredActor<RelayRoomsKey>>().ActorRef
            .Ask<RelayRoomProtocol.RoomState>(new RelayRoomProtocol.InspectRoom(new RelayRoomId(serverId, version)), TimeSpan.FromSeconds(5));

    /// <summary>Waits until the room is in the state the next step depends on (a socket joins asynchronously after its upgrade).</summary>
    private Task RoomHoldsAsync(string serverId, Func<RelayRoomProtocol.RoomState, bool> condition, string what, int version = 2) =>
        Eventually.HoldsAsync(async () => condition(await RoomAsync(serverId, version)), what);

    private Uri Http(string pathAndQuery) => new($"http://127.0.0.1:{_relay.Listen.Port}{pathAndQuery}");

    private async Task<RawSocket> ConnectAsync(string query)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Listen.Port}/ws?{query}"), CancellationToken.None);
        return new RawSocket(socket);
    }

    public static TheoryData<string, HttpStatusCode, string> HttpCases => new()
    {
        { "/health", HttpStatusCode.OK, "{\"status\":\"ok\"}" },
        { "/elsewhere", HttpStatusCode.NotFound, "Not found" },
        { "/ws/?serverId=srv_x&role=server&v=2", HttpStatusCode.NotFound, "Not found" },
        { "/WS?serverId=srv_x&role=server&v=2", HttpStatusCode.NotFound, "Not found" },
        { "/ws", HttpStatusCode.BadRequest, "Missing serverId parameter" },
        { "/ws?serverId=", HttpStatusCode.BadRequest, "Missing serverId parameter" },
        { "/ws?ServerId=srv_x&role=server", HttpStatusCode.BadRequest, "Missing serverId parameter" },
        { "/ws?serverId=srv_x&v=3&role=server", HttpStatusCode.BadRequest, "Invalid v parameter (expected 1 or 2)" },
        { "/ws?serverId=srv_x&v=2&role=Server", HttpStatusCode.BadRequest, "Missing or invalid role parameter" },
        { "/ws?serverId=srv_x&v=2", HttpStatusCode.BadRequest, "Missing or invalid role parameter" },
        { "/ws?serverId=srv_x&v=%202%20&role=server", HttpStatusCode.UpgradeRequired, "Expected WebSocket upgrade" },
        { "/ws?serverId=srv_x&v=&role=client&clientId=ignored", HttpStatusCode.UpgradeRequired, "Expected WebSocket upgrade" },
    };

    [Theory]
    [MemberData(nameof(HttpCases))]
    public async Task The_http_surface_answers_with_paseos_statuses_and_bodies(string path, HttpStatusCode status, string body)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(Http(path));
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(body, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_v2_room_routes_a_client_through_control_and_data_sockets()
    {
        await using var control = await ConnectAsync("serverId=srv_a&role=server&v=2");
        Assert.Equal("{\"type\":\"sync\",\"connectionIds\":[]}", await control.ReceiveTextAsync());

        await using var client = await ConnectAsync("serverId=srv_a&role=client&v=2");
        var connected = JsonNode.Parse((await control.ReceiveTextAsync())!)!;
        Assert.Equal("connected", connected["type"]!.GetValue<string>());
        var connectionId = connected["connectionId"]!.GetValue<string>();
        Assert.Matches("^conn_[0-9a-f]{16}$", connectionId);

        // Before the daemon's data socket exists, frames are buffered, in order and with their type.
        await client.SendTextAsync("first");
        await client.SendBinaryAsync([1, 2, 3]);
        await RoomHoldsAsync("srv_a", r => r.BufferedFrames.GetValueOrDefault(connectionId) == 2, "two buffered frames");
        await using var data = await ConnectAsync($"serverId=srv_a&role=server&v=2&connectionId={connectionId}");
        Assert.Equal("first", await data.ReceiveTextAsync());
        Assert.Equal(new byte[] { 1, 2, 3 }, await data.ReceiveBinaryAsync());
        Assert.Empty((await RoomAsync("srv_a")).BufferedFrames);

        await data.SendTextAsync("to the phone");
        Assert.Equal("to the phone", await client.ReceiveTextAsync());
        await client.SendTextAsync("live");
        Assert.Equal("live", await data.ReceiveTextAsync());

        await control.SendTextAsync("{\"type\":\"ping\",\"ts\":1}");
        var pong = JsonNode.Parse((await control.ReceiveTextAsync())!)!;
        Assert.Equal("pong", pong["type"]!.GetValue<string>());
        Assert.True(pong["ts"]!.GetValue<long>() > 1_700_000_000_000);

        // The last client leaves: the daemon hears it and its data socket is closed 1001.
        await client.CloseAsync();
        Assert.Equal($"{{\"type\":\"disconnected\",\"connectionId\":\"{connectionId}\"}}", await control.ReceiveTextAsync());
        Assert.Equal((1001, "Client disconnected"), await data.ExpectCloseAsync());
    }

    [Fact]
    public async Task The_daemon_leaving_closes_its_clients_1012_and_a_new_control_sees_them_in_sync()
    {
        await using var client = await ConnectAsync("serverId=srv_b&role=client&v=2&connectionId=conn_fixed");
        await using var second = await ConnectAsync("serverId=srv_b&role=client&v=2&connectionId=conn_fixed");
        await RoomHoldsAsync("srv_b", r => r.ClientSockets.GetValueOrDefault("conn_fixed") == 2, "both client sockets");
        await using var control = await ConnectAsync("serverId=srv_b&role=server&v=2");
        Assert.Equal("{\"type\":\"sync\",\"connectionIds\":[\"conn_fixed\"]}", await control.ReceiveTextAsync());
        await using var data = await ConnectAsync("serverId=srv_b&role=server&v=2&connectionId=conn_fixed");
        await RoomHoldsAsync("srv_b", r => r.DataSockets.ContainsKey("conn_fixed") && r.ClientSockets.GetValueOrDefault("conn_fixed") == 2, "the data socket and both clients");

        // Fan-out: both client sockets of the connection get the daemon's frames.
        await data.SendTextAsync("both");
        Assert.Equal("both", await client.ReceiveTextAsync());
        Assert.Equal("both", await second.ReceiveTextAsync());

        await data.CloseAsync();
        Assert.Equal((1012, "Server disconnected"), await client.ExpectCloseAsync());
        Assert.Equal((1012, "Server disconnected"), await second.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_new_control_or_data_socket_replaces_the_old_one_with_1008()
    {
        await using var first = await ConnectAsync("serverId=srv_c&role=server&v=2");
        await first.ReceiveTextAsync();
        await using var second = await ConnectAsync("serverId=srv_c&role=server&v=2");
        Assert.Equal((1008, "Replaced by new connection"), await first.ExpectCloseAsync());
        await second.ReceiveTextAsync();

        await using var client = await ConnectAsync("serverId=srv_c&role=client&v=2&connectionId=conn_r");
        await using var dataOne = await ConnectAsync("serverId=srv_c&role=server&v=2&connectionId=conn_r");
        // Both in the room before the replacement (a client that joins after it rightly stays, with the new data socket).
        await RoomHoldsAsync("srv_c", r => r.DataSockets.ContainsKey("conn_r") && r.ClientSockets.GetValueOrDefault("conn_r") == 1, "the client and the first data socket");
        var firstId = (await RoomAsync("srv_c")).DataSockets["conn_r"];
        await using var dataTwo = await ConnectAsync("serverId=srv_c&role=server&v=2&connectionId=conn_r");
        Assert.Equal((1008, "Replaced by new connection"), await dataOne.ExpectCloseAsync());
        // As Paseo's relay: the replaced data socket's close ends the connection's clients (their E2EE channel was with it).
        Assert.Equal((1012, "Server disconnected"), await client.ExpectCloseAsync());
        await RoomHoldsAsync("srv_c", r => r.DataSockets.GetValueOrDefault("conn_r") > firstId, "the second data socket");
        await using var again = await ConnectAsync("serverId=srv_c&role=client&v=2&connectionId=conn_r");
        await RoomHoldsAsync("srv_c", r => r.ClientSockets.GetValueOrDefault("conn_r") == 1, "the client again");
        await again.SendTextAsync("to the new one");
        Assert.Equal("to the new one", await dataTwo.ReceiveTextAsync());
    }

    [Fact]
    public async Task The_buffer_keeps_the_newest_frames_within_its_frame_and_byte_caps()
    {
        await using var client = await ConnectAsync("serverId=srv_d&role=client&v=2&connectionId=conn_buf");
        for (var i = 0; i < 250; i++) await client.SendTextAsync($"f{i}");
        await client.SendTextAsync("marker");
        // 251 frames sent; once the relay has taken them all, 200 remain and 51 (the oldest) were dropped.
        await RoomHoldsAsync("srv_d", r => r.DroppedFrames.GetValueOrDefault("conn_buf") == 51, "all 251 frames taken");
        await using var data = await ConnectAsync("serverId=srv_d&role=server&v=2&connectionId=conn_buf");
        // 251 frames, at most 200 kept: the oldest 51 are gone.
        Assert.Equal("f51", await data.ReceiveTextAsync());
        for (var i = 52; i < 250; i++) Assert.Equal($"f{i}", await data.ReceiveTextAsync());
        Assert.Equal("marker", await data.ReceiveTextAsync());

        await using var big = await ConnectAsync("serverId=srv_d&role=client&v=2&connectionId=conn_bytes");
        var chunk = new string('x', 20 * 1024);
        for (var i = 0; i < 5; i++) await big.SendTextAsync(i + chunk);
        await big.SendTextAsync("end");
        await RoomHoldsAsync("srv_d", r => r.DroppedFrames.GetValueOrDefault("conn_bytes") == 2, "all six frames taken");
        await using var bigData = await ConnectAsync("serverId=srv_d&role=server&v=2&connectionId=conn_bytes");
        // 64 KiB of buffer: only the newest frames that fit (3 × 20 KiB + "end") are delivered.
        Assert.Equal("2" + chunk, await bigData.ReceiveTextAsync());
        Assert.Equal("3" + chunk, await bigData.ReceiveTextAsync());
        Assert.Equal("4" + chunk, await bigData.ReceiveTextAsync());
        Assert.Equal("end", await bigData.ReceiveTextAsync());
    }

    [Fact]
    public async Task A_daemon_that_never_opens_the_data_socket_is_nudged_then_its_control_is_closed()
    {
        await using var quick = await StartRelayAsync(TestLimits with { NudgeAfter = TimeSpan.FromMilliseconds(300), ControlUnresponsiveAfter = TimeSpan.FromMilliseconds(300) });
        async Task<RawSocket> Connect(string query)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{quick.Listen.Port}/ws?{query}"), CancellationToken.None);
            return new RawSocket(socket);
        }
        await using var control = await Connect("serverId=srv_e&role=server&v=2");
        await control.ReceiveTextAsync();
        await using var client = await Connect("serverId=srv_e&role=client&v=2&connectionId=conn_n");
        Assert.Equal("{\"type\":\"connected\",\"connectionId\":\"conn_n\"}", await control.ReceiveTextAsync());

        Assert.Equal("{\"type\":\"sync\",\"connectionIds\":[\"conn_n\"]}", await control.ReceiveTextAsync());
        Assert.Equal((1011, "Control unresponsive"), await control.ExpectCloseAsync());
    }

    [Fact]
    public async Task Abuse_is_bounded_and_drops_the_abuser_only()
    {
        var clients = new List<RawSocket>();
        for (var i = 0; i < 4; i++) clients.Add(await ConnectAsync($"serverId=srv_f&role=client&v=2&connectionId=conn_{i}"));
        await RoomHoldsAsync("srv_f", r => r.ClientSockets.Count == 4, "four clients");
        await using var fifth = await ConnectAsync("serverId=srv_f&role=client&v=2");
        Assert.Equal((1013, "Too many clients"), await fifth.ExpectCloseAsync());

        await using var oversize = await ConnectAsync("serverId=srv_g&role=client&v=2&connectionId=conn_big");
        await oversize.SendTextAsync(new string('x', 300 * 1024));
        Assert.Equal(1009, (await oversize.ExpectCloseAsync()).Code);

        // Another room is untouched.
        await using var client = await ConnectAsync("serverId=srv_h&role=client&v=2&connectionId=conn_ok");
        await using var data = await ConnectAsync("serverId=srv_h&role=server&v=2&connectionId=conn_ok");
        await RoomHoldsAsync("srv_h", r => r.DataSockets.ContainsKey("conn_ok") && r.ClientSockets.ContainsKey("conn_ok"), "both sockets");
        await client.SendTextAsync("still fine");
        Assert.Equal("still fine", await data.ReceiveTextAsync());
        foreach (var c in clients) await c.DisposeAsync();
    }

    [Fact]
    public async Task Protocol_v1_pairs_one_server_with_one_client_and_is_a_separate_room()
    {
        await using var server = await ConnectAsync("serverId=srv_v1&role=server");
        await using var client = await ConnectAsync("serverId=srv_v1&role=client&v=1");
        await RoomHoldsAsync("srv_v1", r => r.Sockets == 2, "both v1 sockets", version: 1);
        await client.SendTextAsync("hello v1");
        Assert.Equal("hello v1", await server.ReceiveTextAsync());
        await server.SendBinaryAsync([9]);
        Assert.Equal(new byte[] { 9 }, await client.ReceiveBinaryAsync());

        // The v2 room of the same serverId is another room: its control gets an empty sync.
        await using var v2 = await ConnectAsync("serverId=srv_v1&role=server&v=2");
        Assert.Equal("{\"type\":\"sync\",\"connectionIds\":[]}", await v2.ReceiveTextAsync());

        await using var newer = await ConnectAsync("serverId=srv_v1&role=client&v=1");
        Assert.Equal((1008, "Replaced by new connection"), await client.ExpectCloseAsync());
    }

    private static async Task<RawSocket> ConnectToAsync(RelayServerHost relay, string query)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{relay.Listen.Port}/ws?{query}"), CancellationToken.None);
        return new RawSocket(socket);
    }

    private static Task<int> RoomCountAsync(RelayServerHost relay) =>
        relay.App.Services.GetRequiredService<Akka.Hosting.IRequiredActor<RelayRoomsKey>>().ActorRef
            .Ask<int>(RelayRoomProtocol.GetRoomCount.Instance, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Rooms_are_bounded_and_an_empty_room_is_forgotten()
    {
        await using var relay = await StartRelayAsync(TestLimits with { MaxRooms = 2, IdleRoomTimeout = TimeSpan.FromMilliseconds(200) });
        await using var one = await ConnectToAsync(relay, "serverId=room_1&role=server&v=2");
        await one.ReceiveTextAsync();
        await using var two = await ConnectToAsync(relay, "serverId=room_2&role=server&v=2");
        await two.ReceiveTextAsync();
        await using var three = await ConnectToAsync(relay, "serverId=room_3&role=server&v=2");
        Assert.Equal((1013, "Relay full"), await three.ExpectCloseAsync());

        // The first room empties and is forgotten after its idle timeout: a new room fits again.
        await one.CloseAsync();
        await Eventually.HoldsAsync(async () => await RoomCountAsync(relay) == 1, "the empty room to be forgotten");
        await using var four = await ConnectToAsync(relay, "serverId=room_4&role=server&v=2");
        Assert.Equal("{\"type\":\"sync\",\"connectionIds\":[]}", await four.ReceiveTextAsync());
    }

    [Fact]
    public async Task A_phone_that_does_not_read_is_closed_too_slow()
    {
        await using var relay = await StartRelayAsync(TestLimits, outboundQueue: 4);
        await using var slow = await ConnectToAsync(relay, "serverId=srv_slow&role=client&v=2&connectionId=conn_s");
        await using var data = await ConnectToAsync(relay, "serverId=srv_slow&role=server&v=2&connectionId=conn_s");
        await Eventually.HoldsAsync(async () => (await relay.App.Services.GetRequiredService<Akka.Hosting.IRequiredActor<RelayRoomsKey>>().ActorRef
            .Ask<RelayRoomProtocol.RoomState>(new RelayRoomProtocol.InspectRoom(new RelayRoomId("srv_slow", 2)), TimeSpan.FromSeconds(5))).DataSockets.ContainsKey("conn_s"), "both sockets");

        // 200 KiB frames to a phone that reads nothing: socket buffers fill, then its 4-frame queue, then it is closed
        // (and, as its connection's last client, that closes the daemon's data socket too: sends then fail).
        var big = new string('y', 200 * 1024);
        try
        {
            for (var sent = 0; sent < 2000; sent++) await data.SendTextAsync(big);
        }
        catch (WebSocketException)
        {
            // The data socket was closed after the phone: expected.
        }
        Assert.Equal((1013, "Too slow"), await slow.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_phone_faster_than_its_daemon_is_slowed_down_not_disconnected()
    {
        await using var relay = await StartRelayAsync(TestLimits, outboundQueue: 4);
        await using var phone = await ConnectToAsync(relay, "serverId=srv_fast&role=client&v=2&connectionId=conn_f");
        await using var daemon = await ConnectToAsync(relay, "serverId=srv_fast&role=server&v=2&connectionId=conn_f");
        var rooms = relay.App.Services.GetRequiredService<Akka.Hosting.IRequiredActor<RelayRoomsKey>>().ActorRef;
        Task<RelayRoomProtocol.RoomState> State() => rooms.Ask<RelayRoomProtocol.RoomState>(new RelayRoomProtocol.InspectRoom(new RelayRoomId("srv_fast", 2)), TimeSpan.FromSeconds(5));
        await Eventually.HoldsAsync(async () => (await State()).DataSockets.ContainsKey("conn_f"), "both sockets");

        // The daemon reads nothing while the phone floods: the relay stops reading the phone instead of closing anyone.
        const int Frames = 150;
        var chunk = new string('z', 100 * 1024);
        var flood = Task.Run(async () => { for (var i = 0; i < Frames; i++) await phone.SendTextAsync(i + ":" + chunk); });
        await Eventually.HoldsAsync(async () => (await State()).HeldPhones == 1, "the relay to hold the phone back");

        for (var i = 0; i < Frames; i++) Assert.StartsWith(i + ":", await daemon.ReceiveTextAsync());
        await flood;
        await phone.SendTextAsync("still open");
        Assert.Equal("still open", await daemon.ReceiveTextAsync());
    }

    /// <summary>A raw relay peer: text and binary frames, and the close it receives.</summary>
    private sealed class RawSocket(ClientWebSocket socket) : IAsyncDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

        public Task SendTextAsync(string text) => socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

        public Task SendBinaryAsync(byte[] bytes) => socket.SendAsync(bytes, WebSocketMessageType.Binary, true, CancellationToken.None);

        public async Task<string?> ReceiveTextAsync()
        {
            var (type, bytes) = await ReceiveAsync();
            Assert.Equal(WebSocketMessageType.Text, type);
            return Encoding.UTF8.GetString(bytes);
        }

        public async Task<byte[]> ReceiveBinaryAsync()
        {
            var (type, bytes) = await ReceiveAsync();
            Assert.Equal(WebSocketMessageType.Binary, type);
            return bytes;
        }

        private async Task<(WebSocketMessageType, byte[])> ReceiveAsync()
        {
            using var cts = new CancellationTokenSource(Timeout);
            var buffer = new byte[512 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                    throw new InvalidOperationException($"closed: {socket.CloseStatus} {socket.CloseStatusDescription}");
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage) return (result.MessageType, message.ToArray());
            }
        }

        public async Task<(int Code, string? Reason)> ExpectCloseAsync()
        {
            using var cts = new CancellationTokenSource(Timeout);
            var buffer = new byte[512 * 1024];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType != WebSocketMessageType.Close) continue;
                try
                {
                    if (socket.State == WebSocketState.CloseReceived)
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                catch (WebSocketException)
                {
                    // The relay may drop the connection right after its close frame (it owes us nothing more): the close
                    // it sent is what this test reads, and it has arrived.
                }
                return ((int)socket.CloseStatus!.Value, socket.CloseStatusDescription);
            }
        }

        public async Task CloseAsync()
        {
            using var cts = new CancellationTokenSource(Timeout);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (socket.State == WebSocketState.Open)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // Gone already.
            }
            socket.Dispose();
        }
    }
}
