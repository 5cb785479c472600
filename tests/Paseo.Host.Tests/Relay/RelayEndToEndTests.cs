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

    public async Task InitializeAsync()
    {
        _relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
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

    private Task<RelayTunnelProtocol.TunnelState> TunnelAsync() =>
        _daemon.Server.App.Services.GetRequiredService<IRequiredActor<RelayTunnelKey>>().ActorRef
            .Ask<RelayTunnelProtocol.TunnelState>(RelayTunnelProtocol.GetTunnelState.Instance, TimeSpan.FromSeconds(5));

    /// <summary>A phone: a client socket on the relay, the E2EE channel with the daemon's public key, and hello.</summary>
    private async Task<(E2eeClientChannel Channel, JsonObject ServerInfo)> PhoneAsync(string clientId)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Listen.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        var transport = new WebSocketFrameTransport(socket, 16 * 1024 * 1024, 64, 256);
        var channel = E2eeClientChannel.Start(transport, Convert.ToBase64String(_daemon.Server.Identity.KeyPair.PublicKey));
        await channel.SendTextAsync($"{{\"type\":\"hello\",\"clientId\":\"{clientId}\",\"clientType\":\"mobile\",\"protocolVersion\":1}}");
        await channel.Opened.WaitAsync(Wait);
        var info = await NextAsync(channel, f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        return (channel, ProtocolClient.Payload(info, "status")!);
    }

    private static async Task<JsonObject> NextAsync(E2eeClientChannel channel, Func<JsonObject, bool> predicate)
    {
        while (true)
        {
            var message = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
            var frame = (JsonObject)JsonNode.Parse(message.Text)!;
            if (predicate(frame)) return frame;
        }
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
            var frame = await NextAsync(phone, _ => true);
            if (ProtocolClient.Payload(frame, "status")?["requestId"]?.GetValue<string>() == "r1") created = frame;
            if (ProtocolClient.Payload(frame, "agent_stream")?["event"]?["type"]?.GetValue<string>() == "turn_completed") completed = true;
        }
        Assert.Equal("agent_created", ProtocolClient.Payload(created, "status")!["status"]!.GetValue<string>());

        // The phone leaves: the relay tells the daemon, which drops the data socket.
        phone.Close();
        await Eventually.HoldsAsync(async () => (await TunnelAsync()).DataConnections.Count == 0, "the data socket to be closed");
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
            var pong = await NextAsync(phones[i], f => ProtocolClient.Payload(f, "pong") is not null);
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
}
