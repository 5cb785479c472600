using Akka.Configuration;

namespace Paseo.Actors.Relay.Handshake;

/// <summary>
/// Limits of one encrypted relay connection, from `paseo.e2ee` in paseo.hocon.
/// </summary>
/// <param name="HelloTimeout">How long a new data socket may stay silent before its `e2ee_hello` (then 1011).</param>
/// <param name="MaxFrameBytes">Largest frame accepted, checked before any decoding (larger closes with 1009).</param>
/// <param name="MaxFramesPerDirection">Frames each way before the connection is closed and the peer must re-handshake; bounds the nonce sets.</param>
/// <param name="MaxHelloBytes">Largest first frame: a hello is under 100 bytes, so nothing big is parsed before the handshake (larger closes with 1009).</param>
/// <param name="RememberedClientKeys">Client keys remembered on disk across connections and restarts to refuse a replayed handshake; at this many, new connections are refused until the pairing is rotated.</param>
public sealed record HandshakeSettings(TimeSpan HelloTimeout, int MaxFrameBytes, int MaxFramesPerDirection, int MaxHelloBytes, int RememberedClientKeys)
{
    public static readonly HandshakeSettings Default = new(TimeSpan.FromSeconds(10), 16 * 1024 * 1024, 100_000, 1024, 1_000_000);

    /// <summary>Reads the `paseo.e2ee` section; throws <see cref="ArgumentException"/> naming the key that is wrong.</summary>
    public static HandshakeSettings From(Config e2ee)
    {
        var timeout = e2ee.GetTimeSpan("hello-timeout");
        if (timeout <= TimeSpan.Zero) throw new ArgumentException("paseo.e2ee.hello-timeout must be positive");
        var maxFrame = e2ee.GetByteSize("max-frame-bytes") ?? throw new ArgumentException("paseo.e2ee.max-frame-bytes is missing");
        if (maxFrame is < 1024 or > int.MaxValue) throw new ArgumentException("paseo.e2ee.max-frame-bytes must be from 1k to 2g");
        var frames = e2ee.GetInt("max-frames-per-direction");
        if (frames < 1) throw new ArgumentException("paseo.e2ee.max-frames-per-direction must be at least 1");
        var maxHello = e2ee.GetByteSize("max-hello-bytes") ?? throw new ArgumentException("paseo.e2ee.max-hello-bytes is missing");
        if (maxHello is < 128 or > 65536) throw new ArgumentException("paseo.e2ee.max-hello-bytes must be from 128 to 64k");
        var keys = e2ee.GetInt("remembered-client-keys");
        if (keys < 1) throw new ArgumentException("paseo.e2ee.remembered-client-keys must be at least 1");
        return new HandshakeSettings(timeout, (int)maxFrame, frames, (int)maxHello, keys);
    }
}
