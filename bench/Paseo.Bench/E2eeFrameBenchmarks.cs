using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Paseo.Transport.Crypto;

namespace Paseo.Bench;

/// <summary>
/// One encrypt + one decrypt of an application message: our wire codec (random nonce, base64 text frame, lenient
/// decode) beside raw libsodium secretbox on preallocated buffers, which is the floor. Issue #3's goal: the codec
/// within 1.5× of raw secretbox at 64 KiB.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(DaemonRuntimeConfig))]
public class E2eeFrameBenchmarks
{
    [Params(1024, 64 * 1024)]
    public int Size { get; set; }

    private byte[] _key = null!;
    private byte[] _plaintext = null!;
    private byte[] _nonce = null!;
    private byte[] _sealed = null!;
    private byte[] _opened = null!;

    [GlobalSetup]
    public void Setup()
    {
        var daemon = BoxKeyPair.Generate();
        var client = BoxKeyPair.Generate();
        _key = NaclBox.SharedKey(client.PublicKey, daemon.SecretKey);
        _plaintext = RandomNumberGenerator.GetBytes(Size);
        _nonce = RandomNumberGenerator.GetBytes(NaclBox.NonceBytes);
        _sealed = new byte[NaclBox.TagBytes + Size];
        _opened = new byte[Size];
    }

    [Benchmark(Baseline = true, Description = "raw secretbox seal+open")]
    public bool RawSecretbox()
    {
        NaclBox.Seal(_plaintext, _nonce, _key, _sealed);
        return NaclBox.Open(_sealed, _nonce, _key, _opened);
    }

    [Benchmark(Description = "codec encrypt+decrypt (text frame)")]
    public int Codec()
    {
        var (frame, _) = E2eeFrames.Encrypt(_plaintext, _key);
        var (plaintext, _, failure) = E2eeFrames.Decrypt(frame, _key);
        return failure == DecryptFailure.None ? plaintext!.Length : -1;
    }
}
