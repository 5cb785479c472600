using System.Net;
using System.Net.Sockets;
using Paseo.Host.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Configuration;
using Paseo.Transport.Listen;

namespace Paseo.Host.Tests.Listen;

public sealed class ListenTargetsTests
{
    [Fact]
    public async Task Tcp_on_ipv4_loopback()
    {
        await using var daemon = await InProcessDaemon.StartAsync("127.0.0.1:0");
        Assert.True(daemon.Port > 0);
        Assert.True(await DaemonProbe.IsHealthyAsync(daemon.Listen, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Tcp_on_ipv6_loopback()
    {
        await using var daemon = await InProcessDaemon.StartAsync("[::1]:0");
        var listen = Assert.IsType<TcpListenTarget>(daemon.Listen);
        Assert.Equal("::1", listen.Host);
        Assert.StartsWith("[::1]:", listen.ToString());
        using var http = daemon.Http();
        Assert.Equal("http://[::1]:" + listen.Port + "/", http.BaseAddress!.ToString());
        using var response = await http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var socket = await daemon.ConnectAsync();
        await socket.AssertAnswersPingAsync();
    }

    [Fact]
    public async Task Unix_socket_is_created_0600_and_serves_http_and_websockets()
    {
        using var scratch = new TestHome();
        var path = scratch.PathIn("d.sock");
        await using var daemon = await InProcessDaemon.StartAsync("unix://" + path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.True(await DaemonProbe.IsHealthyAsync(daemon.Listen, TimeSpan.FromSeconds(5)));
        using var socket = await daemon.ConnectAsync();
        await socket.AssertAnswersPingAsync();
    }

    [Fact]
    public async Task The_http_host_check_does_not_apply_to_a_unix_socket()
    {
        using var scratch = new TestHome();
        await using var daemon = await InProcessDaemon.StartAsync(scratch.PathIn("h.sock"));
        using var http = daemon.Http();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.Host = "anything.test";
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // The stale-socket case (a daemon killed with SIGKILL leaves its socket file) runs against the real binary:
    // see DaemonProcessTests.A_killed_daemon_leaves_a_stale_socket_that_the_next_start_replaces.

    [Fact]
    public async Task A_live_socket_file_is_an_error_and_the_other_listener_keeps_working()
    {
        using var scratch = new TestHome();
        var path = scratch.PathIn("l.sock");
        await using var first = await InProcessDaemon.StartAsync("unix://" + path);

        var error = await Assert.ThrowsAsync<ConfigException>(() => InProcessDaemon.StartAsync("unix://" + path));

        Assert.Equal($"another daemon is listening on unix://{path}", error.Message);
        Assert.True(await DaemonProbe.IsHealthyAsync(first.Listen, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_regular_file_at_the_socket_path_is_never_deleted()
    {
        using var scratch = new TestHome();
        var path = scratch.PathIn("notes.txt");
        await File.WriteAllTextAsync(path, "precious");

        var error = await Assert.ThrowsAsync<ConfigException>(() => InProcessDaemon.StartAsync("unix://" + path));

        Assert.Contains("is not a socket", error.Message);
        Assert.Equal("precious", await File.ReadAllTextAsync(path));
    }
}
