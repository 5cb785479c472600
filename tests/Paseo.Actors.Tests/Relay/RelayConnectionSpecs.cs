using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Tests.Support;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Configuration;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;
using Paseo.Transport.Pairing;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Tests.Relay;

/// <summary>
/// The phone-side channel and the daemon's connection actor talking over the in-memory transport: the whole E2EE
/// path except the relay socket itself, with identities loaded from real files.
/// </summary>
public sealed class RelayConnectionSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _home = Directory.CreateTempSubdirectory("paseo-actors-").FullName;

    void IDisposable.Dispose()
    {
        Directory.Delete(_home, recursive: true);
        Shutdown();
    }

    private (E2eeClientChannel Client, TestProbe Session, IActorRef Connection, InMemoryFrameTransport DaemonEnd) Connect(DaemonIdentity daemon, string offerKey)
    {
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair(capacity: 16);
        var session = CreateTestProbe();
        var ledger = ClientKeyLedger.Open(Path.Combine(_home, ClientKeyLedger.FileName), daemon.KeyPair.PublicKey, 100);
        var clientKeys = Sys.ActorOf(ClientKeyLedgerActor.Props(ledger, daemon.KeyPair.PublicKey));
        var connection = Sys.ActorOf(RelayConnectionActor.Props(daemonEnd, daemon.KeyPair, clientKeys, session.Ref, HandshakeSettings.Default));
        var client = E2eeClientChannel.Start(clientEnd, offerKey);
        return (client, session, connection, daemonEnd);
    }

    [Fact]
    public async Task A_paired_client_and_the_daemon_exchange_messages_both_ways()
    {
        var identity = DaemonIdentity.LoadOrCreate(new PaseoHome(_home), new Dictionary<string, string?>());
        var offer = new ConnectionOffer(identity.ServerId.Value, Convert.ToBase64String(identity.KeyPair.PublicKey), "127.0.0.1:1");
        var (client, session, _, _) = Connect(identity, ConnectionOffer.ParseUrl(offer.ToUrl("http://localhost")).DaemonPublicKeyB64);

        await client.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_1\",\"clientType\":\"cli\",\"protocolVersion\":1}");
        await client.Opened.WaitAsync(Wait);
        var channel = session.ExpectMsg<ChannelOpened>().Channel;
        Assert.Contains("\"clientId\":\"cid_1\"", session.ExpectMsg<MessageReceived>().Message.Text);

        channel.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")));
        var reply = await client.Messages.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("{\"type\":\"pong\"}", reply.Text);
    }

    [Fact]
    public async Task After_rotation_an_old_offer_no_longer_opens_the_daemons_frames()
    {
        var home = new PaseoHome(_home);
        var env = new Dictionary<string, string?>();
        var before = DaemonIdentity.LoadOrCreate(home, env);
        var oldOfferKey = Convert.ToBase64String(before.KeyPair.PublicKey);
        var after = DaemonIdentity.Rotate(home, env);

        var (client, session, connection, _) = Connect(after, oldOfferKey);
        Watch(connection);
        await client.Opened.WaitAsync(Wait);
        // The client encrypts to the old key: the daemon cannot open it and closes 1011; the session never hears of it.
        await client.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_old\"}");

        var closure = await client.Closed.WaitAsync(Wait);
        Assert.Equal((1011, "Decryption failed"), (closure.Code, closure.Reason));
        ExpectTerminated(connection);
        session.ExpectNoMsg(TimeSpan.Zero);
    }

    [Fact]
    public async Task The_client_leaving_tells_the_session_and_stops_the_connection()
    {
        var identity = DaemonIdentity.LoadOrCreate(new PaseoHome(_home), new Dictionary<string, string?>());
        var (client, session, connection, _) = Connect(identity, Convert.ToBase64String(identity.KeyPair.PublicKey));
        Watch(connection);
        await client.Opened.WaitAsync(Wait);
        await client.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_leaving\"}");
        var channel = session.ExpectMsg<ChannelOpened>().Channel;
        session.ExpectMsg<MessageReceived>();
        channel.Tell(MessageTaken.Instance, session.Ref);

        client.Close(CloseCodes.GoingAway, "Client disconnected");

        var closed = session.ExpectMsg<ChannelClosed>();
        Assert.Equal((1001, "Client disconnected"), (closed.Code, closed.Reason));
        ExpectTerminated(connection);
    }

    [Fact]
    public async Task A_peer_that_does_not_read_is_disconnected_instead_of_growing_memory()
    {
        var identity = DaemonIdentity.LoadOrCreate(new PaseoHome(_home), new Dictionary<string, string?>());
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair(capacity: 16);
        var session = CreateTestProbe();
        var clientKeys = Sys.ActorOf(ClientKeyLedgerActor.Props(ClientKeyLedger.Open(Path.Combine(_home, ClientKeyLedger.FileName), identity.KeyPair.PublicKey, 100), identity.KeyPair.PublicKey));
        var connection = Sys.ActorOf(RelayConnectionActor.Props(daemonEnd, identity.KeyPair, clientKeys, session.Ref, HandshakeSettings.Default));
        Watch(connection);
        // A raw client: it says hello, reads the ready, sends one message, and then never reads again.
        var clientKeys2 = BoxKeyPair.Generate();
        await clientEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.HelloFrame(clientKeys2.PublicKey)));
        Assert.Equal(new WireFrame.Text(E2eeFrames.ReadyFrame), await clientEnd.Inbound.ReadAsync().AsTask().WaitAsync(Wait));
        var shared = NaclBox.SharedKey(identity.KeyPair.PublicKey, clientKeys2.SecretKey);
        await clientEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt("{\"type\":\"hello\"}"u8, shared).Frame));
        var channel = session.ExpectMsg<ChannelOpened>().Channel;
        session.ExpectMsg<MessageReceived>();

        for (var i = 0; i < 64; i++) channel.Tell(new Send(E2eeMessage.FromText($"{{\"n\":{i}}}")));

        var closed = session.ExpectMsg<ChannelClosed>();
        Assert.Equal((1013, "Outbound buffer full"), (closed.Code, closed.Reason));
        ExpectTerminated(connection);
        Assert.Equal(1013, (await clientEnd.Closed.WaitAsync(Wait)).Code);
    }
}
