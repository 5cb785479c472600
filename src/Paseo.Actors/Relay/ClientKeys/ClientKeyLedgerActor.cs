using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Guardian;
using Paseo.Transport.Identity;
using static Paseo.Actors.Relay.ClientKeys.ClientKeyLedgerProtocol;

namespace Paseo.Actors.Relay.ClientKeys;

/// <summary>The messages of the client key ledger (replay protection across relay connections).</summary>
public static class ClientKeyLedgerProtocol
{
    /// <summary>
    /// From a handshake: remember the key of this new connection, made with <paramref name="DaemonPublicKey"/>. Answered
    /// <see cref="ClientKeyClaimed"/> once the key is on disk, or <see cref="ClientKeyRefused"/>.
    /// </summary>
    public sealed record ClaimClientKey(byte[] DaemonPublicKey, byte[] ClientPublicKey);

    public sealed record ClientKeyClaimed
    {
        public static readonly ClientKeyClaimed Instance = new();
        private ClientKeyClaimed() { }
    }

    /// <summary>The connection must not open; <paramref name="Detail"/> is for the log (the peer only sees the handshake fail).</summary>
    public sealed record ClientKeyRefused(string Detail);

    public sealed record GetLedgerState
    {
        public static readonly GetLedgerState Instance = new();
        private GetLedgerState() { }
    }

    public sealed record LedgerState(int Count, int Capacity, string? Path);
}

/// <summary>
/// `client-keys`: the one owner of the daemon's <see cref="ClientKeyLedger"/>. Every relay handshake asks it before a
/// connection's first message reaches a session; it answers once the key is on disk (it runs on the blocking-io
/// dispatcher, so the flush never holds a socket's or a session's thread). A new keypair (`paseo daemon pair --rotate`) starts a new ledger. A full
/// ledger is said in the log, loudly and once, and every new connection is refused until the pairing is rotated.
/// </summary>
public sealed class ClientKeyLedgerActor : ReceiveActor
{
    public const string DispatcherId = Hosting.PaseoDispatchers.BlockingIo;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ClientKeyLedger _ledger;
    private byte[] _daemonPublicKey;
    private bool _saidFull;
    private bool _saidNearlyFull;

    public ClientKeyLedgerActor(ClientKeyLedger ledger, byte[] daemonPublicKey)
    {
        _ledger = ledger;
        _daemonPublicKey = daemonPublicKey;

        Receive<ClaimClientKey>(claim =>
        {
            try
            {
                OnClaim(claim);
            }
            catch (Exception e)
            {
                // Never a restart (it would start from the Props' ledger): this connection is refused, the next one tries again.
                _log.Error(e, "The client key ledger failed on a claim; the connection is refused");
                Sender.Tell(new ClientKeyRefused($"the client key ledger failed ({e.Message})"));
            }
        });
        Receive<PaseoGuardianProtocol.IdentityChanged>(changed =>
        {
            var newKey = changed.Identity.KeyPair.PublicKey;
            if (newKey.AsSpan().SequenceEqual(_daemonPublicKey)) return;
            _saidFull = _saidNearlyFull = false;
            try
            {
                _ledger = _ledger.Renew(newKey);
                _daemonPublicKey = newKey;
                _log.Info("New keypair: the client key ledger starts empty ({0})", _ledger.Path ?? "in memory");
            }
            catch (IdentityFileException e)
            {
                // The old ledger is closed and the new one could not be written: every claim is refused (claims for the new
                // key do not match this ledger's key; claims on the closed ledger cannot be written) — fail closed.
                _log.Error("The client key ledger cannot be renewed, so relay connections are refused: {0}", e.Message);
            }
        });
        Receive<GetLedgerState>(_ => Sender.Tell(new LedgerState(_ledger.Count, _ledger.Capacity, _ledger.Path)));
    }

    public static Props Props(ClientKeyLedger ledger, byte[] daemonPublicKey) =>
        Akka.Actor.Props.Create(() => new ClientKeyLedgerActor(ledger, daemonPublicKey)).WithDispatcher(DispatcherId);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(PaseoGuardianProtocol.IdentityChanged));
        if (_ledger.IsFull) SayFull();
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _ledger.Dispose();
    }

    private void OnClaim(ClaimClientKey claim)
    {
        if (!claim.DaemonPublicKey.AsSpan().SequenceEqual(_daemonPublicKey))
        {
            // A handshake with a keypair this ledger is not (or not yet) for: the tunnel reconnects under the new one.
            Sender.Tell(new ClientKeyRefused("the daemon's keypair changed during the handshake"));
            return;
        }
        switch (_ledger.TryClaim(claim.ClientPublicKey, out var writeError))
        {
            case ClientKeyClaim.Claimed:
                Sender.Tell(ClientKeyClaimed.Instance);
                if (!_saidNearlyFull && (long)_ledger.Count * 10 >= (long)_ledger.Capacity * 9)
                {
                    _saidNearlyFull = true;
                    _log.Warning("The client key ledger holds {0} of {1} keys (paseo.e2ee.remembered-client-keys); when it is full, new relay " +
                                 "connections are refused until `paseo daemon pair --rotate`", _ledger.Count, _ledger.Capacity);
                }
                break;
            case ClientKeyClaim.Replayed:
                Sender.Tell(new ClientKeyRefused("this client key opened an earlier connection (a replayed handshake)"));
                break;
            case ClientKeyClaim.Full:
                SayFull();
                Sender.Tell(new ClientKeyRefused($"the client key ledger is full ({_ledger.Capacity} keys, paseo.e2ee.remembered-client-keys)"));
                break;
            case ClientKeyClaim.WriteFailed:
                _log.Error("Could not write a client key to {0}: {1}; the connection is refused", _ledger.Path ?? "the ledger", writeError ?? "");
                Sender.Tell(new ClientKeyRefused($"the client key could not be written ({writeError})"));
                break;
        }
    }

    private void SayFull()
    {
        if (_saidFull) return;
        _saidFull = true;
        _log.Error("The client key ledger is full: {0} relay connections were made with this keypair (paseo.e2ee.remembered-client-keys). " +
                   "New relay connections are refused until you run `paseo daemon pair --rotate` (then pair your devices again)", _ledger.Capacity);
    }
}
