namespace Paseo.Transport.Crypto;

public enum NonceVerdict
{
    Fresh,
    /// <summary>The peer sent this nonce before: a replayed frame.</summary>
    Replayed,
    /// <summary>This side sent this nonce: our own frame bounced back (reflection; one key serves both directions).</summary>
    Reflected,
    /// <summary>The connection has used up its frame budget and must re-handshake (keeps memory bounded).</summary>
    Exhausted,
}

/// <summary>
/// Replay and reflection protection for one encrypted connection, compatible with Paseo's clients (which pick a
/// random nonce per frame): remembers every nonce received and sent. Memory is bounded by a frame budget per
/// direction; a connection that exhausts it is closed, and the peer reconnects with a fresh key.
/// </summary>
public sealed class NonceLedger(int maxFramesPerDirection)
{
    private readonly HashSet<(UInt128, ulong)> _received = [];
    private readonly HashSet<(UInt128, ulong)> _sent = [];

    public int Received => _received.Count;
    public int Sent => _sent.Count;

    public NonceVerdict CheckInbound(ReadOnlySpan<byte> nonce)
    {
        var id = Id(nonce);
        if (_sent.Contains(id)) return NonceVerdict.Reflected;
        if (_received.Contains(id)) return NonceVerdict.Replayed;
        if (_received.Count >= maxFramesPerDirection) return NonceVerdict.Exhausted;
        _received.Add(id);
        return NonceVerdict.Fresh;
    }

    /// <summary>Records a nonce this side sent. False when the budget is used up (the connection must be closed).</summary>
    public bool RecordOutbound(ReadOnlySpan<byte> nonce)
    {
        if (_sent.Count >= maxFramesPerDirection) return false;
        _sent.Add(Id(nonce));
        return true;
    }

    // The whole 24-byte nonce as a value (no string or array per frame): ~48 bytes of set entry per frame.
    private static (UInt128, ulong) Id(ReadOnlySpan<byte> nonce)
    {
        if (nonce.Length != NaclBox.NonceBytes) throw new ArgumentException("a nonce has 24 bytes", nameof(nonce));
        return (new UInt128(BitConverter.ToUInt64(nonce[..8]), BitConverter.ToUInt64(nonce[8..16])), BitConverter.ToUInt64(nonce[16..24]));
    }
}
