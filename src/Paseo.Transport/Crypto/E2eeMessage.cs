using System.Text;

namespace Paseo.Transport.Crypto;

/// <summary>
/// One application message inside the encrypted tunnel. Paseo has no text/binary flag on the wire: a decrypted
/// payload that is valid UTF-8 is text, anything else is binary (relay-e2ee.md §2.5).
/// </summary>
public sealed record E2eeMessage(ReadOnlyMemory<byte> Bytes, bool IsText)
{
    public static E2eeMessage FromText(string text) => new(Encoding.UTF8.GetBytes(text), true);
    public static E2eeMessage FromBytes(ReadOnlyMemory<byte> bytes) => new(bytes, false);

    /// <summary>Classifies decrypted bytes as Paseo does.</summary>
    public static E2eeMessage Decrypted(byte[] plaintext) => new(plaintext, E2eeFrames.IsUtf8(plaintext));

    public string Text => IsText ? Encoding.UTF8.GetString(Bytes.Span) : throw new InvalidOperationException("a binary message has no text");

    public override string ToString() => IsText ? $"text({Bytes.Length} B)" : $"binary({Bytes.Length} B)";
}
