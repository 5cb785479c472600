using System.Text.Json.Nodes;
using System.Threading.Channels;
using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Guardian;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.Handshake;
using Paseo.Actors.Sessions;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Channels;
using Paseo.Transport.Configuration;
using Paseo.Transport.Identity;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.RelayTunnelProtocol;

namespace Paseo.Actors.Tests.Relay;

/// <summary>
/// The daemon's relay tunnel with the relay played by the test over in-memory sockets and `sessions` by a probe: each
/// data socket the relay names is handed over once, to the connection actor made from the Props the tunnel sends, and
/// the tunnel ends it only through that actor.
/// </summary>
public sealed class RelayTunnelSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("paseo-tunnel-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_home, recursive: true);
    }

    /// <summary>Every socket the tunnel opens: its URL and the relay's end of it.</summary>
    private sealed class RelaySockets : IFrameConnector
    {
        public Channel<(Uri Url, InMemoryFrameTransport RelayEnd)> Opened { get; } = Channel.CreateUnbounded<(Uri, InMemoryFrameTransport)>();

        public Task<IFrameTransport> ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            var (daemonEnd, relayEnd) = InMemoryFrameTransport.CreatePair();
            Opened.Writer.TryWrite((uri, relayEnd));
            return Task.FromResult<IFrameTransport>(daemonEnd);
        }
    }

    private async Task<(Uri Url, InMemoryFrameTransport RelayEnd)> NextSocket() =>
        await Opened.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

    private ChannelReader<(Uri Url, InMemoryFrameTransport RelayEnd)> Opened => _sockets.Opened.Reader;

    private readonly RelaySockets _sockets = new();

    private (IActorRef Tunnel, TestProbe Sessions) StartTunnel()
    {
        var identity = DaemonIdentity.LoadOrCreate(new PaseoHome(_home), new Dictionary<string, string?>());
        var guardian = CreateTestProbe();
        guardian.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            if (message is PaseoGuardianProtocol.GetIdentity) sender.Tell(identity);
            return AutoPilot.KeepRunning;
        }));
        var sessions = CreateTestProbe();
        var tunnel = Sys.ActorOf(RelayTunnelActor.Props(RelayTunnelSettings.For("127.0.0.1:1"), guardian.Ref, sessions.Ref, CreateTestProbe().Ref, _sockets,
            HandshakeSettings.Default, TimeProvider.System));
        return (tunnel, sessions);
    }

    private static void Say(InMemoryFrameTransport relayEnd, JsonObject message) => Assert.True(relayEnd.Outbound.TryWrite(new WireFrame.Text(message.ToJsonString())));

    /// <summary>Plays the session manager: makes the connection actor from the Props the tunnel handed over.</summary>
    private IActorRef MakeConnection(TestProbe sessions)
    {
        var connect = sessions.ExpectMsg<ClientSessionManager.Connect>();
        Assert.Equal("relay", connect.Kind);
        return Sys.ActorOf(connect.ChannelProps(CreateTestProbe().Ref));
    }

    private IReadOnlyList<string> DataConnections(IActorRef tunnel)
    {
        tunnel.Tell(GetTunnelState.Instance, TestActor);
        return ExpectMsg<TunnelState>().DataConnections;
    }

    [Fact]
    public async Task A_phone_the_relay_names_gets_one_data_socket_owned_by_its_connection_actor_which_the_tunnel_ends_when_the_phone_leaves()
    {
        var (tunnel, sessions) = StartTunnel();
        var (controlUrl, control) = await NextSocket();
        Assert.DoesNotContain("connectionId", controlUrl.Query);
        Say(control, new JsonObject { ["type"] = "sync", ["connectionIds"] = new JsonArray("c1") });
        var (dataUrl, data) = await NextSocket();
        Assert.Contains("connectionId=c1", dataUrl.Query);

        var connection = MakeConnection(sessions);
        Watch(connection);
        AwaitAssert(() => Assert.Equal(new[] { "c1" }, DataConnections(tunnel)));
        // A repeated `connected` for a phone that has its socket opens no second one.
        Say(control, new JsonObject { ["type"] = "connected", ["connectionId"] = "c1" });
        sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        Say(control, new JsonObject { ["type"] = "disconnected", ["connectionId"] = "c1" });
        ExpectTerminated(connection);
        var closure = await data.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((CloseCodes.GoingAway, "Client disconnected"), (closure.Code, closure.Reason));
        Assert.Empty(DataConnections(tunnel));
    }

    [Fact]
    public async Task A_phone_that_leaves_while_its_socket_is_handed_over_is_disconnected_when_its_connection_reports_in()
    {
        var (tunnel, sessions) = StartTunnel();
        var (_, control) = await NextSocket();
        Say(control, new JsonObject { ["type"] = "connected", ["connectionId"] = "c2" });
        var (_, data) = await NextSocket();
        var connect = sessions.ExpectMsg<ClientSessionManager.Connect>();

        Say(control, new JsonObject { ["type"] = "disconnected", ["connectionId"] = "c2" });
        AwaitAssert(() => Assert.Empty(DataConnections(tunnel))); // the `disconnected` has been read
        var connection = Sys.ActorOf(connect.ChannelProps(CreateTestProbe().Ref));
        Watch(connection);
        ExpectTerminated(connection);
        Assert.Equal("Client disconnected", (await data.Closed.WaitAsync(TimeSpan.FromSeconds(5))).Reason);
        Assert.Empty(DataConnections(tunnel));
    }

    [Fact]
    public async Task A_new_identity_ends_every_data_connection_through_its_actor_and_reconnects_the_control()
    {
        var (tunnel, sessions) = StartTunnel();
        var (_, control) = await NextSocket();
        Say(control, new JsonObject { ["type"] = "sync", ["connectionIds"] = new JsonArray("a", "b") });
        var first = await NextSocket();
        var second = await NextSocket();
        var connections = new[] { MakeConnection(sessions), MakeConnection(sessions) };
        foreach (var connection in connections) Watch(connection);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b" }, DataConnections(tunnel)));

        var rotated = DaemonIdentity.Rotate(new PaseoHome(_home), new Dictionary<string, string?>());
        Sys.EventStream.Publish(new PaseoGuardianProtocol.IdentityChanged(rotated));
        // Both end, in whichever order they get to it.
        var ended = new[] { ExpectMsg<Terminated>().ActorRef, ExpectMsg<Terminated>().ActorRef };
        Assert.Equal(connections.Select(c => c.Path.ToString()).Order(), ended.Select(c => c.Path.ToString()).Order());
        foreach (var (_, relayEnd) in new[] { first, second })
            Assert.Equal("Server restarting", (await relayEnd.Closed.WaitAsync(TimeSpan.FromSeconds(5))).Reason);
        var (url, _) = await NextSocket();
        Assert.Contains(Uri.EscapeDataString(rotated.ServerId.Value), url.Query);
        Assert.Empty(DataConnections(tunnel));
    }
}
