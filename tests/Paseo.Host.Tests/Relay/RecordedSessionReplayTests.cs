using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
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
using Paseo.Transport.Identity;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Relay;

/// <summary>
/// A relay (or anyone on its path) that recorded a phone's whole session — its hello and its encrypted frames — plays it
/// again on a new connection. The daemon remembers the phone's key on disk, so the replay is refused after a daemon
/// restart too; after `pair --rotate` the key changed and nothing decrypts; a damaged ledger stops the daemon.
/// </summary>
public sealed class RecordedSessionReplayTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestHome _home = new();
    private RelayServerHost _relay = null!;

    private Dictionary<string, string?> RelayEnv => new()
    {
        ["PASEO_RELAY_ENABLED"] = "true",
        ["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{_relay.Listen.Port}",
    };

    public async Task InitializeAsync()
    {
        _relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
        await _relay.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        _home.Dispose();
    }

    private async Task<InProcessDaemon> StartDaemonAsync()
    {
        var daemon = await InProcessDaemon.StartAsync(env: RelayEnv, existingHome: _home);
        await daemon.WaitForRelayControlAsync();
        return daemon;
    }

    private Uri ClientUri(string serverId) => new($"ws://127.0.0.1:{_relay.Listen.Port}/ws?serverId={serverId}&role=client&v=2");

    private static JsonObject Create(string requestId, string cwd) => new()
    {
        ["type"] = "session",
        ["message"] = new JsonObject
        {
            ["type"] = "create_agent_request", ["requestId"] = requestId,
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd }, ["initialPrompt"] = "recorded",
        },
    };

    private static async Task<int> AgentCountAsync(InProcessDaemon daemon)
    {
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
        await using (client)
        {
            var list = await client.RequestAsync("fetch_agents_request", new JsonObject { ["filter"] = new JsonObject { ["includeArchived"] = true } });
            return ProtocolClient.Payload(list, "fetch_agents_response")!["entries"]!.AsArray().Count;
        }
    }

    /// <summary>The recorded frames, sent verbatim on a new client socket; what came back before the socket closed.</summary>
    private async Task<(List<string> Received, WebSocketCloseStatus? Close)> ReplayAsync(string serverId, IReadOnlyList<WireFrame> recording)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(ClientUri(serverId), CancellationToken.None);
        var received = new List<string>();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[1 << 16];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
                received.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
        });
        foreach (var frame in recording)
            await socket.SendAsync(Encoding.UTF8.GetBytes(((WireFrame.Text)frame).Value), WebSocketMessageType.Text, true, CancellationToken.None);
        await reading.WaitAsync(Wait);
        return (received, socket.CloseStatus);
    }

    [Fact]
    public async Task A_recorded_session_replayed_after_a_restart_or_a_rotation_is_refused_and_a_damaged_ledger_stops_the_daemon()
    {
        var cwd = _home.PathIn("project");
        Directory.CreateDirectory(cwd);
        List<WireFrame> recording;
        string serverId;
        await using (var daemon = await StartDaemonAsync())
        {
            // The phone's session, recorded frame by frame as the relay forwards it.
            serverId = daemon.Server.Identity.ServerId.Value;
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(ClientUri(serverId), CancellationToken.None);
            var recorder = new RecordingTransport(new WebSocketFrameTransport(socket, 16 * 1024 * 1024, 64, 256));
            var phone = E2eeClientChannel.Start(recorder, Convert.ToBase64String(daemon.Server.Identity.KeyPair.PublicKey));
            await phone.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_recorded\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
            await phone.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
            await phone.SendTextAsync(Create("r-recorded", cwd).ToJsonString());
            await phone.NextAsync(f => ProtocolClient.Payload(f, "status")?["requestId"]?.GetValue<string>() == "r-recorded");
            recording = recorder.Sent.Where(f => f is WireFrame.Text).Distinct().ToList(); // the hello may have been re-sent
            await phone.DisposeAsync();
            Assert.Equal(1, await AgentCountAsync(daemon));
            Assert.Equal(1, ClientKeyLedger.CountIn(_home.Home.ClientKeyLedgerFile));
        }

        // After a restart the daemon still knows the phone's key: the hello gets e2ee_ready (it carries nothing the daemon
        // acts on), and the first replayed message ends the connection before any session hears of it — no server_info,
        // no second agent, nothing new in the ledger.
        await using (var daemon = await StartDaemonAsync())
        {
            Assert.Equal(serverId, daemon.Server.Identity.ServerId.Value);
            var (received, close) = await ReplayAsync(serverId, recording);
            Assert.All(received, r => Assert.Contains("e2ee_ready", r));
            Assert.NotNull(close);
            Assert.Equal(1, await AgentCountAsync(daemon));
            Assert.Equal(1, ClientKeyLedger.CountIn(_home.Home.ClientKeyLedgerFile));

            // After `pair --rotate` (new keypair and server id, the ledger cleared) the recording is of no use either: the
            // hello is answered with the new key, but nothing the phone encrypted for the old one decrypts, so nothing is
            // recorded or done.
            var rotated = DaemonIdentity.Rotate(_home.Home, new Dictionary<string, string?>());
            Assert.False(File.Exists(_home.Home.ClientKeyLedgerFile));
            Assert.True(await daemon.Server.ReloadIdentityAsync());
            await daemon.WaitForRelayControlAsync();
            // The ledger actor renews its file when it hears of the new identity (on its own thread): the replay is judged
            // against the new, empty ledger, not raced with its creation.
            await Eventually.HoldsAsync(() => Task.FromResult(ClientKeyLedger.CountIn(_home.Home.ClientKeyLedgerFile) == 0), "the renewed, empty client key ledger");
            var (afterRotation, rotatedClose) = await ReplayAsync(rotated.ServerId.Value, recording);
            Assert.Contains(afterRotation, r => r.Contains("e2ee_ready", StringComparison.Ordinal));
            Assert.All(afterRotation, r => Assert.Contains("e2ee_ready", r)); // and nothing else: no answer to the replayed request
            Assert.NotNull(rotatedClose);
            Assert.Equal(1, await AgentCountAsync(daemon));
            Assert.Equal(0, ClientKeyLedger.CountIn(_home.Home.ClientKeyLedgerFile));
        }

        // A ledger that is not one stops the daemon, like a damaged keypair, and is left as it is.
        var damaged = Encoding.UTF8.GetBytes("this is not a client key ledger at all, just text that happens to be long enough");
        await File.WriteAllBytesAsync(_home.Home.ClientKeyLedgerFile, damaged);
        var env = PaseoBinary.CleanEnvironment(_home);
        await using var foreground = new ForegroundDaemon(env, "--port", "0");
        Assert.Equal(2, await foreground.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(_home.Home.ClientKeyLedgerFile, foreground.StdErr);
        Assert.Contains("is not a client key ledger", foreground.StdErr);
        var detached = await PaseoBinary.RunAsync(env, "daemon", "start", "--port", "0");
        Assert.Equal(2, detached.ExitCode);
        Assert.Contains("is not a client key ledger", detached.StdErr);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(_home.Home.ClientKeyLedgerFile));
    }

    /// <summary>A phone's transport that keeps a copy of every frame it sends: what a relay sees and could record.</summary>
    private sealed class RecordingTransport(IFrameTransport inner) : IFrameTransport
    {
        private readonly RecordingWriter _writer = new(inner.Outbound);

        public List<WireFrame> Sent => _writer.Sent;
        public ChannelReader<WireFrame> Inbound => inner.Inbound;
        public ChannelWriter<WireFrame> Outbound => _writer;
        public Task<TransportClosure> Closed => inner.Closed;
        public void Close(int code, string reason) => inner.Close(code, reason);
        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private sealed class RecordingWriter(ChannelWriter<WireFrame> inner) : ChannelWriter<WireFrame>
        {
            public List<WireFrame> Sent { get; } = [];

            public override bool TryWrite(WireFrame item)
            {
                if (!inner.TryWrite(item)) return false;
                lock (Sent) Sent.Add(item);
                return true;
            }

            public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default) => inner.WaitToWriteAsync(cancellationToken);

            public override bool TryComplete(Exception? error = null) => inner.TryComplete(error);
        }
    }
}
