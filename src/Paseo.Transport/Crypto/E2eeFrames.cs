using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Paseo.Transport.Crypto;

/// <summary>What an inbound text frame on a relay data socket is (relay-e2ee.md §2.6).</summary>
public abstract record InboundFrame
{
    /// <summary>`{"type":"e2ee_hello","key":"..."}`: the peer's public key, still base64.</summary>
    public sealed record Hello(string Key) : InboundFrame;

    /// <summary>`{"type":"e2ee_ready"}`.</summary>
    public sealed record Ready : InboundFrame
    {
        public static readonly Ready Instance = new();
    }

    /// <summary>Any other JSON object: plaintext where ciphertext belongs, fatal once the channel is open.</summary>
    public sealed record PlaintextJson(string Type) : InboundFrame;

    /// <summary>Anything else is taken as a base64 ciphertext bundle.</summary>
    public sealed record Ciphertext(string Text) : InboundFrame;
}

/// <summary>Why an inbound ciphertext did not open. Each closes the connection with 1011 and the message as reason.</summary>
public enum DecryptFailure
{
    None,
    /// <summary>"Ciphertext bundle too short": fewer than 24 bytes, or not base64 at all.</summary>
    TooShort,
    /// <summary>"Decryption failed": the tag does not verify (tampered, wrong key, truncated).</summary>
    DecryptionFailed,
}

/// <summary>
/// The relay's end-to-end encrypted frames: handshake JSON, and `base64(nonce[24] ‖ tag[16] ‖ ciphertext)` text
/// frames for every application message, byte-compatible with Paseo's tweetnacl clients (relay-e2ee.md §2.2, §2.5).
/// </summary>
public static class E2eeFrames
{
    public const string ReadyFrame = "{\"type\":\"e2ee_ready\"}";
    public const string TooShortMessage = "Ciphertext bundle too short";
    public const string DecryptionFailedMessage = "Decryption failed";
    public const string PlaintextOnEncryptedChannelMessage = "Received plaintext frame on encrypted channel";
    public const string HandshakeFailedMessage = "E2EE handshake failed";
    // Beyond Paseo (relay-e2ee.md §7): reasons for the protections Paseo lacks, each closing with 1011 (1009 for size).
    public const string ReplayedFrameMessage = "Replayed frame";
    public const string ReflectedFrameMessage = "Reflected frame";
    public const string FrameBudgetExhaustedMessage = "Frame budget exhausted, reconnect";
    public const string FrameTooLargeMessage = "Frame too large";

    public static string HelloFrame(ReadOnlySpan<byte> publicKey) =>
        "{\"type\":\"e2ee_hello\",\"key\":\"" + Convert.ToBase64String(publicKey) + "\"}";

    /// <summary>Encrypts one message with a fresh random nonce (or the given one, for vectors); returns the text frame and the nonce.</summary>
    public static (string Frame, byte[] Nonce) Encrypt(ReadOnlySpan<byte> plaintext, byte[] sharedKey, byte[]? nonce = null)
    {
        // One pooled buffer for the whole bundle: the nonce first, then libsodium writes tag ‖ ciphertext after it.
        // Only the text frame itself is allocated (large frames would otherwise put a second copy on the LOH).
        var length = NaclBox.NonceBytes + NaclBox.TagBytes + plaintext.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var bundle = rented.AsSpan(0, length);
            var nonceSpan = bundle[..NaclBox.NonceBytes];
            if (nonce is null) RandomNumberGenerator.Fill(nonceSpan);
            else nonce.CopyTo(nonceSpan);
            NaclBox.Seal(plaintext, nonceSpan, sharedKey, bundle[NaclBox.NonceBytes..]);
            return (ToBase64(bundle), nonceSpan.ToArray());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // Base64 through the vectorized UTF-8 codec, then widened to a string: several times faster than Convert's
    // char-based path for large frames (bench/README.md).
    private static string ToBase64(ReadOnlySpan<byte> bytes)
    {
        var length = Base64.GetMaxEncodedToUtf8Length(bytes.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Base64.EncodeToUtf8(bytes, rented, out _, out var written);
            return Encoding.Latin1.GetString(rented, 0, written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Classifies an inbound text frame: handshake JSON, other JSON, or ciphertext.</summary>
    public static InboundFrame Classify(string text)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length > 0 && trimmed[0] == '{')
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                var type = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                if (type == "e2ee_hello" && root.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.String)
                    return new InboundFrame.Hello(key.GetString()!);
                if (type == "e2ee_ready") return InboundFrame.Ready.Instance;
                return new InboundFrame.PlaintextJson(type);
            }
            catch (JsonException)
            {
                // Not JSON after all: treat it as ciphertext (base64 never starts with '{', so this fails to decrypt).
            }
        }
        return new InboundFrame.Ciphertext(text);
    }

