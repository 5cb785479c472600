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

    /// <summary>
    /// Writes tag ‖ ciphertext of a message (tweetnacl's box.after) into <paramref name="output"/>, which must hold
    /// exactly <see cref="TagBytes"/> + plaintext length bytes. No intermediate copies: this is the per-frame path.
    /// </summary>
    public static void Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sharedKey, Span<byte> output)
    {
        CheckSizes(nonce, sharedKey);
        if (output.Length != TagBytes + plaintext.Length) throw new ArgumentException("output must be tag + plaintext long", nameof(output));
        if (crypto_secretbox_easy(output, plaintext, (ulong)plaintext.Length, nonce, sharedKey) != 0)
            throw new CryptographicException("encryption failed");
    }

    /// <summary>Opens tag ‖ ciphertext into <paramref name="plaintext"/> (its length minus the tag); false when the tag does not verify.</summary>
    public static bool Open(ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sharedKey, Span<byte> plaintext)
    {
        CheckSizes(nonce, sharedKey);
        if (sealedMessage.Length < TagBytes || plaintext.Length != sealedMessage.Length - TagBytes) return false;
        return crypto_secretbox_open_easy(plaintext, sealedMessage, (ulong)sealedMessage.Length, nonce, sharedKey) == 0;
    }

    private static void CheckSizes(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        if (nonce.Length != NonceBytes) throw new ArgumentException($"a nonce has {NonceBytes} bytes", nameof(nonce));
        if (key.Length != KeyBytes) throw new ArgumentException($"a key has {KeyBytes} bytes", nameof(key));
    }

    // Sodium.Core exposes neither beforenm nor span-based secretbox; the native library it ships exports both.
    [LibraryImport("libsodium")]
    private static partial int crypto_box_beforenm(Span<byte> k, ReadOnlySpan<byte> pk, ReadOnlySpan<byte> sk);

    [LibraryImport("libsodium")]
    private static partial int crypto_secretbox_easy(Span<byte> c, ReadOnlySpan<byte> m, ulong mlen, ReadOnlySpan<byte> n, ReadOnlySpan<byte> k);

    [LibraryImport("libsodium")]
    private static partial int crypto_secretbox_open_easy(Span<byte> m, ReadOnlySpan<byte> c, ulong clen, ReadOnlySpan<byte> n, ReadOnlySpan<byte> k);
}
