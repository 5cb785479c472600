using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Sessions;

/// <summary>The WS level of the application protocol (app-protocol.md §1.2, app-schemas.md §A) on a real daemon over a real socket.</summary>
public sealed class HelloAndEnvelopeTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.sessions.hello-timeout = 500ms\n");

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    [Fact]
    public async Task Hello_is_answered_with_server_info_in_paseos_shape()
    {
        var (client, info) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = client;

        var frame = client.Received.Single();
        Assert.Equal("session", frame["type"]!.GetValue<string>());
        Assert.Equal("status", frame["message"]!["type"]!.GetValue<string>());
        Assert.Equal(
            new[] { "status", "serverId", "hostname", "version", "features" },
            info.Select(p => p.Key).ToArray());
        Assert.Equal("server_info", info["status"]!.GetValue<string>());
        Assert.Equal(_daemon.Server.Identity.ServerId.Value, info["serverId"]!.GetValue<string>());
        Assert.True(info["features"]!["providersSnapshot"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Ping_works_before_and_after_hello_and_the_session_ping_reports_times()
    {
        await using var client = await ProtocolClient.ConnectAsync(_daemon);
        await client.SendTextAsync("{\"type\":\"ping\"}");
        var pong = await client.ExpectAsync(f => f["type"]!.GetValue<string>() == "pong");
        Assert.Equal("{\"type\":\"pong\"}", pong.ToJsonString());

        await client.HelloAsync("cid_ping");
        var reply = await client.RequestAsync("ping", new JsonObject { ["clientSentAt"] = 1714720000000L });
        var payload = ProtocolClient.Payload(reply, "pong")!;
        Assert.Equal(1714720000000L, payload["clientSentAt"]!.GetValue<long>());
        Assert.True(payload["serverSentAt"]!.GetValue<long>() >= payload["serverReceivedAt"]!.GetValue<long>());

        var withoutClientTime = ProtocolClient.Payload(await client.RequestAsync("ping"), "pong")!;
        Assert.False(withoutClientTime.ContainsKey("clientSentAt"));
    }

    public static TheoryData<string, int, string> BadOpenings => new()
    {
        { "{\"type\":\"session\",\"message\":{\"type\":\"fetch_agents_request\",\"requestId\":\"r1\"}}", 4002, "Session message before hello" },
        { "{not json", 4002, "Invalid hello" },
        { "{\"type\":\"hello\",\"clientId\":\"c\",\"clientType\":\"toaster\",\"protocolVersion\":1}", 4002, "Invalid hello" },
        { "{\"type\":\"hello\",\"clientId\":\"   \",\"clientType\":\"cli\",\"protocolVersion\":1}", 4002, "Invalid hello" },
        { "{\"type\":\"hello\",\"clientId\":\"c\",\"clientType\":\"cli\",\"protocolVersion\":2}", 4003, "Incompatible protocol version" },
        { "{\"type\":\"hello\",\"clientId\":\"c\",\"clientType\":\"cli\",\"protocolVersion\":1.5}", 4002, "Invalid hello" },
    };

    [Theory]
    [MemberData(nameof(BadOpenings))]
    public async Task A_bad_opening_closes_with_paseos_code_and_reason(string first, int code, string reason)
    {
        await using var client = await ProtocolClient.ConnectAsync(_daemon);
        await client.SendTextAsync(first);
        Assert.Equal((code, reason), await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_binary_frame_before_hello_is_an_invalid_hello()
    {
        // A terminal frame is a session message (app-workspaces.md §5.4); other bytes are just not a hello.
        var socket = await _daemon.ConnectAsync();
        await socket.SendAsync(new byte[] { 0x01, 0x00, 0x41 }, System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal((4002, "Session message before hello"), await socket.ReceiveCloseAsync());
        var other = await _daemon.ConnectAsync();
        await other.SendAsync(new byte[] { 0x10, 0x00, 0x41 }, System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal((4002, "Invalid hello"), await other.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_second_hello_is_unexpected()
    {
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = client;
        await client.SendAsync(new JsonObject { ["type"] = "hello", ["clientId"] = "again", ["clientType"] = "cli", ["protocolVersion"] = 1 });
        Assert.Equal((4002, "Unexpected hello"), await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task No_hello_within_the_timeout_closes_4001()
    {
        await using var client = await ProtocolClient.ConnectAsync(_daemon);
        Assert.Equal((4001, "Hello timeout"), await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Unknown_and_malformed_requests_get_rpc_error_or_status_error_and_the_session_goes_on()
    {
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = client;

        var unknown = ProtocolClient.Payload(await client.RequestAsync("frobnicate_request"), "rpc_error")!;
        Assert.Equal("Unknown request schema", unknown["error"]!.GetValue<string>());
        Assert.Equal("unknown_schema", unknown["code"]!.GetValue<string>());
        Assert.Equal("frobnicate_request", unknown["requestType"]!.GetValue<string>());

        // A known type with a bad field is answered the same way (as Paseo does).
        var badField = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = 42 }), "rpc_error")!;
        Assert.Equal("unknown_schema", badField["code"]!.GetValue<string>());

        // No requestId: a status error.
        await client.SendAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "fetch_agents_request" } });
        var error = await client.ExpectSessionAsync("status", p => p["status"]!.GetValue<string>() == "error");
        Assert.StartsWith("Invalid message", ProtocolClient.Payload(error, "status")!["message"]!.GetValue<string>());

        // An unknown WS-level type with a requestId: invalid_message.
        await client.SendTextAsync("{\"type\":\"teleport\",\"requestId\":\"r-ws\"}");
        var wsLevel = ProtocolClient.Payload(await client.ExpectSessionAsync("rpc_error", p => p["requestId"]!.GetValue<string>() == "r-ws"), "rpc_error")!;
        Assert.Equal("invalid_message", wsLevel["code"]!.GetValue<string>());

        // Still served.
        Assert.NotNull(ProtocolClient.Payload(await client.RequestAsync("ping"), "pong"));
    }

    [Fact]
    public async Task An_oversize_message_closes_1009_and_other_clients_are_unaffected()
    {
        await using var daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.front-door.websocket.max-message-bytes = 4k\n");
        var (big, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
        var (other, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
        await using var _ = big;
        await using var __ = other;

        await big.SendSessionAsync("ping", new JsonObject { ["padding"] = new string('x', 8192) });

        Assert.Equal((1009, "Message larger than 4096 bytes"), await big.ExpectCloseAsync());
        Assert.NotNull(ProtocolClient.Payload(await other.RequestAsync("ping"), "pong"));
    }

    [Fact]
    public async Task A_message_with_a_duplicated_key_is_invalid_and_the_session_goes_on()
    {
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = client;
        await client.SendTextAsync("{\"type\":\"session\",\"message\":{\"type\":\"ping\",\"requestId\":\"d\",\"requestId\":\"d\"}}");
        var error = await client.ExpectSessionAsync("status", p => p["status"]!.GetValue<string>() == "error");
        Assert.StartsWith("Invalid message", ProtocolClient.Payload(error, "status")!["message"]!.GetValue<string>());
        Assert.NotNull(ProtocolClient.Payload(await client.RequestAsync("ping"), "pong"));
    }
}
