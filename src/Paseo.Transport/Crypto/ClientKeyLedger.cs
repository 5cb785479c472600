namespace Paseo.Transport.Crypto;

/// <summary>
/// Cross-connection replay protection, shared by every relay connection of the daemon. The daemon's key never changes,
/// so a relay that recorded a client's `e2ee_hello` and its frames could open a new connection and play them again:
/// the same client key gives the same shared key, and a fresh connection starts with an empty nonce ledger. Paseo's
/// clients make a new ephemeral key for every connection, so a key seen before is refused. Memory is bounded: the
/// oldest keys are forgotten first (~60 bytes each), and rotating the daemon's keypair makes every old recording useless.
/// </summary>
public sealed class ClientKeyLedger(int capacity)
{
    private readonly Lock _gate = new();
    private readonly HashSet<(UInt128, UInt128)> _seen = [];
    private readonly Queue<(UInt128, UInt128)> _order = new();

    public int Count
    {
        get { lock (_gate) return _seen.Count; }
    }

    /// <summary>Records a client key for a new connection; false when an earlier connection already used it (a replay).</summary>
    public bool TryClaim(ReadOnlySpan<byte> clientPublicKey)
    {
        if (clientPublicKey.Length != NaclBox.KeyBytes) throw new ArgumentException("a public key has 32 bytes", nameof(clientPublicKey));
        var id = (new UInt128(BitConverter.ToUInt64(clientPublicKey[..8]), BitConverter.ToUInt64(clientPublicKey[8..16])),
                  new UInt128(BitConverter.ToUInt64(clientPublicKey[16..24]), BitConverter.ToUInt64(clientPublicKey[24..32])));
        lock (_gate)
        {
            if (!_seen.Add(id)) return false;
            _order.Enqueue(id);
            if (_order.Count > capacity) _seen.Remove(_order.Dequeue());
            return true;
        }
    }
}
