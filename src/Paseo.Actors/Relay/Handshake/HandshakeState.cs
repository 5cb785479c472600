using Paseo.Transport.Crypto;

namespace Paseo.Actors.Relay.Handshake;

public enum HandshakeState
{
    /// <summary>The data socket is open; nothing but a valid `e2ee_hello` is accepted, within the hello timeout.</summary>
    AwaitingHello,
    /// <summary>
    /// A valid hello: the shared key is derived and `e2ee_ready` sent. The session knows nothing of the connection yet;
    /// the first frame that decrypts proves the peer holds the pairing offer.
    /// </summary>
    Keyed,
    /// <summary>
    /// The first message decrypted: its client key is being written to the ledger (replay protection that survives
    /// restarts). The message, and the channel, reach the session only once the key is on disk; the next frame is not
    /// read before that.
    /// </summary>
    ClaimingKey,
    /// <summary>Key derived and `e2ee_ready` sent: frames are decrypted and forwarded, sends encrypted.</summary>
    Open,
    /// <summary>
    /// Open, and a decrypted message is with the session, not yet taken: the socket owner reads the next frame only when
    /// the session has taken it (back-pressure from the session to the peer's TCP window).
    /// </summary>
    Delivering,
    /// <summary>Terminal: the socket was told to close; every later frame and send is dropped.</summary>
    Closed,
}

public abstract record HandshakeData
{
    public sealed record Waiting : HandshakeData
    {
        public static readonly Waiting Instance = new();
        private Waiting() { }
    }

    /// <summary>The connection's keys and its first decrypted message, held while the ledger records the peer's key.</summary>
    public sealed record Claiming(Keys Connection, E2eeMessage First) : HandshakeData;

    /// <summary>The peer's ephemeral key, the shared key derived once for the connection, and its nonce ledger.</summary>
    public sealed record Keys(byte[] PeerPublicKey, byte[] SharedKey, NonceLedger Nonces) : HandshakeData;

    /// <summary>Why the connection ended: the close code and reason on the wire, and the detail that went only to the log.</summary>
    public sealed record Ended(int Code, string Reason, string Detail) : HandshakeData;
}
