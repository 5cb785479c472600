using Akka.Actor;
using BenchmarkDotNet.Attributes;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;

namespace Paseo.Bench;

/// <summary>
/// Handshakes per second through the daemon's real path, minus the socket: a <see cref="RelayConnectionActor"/> with
/// its <see cref="HandshakeFsm"/> over the in-memory transport, driven by the phone-side <see cref="E2eeClientChannel"/>
/// (fresh ephemeral key, hello, ready), until the session has the opened channel.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(DaemonRuntimeConfig))]
public class ConnectionHandshakeBenchmarks
{
    private ActorSystem _system = null!;
    private BoxKeyPair _daemon = null!;
    private string _daemonKey = null!;
    private ClientKeyLedger _clientKeys = null!;

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
        _daemon = BoxKeyPair.Generate();
        _daemonKey = Convert.ToBase64String(_daemon.PublicKey);
        _clientKeys = new ClientKeyLedger(HandshakeSettings.Default.RememberedClientKeys);
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(Description = "connection actor + FSM: hello -> ready -> session opened")]
    public async Task Handshake()
    {
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair();
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var session = _system.ActorOf(Props.Create(() => new OpenedSignal(opened)));
        var connection = _system.ActorOf(RelayConnectionActor.Props(daemonEnd, _daemon, _clientKeys, session, HandshakeSettings.Default));
        var channel = E2eeClientChannel.Start(clientEnd, _daemonKey);
        await channel.Opened;
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
