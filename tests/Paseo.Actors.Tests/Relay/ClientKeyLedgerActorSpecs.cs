using Akka.Actor;
using Paseo.Actors.Guardian;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.ClientKeys.ClientKeyLedgerProtocol;

namespace Paseo.Actors.Tests.Relay;

/// <summary>The one owner of the ledger file: claims answered once on disk, replays and a full ledger refused, a new keypair starts anew.</summary>
public sealed class ClientKeyLedgerActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-ledger-").FullName;
    private readonly BoxKeyPair _daemon = BoxKeyPair.Generate();

    private string LedgerFile => Path.Combine(_dir, ClientKeyLedger.FileName);

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    private IActorRef Create(int capacity = 100) =>
        Sys.ActorOf(ClientKeyLedgerActor.Props(ClientKeyLedger.Open(LedgerFile, _daemon.PublicKey, capacity), _daemon.PublicKey));

    [Fact]
    public void A_key_is_claimed_once_on_disk_and_refused_as_a_replay_even_by_a_new_ledger_actor()
    {
        var client = BoxKeyPair.Generate().PublicKey;
        var ledger = Create();
        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, client));
        ExpectMsg<ClientKeyClaimed>();
        Assert.Equal(1, ClientKeyLedger.CountIn(LedgerFile)); // on disk by the time the answer came

        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, client));
        Assert.Contains("replayed handshake", ExpectMsg<ClientKeyRefused>().Detail);

        // A restart of the actor (or of the daemon) reads the same file.
        Watch(ledger);
        Sys.Stop(ledger);
        ExpectTerminated(ledger);
        var restarted = Create();
        restarted.Tell(new ClaimClientKey(_daemon.PublicKey, client));
        Assert.Contains("replayed handshake", ExpectMsg<ClientKeyRefused>().Detail);
    }

    [Fact]
    public void A_full_ledger_refuses_new_connections_says_so_in_the_log_and_evicts_nothing()
    {
        var first = BoxKeyPair.Generate().PublicKey;
        var ledger = Create(capacity: 1);
        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, first));
        ExpectMsg<ClientKeyClaimed>();

        EventFilter.Error(contains: "client key ledger is full").ExpectOne(() =>
            ledger.Tell(new ClaimClientKey(_daemon.PublicKey, BoxKeyPair.Generate().PublicKey)));
        Assert.Contains("ledger is full (1 keys", ExpectMsg<ClientKeyRefused>().Detail);
        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, first));
        Assert.Contains("replayed", ExpectMsg<ClientKeyRefused>().Detail);
        ledger.Tell(GetLedgerState.Instance);
        Assert.Equal((1, 1), ExpectMsg<LedgerState>() is var state ? (state.Count, state.Capacity) : default);
    }

    [Fact]
    public void A_new_keypair_starts_an_empty_ledger_and_claims_for_the_old_one_are_refused()
    {
        var client = BoxKeyPair.Generate().PublicKey;
        var ledger = Create();
        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, client));
        ExpectMsg<ClientKeyClaimed>();

        var rotated = new DaemonIdentity(ServerId.New(), BoxKeyPair.Generate());
        Sys.EventStream.Publish(new PaseoGuardianProtocol.IdentityChanged(rotated));

        AwaitAssert(() =>
        {
            ledger.Tell(GetLedgerState.Instance);
            Assert.Equal(0, ExpectMsg<LedgerState>().Count);
        });
        ledger.Tell(new ClaimClientKey(rotated.KeyPair.PublicKey, client));
        ExpectMsg<ClientKeyClaimed>();
        ledger.Tell(new ClaimClientKey(_daemon.PublicKey, BoxKeyPair.Generate().PublicKey));
        Assert.Contains("keypair changed", ExpectMsg<ClientKeyRefused>().Detail);
        Assert.Equal(1, ClientKeyLedger.CountIn(LedgerFile));
    }
}
