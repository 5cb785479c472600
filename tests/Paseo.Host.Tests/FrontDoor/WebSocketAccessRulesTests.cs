using System.Net.WebSockets;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.FrontDoor;

public sealed class WebSocketAccessRulesTests(PasswordProtectedDaemonFixture fixture) : IClassFixture<PasswordProtectedDaemonFixture>
{
    private InProcessDaemon Daemon => fixture.Daemon;
    private const string Password = PasswordProtectedDaemonFixture.Password;
    private const string BearerEntry = "paseo.bearer." + Password;

    [Theory]
    [InlineData("evil.test", null, 403, "Host not allowed")]
    [InlineData("badexample.com", null, 403, "Host not allowed")]
    [InlineData("127.0.0.1:{port}", "https://evil.test", 403, "Origin not allowed")]
    [InlineData("127.0.0.1:{port}", "http://localhost:1", 403, "Origin not allowed")]
    [InlineData("127.0.0.1:{port}", null, 101, null)]
    [InlineData("127.0.0.1:{port}", "https://app.paseo.sh", 101, null)]
    [InlineData("api.example.com", "https://api.example.com", 101, null)]
    [InlineData("exact.test:{port}", "http://exact.test:{port}", 101, null)]
    public async Task Upgrade_host_and_origin_rules(string host, string? origin, int status, string? body)
    {
        var port = Daemon.Port.ToString();
        var (actual, _, text) = await RawHttp.SendAsync(Daemon.Port, RawHttp.Upgrade(host.Replace("{port}", port), origin?.Replace("{port}", port)));
        Assert.Equal(status, actual);
        if (body is not null) Assert.Equal(body, text);
    }

    [Theory]
    [InlineData("/WS")]
    [InlineData("/ws/")]
    [InlineData("/api/health")]
    public async Task Every_upgrade_gets_the_origin_check_whatever_the_path(string path)
    {
        var (status, _, body) = await RawHttp.SendAsync(Daemon.Port, RawHttp.Upgrade($"127.0.0.1:{Daemon.Port}", "https://evil.test", path));
        Assert.Equal(403, status);
        Assert.Equal("Origin not allowed", body);
    }

    [Fact]
    public async Task No_token_closes_4401_password_required()
    {
        using var socket = await Daemon.ConnectAsync();
        Assert.Equal((4401, "Password required"), await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task The_authorization_header_does_not_count_on_a_websocket()
    {
        using var socket = await Daemon.ConnectAsync(o => o.SetRequestHeader("Authorization", "Bearer " + Password));
        Assert.Equal((4401, "Password required"), await socket.ReceiveCloseAsync());
    }

    [Theory]
    [InlineData("paseo.bearer.wrong")]
    [InlineData("paseo.bearer.correct.horse")]
    [InlineData("paseo.bearer." + Password + ".x")]
    public async Task A_wrong_token_closes_4401_incorrect_password(string subprotocol)
    {
        using var socket = await Daemon.ConnectAsync(o => o.AddSubProtocol(subprotocol));
        Assert.Equal(subprotocol, socket.SubProtocol);
        Assert.Equal((4401, "Incorrect password"), await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task The_right_token_with_dots_opens_the_socket_and_echoes_the_entry()
    {
        using var socket = await Daemon.ConnectAsync(o =>
        {
            o.AddSubProtocol("paseo.v1");
            o.AddSubProtocol("paseo.bearer." + Password);
        });
        Assert.Equal("paseo.bearer." + Password, socket.SubProtocol);

        await socket.SendTextAsync("{\"type\":\"recording_state\",\"isRecording\":false}");
        await socket.AssertAnswersPingAsync();
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    }

    [Fact]
    public async Task A_client_that_authenticated_once_pays_no_further_bcrypt()
    {
        using (var first = await Daemon.ConnectAsync(o => o.AddSubProtocol(BearerEntry)))
        {
            await first.AssertAnswersPingAsync();
        }
        var verifications = Daemon.Server.Password.BcryptVerifications;

        for (var i = 0; i < 3; i++)
        {
            using var again = await Daemon.ConnectAsync(o => o.AddSubProtocol(BearerEntry));
            await again.AssertAnswersPingAsync();
            using var http = Daemon.Http();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/status");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Password);
            using var response = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(verifications, Daemon.Server.Password.BcryptVerifications);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_closes_1009_and_other_sockets_live_on()
    {
        using var bystander = await Daemon.ConnectAsync(o => o.AddSubProtocol(BearerEntry));
        using var socket = await Daemon.ConnectAsync(o => o.AddSubProtocol(BearerEntry));
        await socket.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 70 * 1024) + "\"}");
        var (code, _) = await socket.ReceiveCloseAsync();
        Assert.Equal(1009, code);

        await bystander.AssertAnswersPingAsync();
    }

    [Fact]
    public async Task An_authenticated_socket_is_served_the_application_protocol_and_a_malformed_first_frame_is_an_invalid_hello()
    {
        using var socket = await Daemon.ConnectAsync(o => o.AddSubProtocol(BearerEntry));
        await socket.AssertAnswersPingAsync();
        await socket.SendTextAsync("{not json");
        var (code, reason) = await socket.ReceiveCloseAsync();
        Assert.Equal(4002, code);
        Assert.Equal("Invalid hello", reason);
    }
}
