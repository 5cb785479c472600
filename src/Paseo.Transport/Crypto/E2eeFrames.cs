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
        // One buffer for the whole bundle: the nonce first, then libsodium writes tag ‖ ciphertext after it.
        var bundle = new byte[NaclBox.NonceBytes + NaclBox.TagBytes + plaintext.Length];
        var nonceSpan = bundle.AsSpan(0, NaclBox.NonceBytes);
        if (nonce is null) RandomNumberGenerator.Fill(nonceSpan);
        else nonce.CopyTo(nonceSpan);
        NaclBox.Seal(plaintext, nonceSpan, sharedKey, bundle.AsSpan(NaclBox.NonceBytes));
        return (Convert.ToBase64String(bundle), nonceSpan.ToArray());
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
        var s = text.Trim().Replace('-', '+').Replace('_', '/');
        var pad = s.Length % 4;
        if (pad == 1) return null;
        if (pad > 0) s += new string('=', 4 - pad);
        var buffer = new byte[s.Length / 4 * 3];
        return Convert.TryFromBase64String(s, buffer, out var written) ? buffer[..written] : null;
    }

    /// <summary>Decrypts a ciphertext frame. On success returns the plaintext and the frame's nonce.</summary>
    public static (byte[]? Plaintext, byte[]? Nonce, DecryptFailure Failure) Decrypt(string text, byte[] sharedKey)
    {
        var bundle = DecodeBase64Lenient(text);
        if (bundle is null || bundle.Length < NaclBox.NonceBytes) return (null, null, DecryptFailure.TooShort);
        var nonce = bundle[..NaclBox.NonceBytes];
        var sealedMessage = bundle.AsSpan(NaclBox.NonceBytes);
        if (sealedMessage.Length < NaclBox.TagBytes) return (null, nonce, DecryptFailure.DecryptionFailed);
        var plaintext = new byte[sealedMessage.Length - NaclBox.TagBytes];
        return NaclBox.Open(sealedMessage, nonce, sharedKey, plaintext)
            ? (plaintext, nonce, DecryptFailure.None)
            : (null, nonce, DecryptFailure.DecryptionFailed);
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
