using Akka.Actor;
using BenchmarkDotNet.Attributes;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;

namespace Paseo.Bench;

/// <summary>
/// Handshakes per second through the daemon's real path, minus the socket: a <see cref="RelayConnectionActor"/> with
/// its <see cref="HandshakeFsm"/> over the in-memory transport, driven by the phone-side <see cref="E2eeClientChannel"/>
/// (fresh ephemeral key, hello, ready, a first message), until the session has the opened channel and that message. The
/// client key goes to a real ledger file, written and flushed to disk before the message is delivered, as in the daemon.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(DaemonRuntimeConfig))]
public class ConnectionHandshakeBenchmarks
{
    private ActorSystem _system = null!;
    private BoxKeyPair _daemon = null!;
    private string _daemonKey = null!;
    private IActorRef _clientKeys = null!;
    private string _ledgerDir = null!;

    [GlobalSetup]
    public void Setup()
    {
        // The ledger's dispatcher, as paseo.hocon defines it.
        _system = ActorSystem.Create("bench", "akka.loglevel = WARNING\nakka.actor.blocking-io-dispatcher { type = ForkJoinDispatcher, throughput = 1, dedicated-thread-pool.thread-count = 4 }");
        _daemon = BoxKeyPair.Generate();
        _daemonKey = Convert.ToBase64String(_daemon.PublicKey);
        _ledgerDir = Directory.CreateTempSubdirectory("paseo-bench-ledger-").FullName;
        var ledger = ClientKeyLedger.Open(Path.Combine(_ledgerDir, ClientKeyLedger.FileName), _daemon.PublicKey, HandshakeSettings.Default.RememberedClientKeys);
        _clientKeys = _system.ActorOf(ClientKeyLedgerActor.Props(ledger, _daemon.PublicKey));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _system.Terminate().Wait();
        Directory.Delete(_ledgerDir, recursive: true);
    }

    [Benchmark(Description = "connection actor + FSM: hello -> ready -> session opened")]
    public async Task Handshake()
    {
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair();
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var session = _system.ActorOf(Props.Create(() => new OpenedSignal(opened)));
        var connection = _system.ActorOf(RelayConnectionActor.Props(daemonEnd, _daemon, _clientKeys, session, HandshakeSettings.Default));
        var channel = E2eeClientChannel.Start(clientEnd, _daemonKey);
        await channel.Opened;
        // The session hears of the channel with its first message, once the client key is on disk.
        await channel.SendTextAsync("{\"type\":\"hello\"}");
        await opened.Task;
        channel.Close();
        _system.Stop(connection);
        _system.Stop(session);
    }

    private sealed class OpenedSignal : ReceiveActor
    {
        public OpenedSignal(TaskCompletionSource opened)
        {
            Receive<HandshakeProtocol.ChannelOpened>(_ => opened.TrySetResult());
            ReceiveAny(_ => { });
        }
    }
}
