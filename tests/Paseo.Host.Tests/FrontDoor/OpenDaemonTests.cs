using System.Net;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.FrontDoor;

/// <summary>A loopback daemon with no password: everything is open, as in Paseo.</summary>
public sealed class OpenDaemonTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await InProcessDaemon.StartAsync();

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    [Fact]
    public async Task Status_needs_no_credentials()
    {
        using var http = _daemon.Http();
        using var response = await http.GetAsync("/api/status");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_websocket_without_subprotocols_is_served()
    {
        using var socket = await _daemon.ConnectAsync();
        Assert.Null(socket.SubProtocol);
        await socket.AssertAnswersPingAsync();
    }

    [Fact]
    public async Task An_offered_bearer_entry_is_still_echoed_so_browsers_accept_the_socket()
    {
        using var socket = await _daemon.ConnectAsync(o => o.AddSubProtocol("paseo.bearer.anything"));
        Assert.Equal("paseo.bearer.anything", socket.SubProtocol);
        await socket.AssertAnswersPingAsync();
    }

    [Fact]
    public async Task The_config_it_created_has_the_relay_off()
    {
        var text = await File.ReadAllTextAsync(_daemon.TestHome.Home.ConfigJson);
        Assert.Contains("\"enabled\": false", text);
    }

    [Fact]
    public async Task Hostnames_true_allows_any_host_over_http_and_websocket()
    {
        await using var daemon = await InProcessDaemon.StartAsync(env: new() { ["PASEO_HOSTNAMES"] = "true" });
        var (status, _, _) = await RawHttp.SendAsync(daemon.Port, "GET /api/health HTTP/1.1\r\nHost: anything.evil.test\r\nConnection: close\r\n\r\n");
        Assert.Equal(200, status);
        var (upgrade, _, _) = await RawHttp.SendAsync(daemon.Port, RawHttp.Upgrade("anything.evil.test"));
        Assert.Equal(101, upgrade);
        var (noHost, _, _) = await RawHttp.SendAsync(daemon.Port, "GET /api/health HTTP/1.0\r\n\r\n");
        Assert.Equal(403, noHost);
    }
}
