using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;

namespace Paseo.Host.Tests.Sessions;

/// <summary>shutdown_server_request and restart_server_request against the real daemon process.</summary>
public sealed class DaemonControlRequestTests : IDisposable
{
    private readonly TestHome _home = new();

    public void Dispose() => _home.Dispose();

    [Theory]
    [InlineData("shutdown_server_request", "shutdown_requested", 0)]
    [InlineData("restart_server_request", "restart_requested", 75)]
    public async Task A_client_can_stop_the_daemon_and_a_foreground_restart_exits_for_its_supervisor(string request, string status, int exitCode)
    {
        await using var daemon = new ForegroundDaemon(PaseoBinary.CleanEnvironment(_home), "--port", "0");
        var listen = (TcpListenTarget)ListenTarget.Parse((await RunningDaemon.WaitHealthyAsync(_home.Home)).Listen);
        await using var client = await ProtocolClient.ConnectAsync(new Uri($"ws://{listen.UrlHost}:{listen.Port}/ws"));
        await client.HelloAsync("cid_admin");

        var reply = ProtocolClient.Payload(await client.RequestAsync(request, new JsonObject { ["reason"] = "  " }), "status")!;

        Assert.Equal(status, reply["status"]!.GetValue<string>());
        Assert.Equal("cid_admin", reply["clientId"]!.GetValue<string>());
        Assert.False(reply.ContainsKey("reason"), "a blank reason is left out");
        Assert.Equal(exitCode, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.False(File.Exists(_home.Home.PidFile));
    }
}