    /// <summary>Base64 the way Paseo's receivers read it: trimmed, url-safe characters mapped, padding restored. Null if not base64.</summary>
    public static byte[]? DecodeBase64Lenient(string text)
    {
        var length = DecodedLength(text.AsSpan().Trim());
        if (length < 0) return null;
        var output = new byte[length];
        return TryDecodeBase64Lenient(text, output) ? output : null;
    }

    /// <summary>The byte count <paramref name="chars"/> decodes to (after the lenient fix-ups), or -1 when it cannot be base64.</summary>
    private static int DecodedLength(ReadOnlySpan<char> chars)
    {
        if (chars.Length % 4 == 1) return -1;
        var padded = (chars.Length + 3) / 4 * 4;
        var padding = chars.Length % 4 == 0 ? (chars.EndsWith("==") ? 2 : chars.EndsWith("=") ? 1 : 0) : padded - chars.Length;
        return padded / 4 * 3 - padding;
    }

    /// <summary>Decodes into <paramref name="output"/>, which must be exactly the decoded length. Standard padded base64 decodes in place, without copies.</summary>
    private static bool TryDecodeBase64Lenient(string text, Span<byte> output)
    {
        // Narrowed to bytes (anything outside Latin-1 becomes '?', which is not base64) and decoded with the
        // vectorized UTF-8 codec. Url-safe characters and missing padding, which Paseo's receivers accept, are fixed first.
        var chars = text.AsSpan().Trim();
        var padded = (chars.Length + 3) / 4 * 4;
        var rented = ArrayPool<byte>.Shared.Rent(padded);
        try
        {
            var utf8 = rented.AsSpan(0, padded);
            Encoding.Latin1.GetBytes(chars, utf8);
            var body = utf8[..chars.Length];
            if (body.ContainsAny((byte)'-', (byte)'_'))
            {
                body.Replace((byte)'-', (byte)'+');
                body.Replace((byte)'_', (byte)'/');
            }
            utf8[chars.Length..].Fill((byte)'=');
            return Base64.DecodeFromUtf8(utf8, output, out _, out var written) == OperationStatus.Done && written == output.Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Decrypts a ciphertext frame. On success returns the plaintext and the frame's nonce.</summary>
    public static (byte[]? Plaintext, byte[]? Nonce, DecryptFailure Failure) Decrypt(string text, byte[] sharedKey)
    {
        var length = DecodedLength(text.AsSpan().Trim());
        if (length < NaclBox.NonceBytes) return (null, null, DecryptFailure.TooShort);
        // The bundle lives in a pooled buffer; only the plaintext and the nonce are allocated.
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var bundle = rented.AsSpan(0, length);
            if (!TryDecodeBase64Lenient(text, bundle)) return (null, null, DecryptFailure.TooShort);
            var nonce = bundle[..NaclBox.NonceBytes].ToArray();
            var sealedMessage = bundle[NaclBox.NonceBytes..];
            if (sealedMessage.Length < NaclBox.TagBytes) return (null, nonce, DecryptFailure.DecryptionFailed);
            var plaintext = new byte[sealedMessage.Length - NaclBox.TagBytes];
            return NaclBox.Open(sealedMessage, nonce, sharedKey, plaintext)
                ? (plaintext, nonce, DecryptFailure.None)
                : (null, nonce, DecryptFailure.DecryptionFailed);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Decodes a peer key from a hello: standard or url-safe base64, exactly 32 bytes; null otherwise.</summary>
    public static byte[]? DecodePublicKey(string key)
    {
        if (string.IsNullOrWhiteSpace(key)) return null;
        var bytes = DecodeBase64Lenient(key);
        return bytes is { Length: NaclBox.KeyBytes } ? bytes : null;
    }

    /// <summary>Paseo delivers a decrypted payload as text when it is valid UTF-8, else as bytes (§2.5).</summary>
    public static bool IsUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}
