using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sodium;

namespace Paseo.Transport.Crypto;

/// <summary>A Curve25519 keypair as NaCl's box uses it (32-byte public and secret keys).</summary>
public sealed record BoxKeyPair(byte[] PublicKey, byte[] SecretKey)
{
    public static BoxKeyPair Generate()
    {
        using var pair = PublicKeyBox.GenerateKeyPair();
        return new BoxKeyPair(pair.PublicKey.ToArray(), pair.PrivateKey.ToArray());
    }

    /// <summary>The public key that belongs to a secret key (X25519 base-point multiplication).</summary>
    public static byte[] PublicKeyOf(byte[] secretKey) => ScalarMult.Base(secretKey);
}

/// <summary>
/// The NaCl box primitives of the relay's end-to-end encryption (relay-e2ee.md §2.1): the shared key is
/// crypto_box_beforenm, computed once per connection; each frame is crypto_secretbox with it.
/// </summary>
public static partial class NaclBox
{
    public const int KeyBytes = 32;
    public const int NonceBytes = 24;
    public const int TagBytes = 16;

    static NaclBox() => SodiumCore.Init();

    /// <summary>
    /// Derives the shared key, refusing peer keys that make it predictable: libsodium fails on an all-zero X25519
    /// result (every low-order point gives one), where tweetnacl would go on with a constant, public key.
    /// </summary>
    public static byte[] SharedKey(ReadOnlySpan<byte> peerPublicKey, ReadOnlySpan<byte> ourSecretKey)
    {
        if (peerPublicKey.Length != KeyBytes) throw new CryptographicException($"a public key has {KeyBytes} bytes, got {peerPublicKey.Length}");
        if (ourSecretKey.Length != KeyBytes) throw new CryptographicException($"a secret key has {KeyBytes} bytes, got {ourSecretKey.Length}");
        var key = new byte[KeyBytes];
        if (crypto_box_beforenm(key, peerPublicKey, ourSecretKey) != 0)
            throw new CryptographicException("the peer public key is a low-order point (the shared key would be public)");
        return key;
    }

    /// <summary>tag ‖ ciphertext of a message, as tweetnacl's box.after returns it.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> nonce, byte[] sharedKey) =>
        SecretBox.Create(plaintext.ToArray(), nonce.ToArray(), sharedKey);

    /// <summary>Opens tag ‖ ciphertext; null when the tag does not verify.</summary>
    public static byte[]? Open(ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> nonce, byte[] sharedKey)
    {
        if (sealedMessage.Length < TagBytes) return null;
        try
        {
            return SecretBox.Open(sealedMessage.ToArray(), nonce.ToArray(), sharedKey);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    [LibraryImport("libsodium")]
    private static partial int crypto_box_beforenm(Span<byte> k, ReadOnlySpan<byte> pk, ReadOnlySpan<byte> sk);
}
