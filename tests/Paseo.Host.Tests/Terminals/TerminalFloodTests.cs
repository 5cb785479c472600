using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using static Paseo.Host.Tests.Support.TerminalSupport;

namespace Paseo.Host.Tests.Terminals;

/// <summary>
/// `yes` for 10 s into a terminal a phone subscribed to and then stopped reading: the phone is disconnected with the
/// stated reason once its bounded outbound queue is full, the daemon's memory stays bounded, and another client goes on.
/// It measures the process's heap and keeps tmux and the daemon busy for 10 s, so it runs alone.
/// </summary>
[Collection(Paseo.Host.Tests.Sessions.MeasuredAloneCollection.Name)]
public sealed class TerminalFloodTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;

    // A small outbound queue so the bound is reached in a second or two on any machine (64 frames of at most 32 KiB), and
    // a close timeout longer than the flood, so the slow phone can still read why it was closed once it reads again.
    public async Task InitializeAsync() => _daemon = await InProcessDaemon.StartAsync(
        extraHocon: "paseo.front-door.websocket.outbound-queue = 64\npaseo.front-door.websocket.close-timeout = 60s\n");

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    [SkippableFact]
    public async Task A_phone_that_does_not_read_a_flood_is_detached_and_nothing_else_suffers()
    {
        Require();
        var floodDir = _daemon.TestHome.PathIn("flood");
        var calmDir = _daemon.TestHome.PathIn("calm");
        Directory.CreateDirectory(floodDir);
        Directory.CreateDirectory(calmDir);
        var (other, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientId: "calm-phone", clientType: "mobile");
        await using var _ = other;
        var calm = (await CreateAsync(other, calmDir))["id"]!.GetValue<string>();
        var (calmSlot, _) = await SubscribeAsync(other, calm);
        await other.SendSessionAsync("subscribe_terminals_request", new JsonObject { ["cwd"] = floodDir });
        await other.ExpectSessionAsync("terminals_changed", p => p["cwd"]!.GetValue<string>() == floodDir);

        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var flood = (await CreateAsync(other, floodDir, "flood", "timeout", "10", "yes"))["id"]!.GetValue<string>();

        // The slow phone: a raw socket that says hello, subscribes, and then reads nothing.
        using var slow = await _daemon.ConnectAsync();
        await SendAsync(slow, "{\"type\":\"hello\",\"clientId\":\"slow-phone\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
        await SendAsync(slow, new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "subscribe_terminal_request", ["requestId"] = "s", ["terminalId"] = flood } }.ToJsonString());

        long peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var every = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (await every.WaitForNextTickAsync(sampling.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result))
                peak = Math.Max(peak, GC.GetTotalMemory(false));
        });

        // While the flood runs, the calm phone's own terminal answers and its requests are served.
        await TypeAsync(other, calmSlot, "echo calm-$((6*7))\r");
        await OutputUntilAsync(other.NextBinaryAsync, calmSlot, "calm-42");
        Assert.NotNull(ProtocolClient.Payload(await other.RequestAsync("ping"), "pong"));

        // The flood ends after 10 s (the directory's list empties), then the slow phone reads what it was left.
        await other.ExpectSessionAsync("terminals_changed", p => p["cwd"]!.GetValue<string>() == floodDir && p["terminals"]!.AsArray().Count == 0, TimeSpan.FromSeconds(40));
        sampling.Cancel();
        await sampler;
        var (status, reason) = await DrainUntilClosedAsync(slow);
        Assert.Equal(((WebSocketCloseStatus)1013, "Outbound buffer full"), (status, reason));
        var grown = peak - baseline;
        Assert.True(grown < 200L << 20, $"the daemon's managed memory grew by {grown >> 20} MiB during the flood");

        // The calm phone is still attached and served.
        await TypeAsync(other, calmSlot, "echo after-$((2*3))\r");
        await OutputUntilAsync(other.NextBinaryAsync, calmSlot, "after-6");
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<(WebSocketCloseStatus?, string?)> DrainUntilClosedAsync(ClientWebSocket socket)
    {
        var buffer = new byte[256 * 1024];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, limit.Token);
            if (result.MessageType == WebSocketMessageType.Close) return (result.CloseStatus, result.CloseStatusDescription);
        }
    }
}
