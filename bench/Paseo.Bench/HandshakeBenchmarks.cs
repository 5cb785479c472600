using BenchmarkDotNet.Attributes;
using Paseo.Transport.Crypto;

namespace Paseo.Bench;

/// <summary>
/// The cost of one E2EE handshake. Daemon side: classify the hello, decode the key, derive the shared key
/// (crypto_box_beforenm, with its low-order check), emit e2ee_ready. Both sides adds the client's ephemeral keypair
/// and its own derivation. Raw beforenm is the floor.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(DaemonRuntimeConfig))]
public class HandshakeBenchmarks
{
    private BoxKeyPair _daemon = null!;
    private BoxKeyPair _client = null!;
    private string _hello = null!;

    [GlobalSetup]
    public void Setup()
    {
        _daemon = BoxKeyPair.Generate();
        _client = BoxKeyPair.Generate();
        _hello = E2eeFrames.HelloFrame(_client.PublicKey);
    }

    [Benchmark(Baseline = true, Description = "raw crypto_box_beforenm")]
    public byte[] RawBeforenm() => NaclBox.SharedKey(_client.PublicKey, _daemon.SecretKey);

    [Benchmark(Description = "daemon side: hello -> key -> ready")]
    public int DaemonSide()
    {
        var hello = (InboundFrame.Hello)E2eeFrames.Classify(_hello);
        var key = NaclBox.SharedKey(E2eeFrames.DecodePublicKey(hello.Key)!, _daemon.SecretKey);
        return key.Length + E2eeFrames.ReadyFrame.Length;
    }

    [Benchmark(Description = "both sides: ephemeral keypair, hello, both keys")]
    public int BothSides()
    {
        var client = BoxKeyPair.Generate();
        var clientKey = NaclBox.SharedKey(_daemon.PublicKey, client.SecretKey);
        var hello = (InboundFrame.Hello)E2eeFrames.Classify(E2eeFrames.HelloFrame(client.PublicKey));
        var daemonKey = NaclBox.SharedKey(E2eeFrames.DecodePublicKey(hello.Key)!, _daemon.SecretKey);
        return clientKey.Length + daemonKey.Length;
    }
}
