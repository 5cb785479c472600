using System.Net;
using System.Net.WebSockets;
using System.Text;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Host.Tests.Relay;

/// <summary>
/// The encrypted channel over real WebSockets on loopback: a Kestrel endpoint hands each accepted socket, wrapped in
/// <see cref="WebSocketFrameTransport"/>, to a <see cref="RelayConnectionActor"/> (what the relay tunnel does with a data
/// socket), and the phone-side <see cref="E2eeClientChannel"/> runs over a ClientWebSocket in the same wrapper.
/// </summary>
public sealed class EncryptedChannelOverWebSocketTests : IAsyncLifetime
{
    private const int MaxMessageBytes = 2 * 1024 * 1024;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly BoxKeyPair _daemon = BoxKeyPair.Generate();
    private readonly string _ledgerDir = Directory.CreateTempSubdirectory("paseo-ledger-").FullName;
    private IActorRef _clientKeys = null!;
    private readonly TaskCompletionSource<ChannelClosed> _sessionSawClose = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ActorSystem _system = null!;
    private WebApplication _app = null!;
    private Uri _uri = null!;

    public async Task InitializeAsync()
    {
        _system = ActorSystem.Create("ws-e2ee", "akka.loglevel = WARNING\nakka.actor.blocking-io-dispatcher { type = Dispatcher, executor = \"Paseo.Actors.Hosting.BlockingIoExecutorConfigurator, Paseo.Actors\", blocking-io-executor.thread-count = 2 }");
        _clientKeys = _system.ActorOf(ClientKeyLedgerActor.Props(
            ClientKeyLedger.Open(Path.Combine(_ledgerDir, ClientKeyLedger.FileName), _daemon.PublicKey, 100), _daemon.PublicKey));
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Map("/data", async (HttpContext http) =>
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            await using var transport = new WebSocketFrameTransport(socket, MaxMessageBytes, inboundCapacity: 8, outboundCapacity: 64);
            var session = _system.ActorOf(Props.Create(() => new EchoSession(_sessionSawClose)));
            _system.ActorOf(RelayConnectionActor.Props(transport, _daemon, _clientKeys, session, HandshakeSettings.Default with { MaxFrameBytes = MaxMessageBytes }));
            await transport.Closed;
        });
        await _app.StartAsync();
        _uri = new Uri(_app.Urls.First().Replace("http://", "ws://") + "/data");
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _system.Terminate();
        Directory.Delete(_ledgerDir, recursive: true);
    }

    private async Task<(E2eeClientChannel Channel, WebSocketFrameTransport Transport)> ConnectAsync()
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(_uri, CancellationToken.None);
        var transport = new WebSocketFrameTransport(socket, MaxMessageBytes, inboundCapacity: 8, outboundCapacity: 64);
        return (E2eeClientChannel.Start(transport, Convert.ToBase64String(_daemon.PublicKey)), transport);
    }

    [Fact]
    public async Task Messages_cross_real_sockets_encrypted_both_ways_including_large_ones()
    {
        var (channel, transport) = await ConnectAsync();
        await using var _ = transport;
        await channel.Opened.WaitAsync(Wait);

        await channel.SendTextAsync("{\"type\":\"ping\"}");
        Assert.Equal("echo:{\"type\":\"ping\"}", (await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait)).Text);

        var large = new string('x', 1024 * 1024);
        await channel.SendTextAsync(large);
        Assert.Equal("echo:" + large, (await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait)).Text);
    }

    [Fact]
    public async Task A_tampered_frame_on_the_wire_closes_the_socket_with_1011_and_the_reason()
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(_uri, CancellationToken.None);
        await using var transport = new WebSocketFrameTransport(socket, MaxMessageBytes, 8, 64);
        var client = BoxKeyPair.Generate();
        await transport.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.HelloFrame(client.PublicKey)));
        Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)await transport.Inbound.ReadAsync().AsTask().WaitAsync(Wait)).Value);

        // A first message that opens the channel to the session (echoed back), then one tampered on the wire.
        var shared = NaclBox.SharedKey(_daemon.PublicKey, client.SecretKey);
        await transport.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt("{\"type\":\"first\"}"u8, shared).Frame));
        Assert.IsType<WireFrame.Text>(await transport.Inbound.ReadAsync().AsTask().WaitAsync(Wait));
        var bundle = Convert.FromBase64String(E2eeFrames.Encrypt("{\"type\":\"ping\"}"u8, shared).Frame);
        bundle[^1] ^= 0x01;
        await transport.Outbound.WriteAsync(new WireFrame.Text(Convert.ToBase64String(bundle)));

        var closure = await transport.Closed.WaitAsync(Wait);
        Assert.Equal((1011, "Decryption failed"), (closure.Code, closure.Reason));
        Assert.True(closure.ByPeer);
        Assert.Equal(("Decryption failed"), (await _sessionSawClose.Task.WaitAsync(Wait)).Reason);
    }

    [Fact]
    public async Task A_message_over_the_socket_limit_is_refused_with_1009_before_it_is_read_whole()
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(_uri, CancellationToken.None);
        await using var transport = new WebSocketFrameTransport(socket, 16 * MaxMessageBytes, 8, 64);

        await transport.Outbound.WriteAsync(new WireFrame.Text(new string('A', MaxMessageBytes + 1)));

        var closure = await transport.Closed.WaitAsync(Wait);
        Assert.Equal((1009, "Frame too large"), (closure.Code, closure.Reason));
    }

    [Fact]
    public async Task The_client_closing_reaches_the_session()
    {
        var (channel, transport) = await ConnectAsync();
        await using var _ = transport;
        await channel.Opened.WaitAsync(Wait);
        await channel.SendTextAsync("{\"type\":\"ping\"}");
        await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);

        channel.Close(1000, "bye");

        var closed = await _sessionSawClose.Task.WaitAsync(Wait);
        Assert.Equal((1000, "bye"), (closed.Code, closed.Reason));
        Assert.False((await transport.Closed.WaitAsync(Wait)).ByPeer);
    }

    /// <summary>Stands where a client session will be: answers each message with "echo:" + its text.</summary>
    private sealed class EchoSession : ReceiveActor
    {
        public EchoSession(TaskCompletionSource<ChannelClosed> sawClose)
        {
            IActorRef? channel = null;
            Receive<ChannelOpened>(opened => channel = opened.Channel);
            Receive<MessageReceived>(received =>
            {
                channel!.Tell(new Send(E2eeMessage.FromText("echo:" + received.Message.Text)));
                channel.Tell(MessageTaken.Instance);
            });
            Receive<ChannelClosed>(closed => sawClose.TrySetResult(closed));
        }
    }
}
