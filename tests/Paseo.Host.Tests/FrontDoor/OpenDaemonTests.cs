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
        await socket.SendTextAsync("{\"type\":\"ping\"}");
        Assert.Equal("{\"type\":\"pong\"}", await socket.ReceiveTextAsync());
    }

    [Fact]
    public async Task An_offered_bearer_entry_is_still_echoed_so_browsers_accept_the_socket()
    {
        using var socket = await _daemon.ConnectAsync(o => o.AddSubProtocol("paseo.bearer.anything"));
        Assert.Equal("paseo.bearer.anything", socket.SubProtocol);
        await socket.SendTextAsync("{\"type\":\"ping\"}");
        Assert.Equal("{\"type\":\"pong\"}", await socket.ReceiveTextAsync());
    }

    [Fact]
    public async Task The_config_it_created_has_the_relay_off()
    {
        var text = await File.ReadAllTextAsync(_daemon.TestHome.Home.ConfigJson);
        Assert.Contains("\"enabled\": false", text);
    }
}
