using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using static Paseo.Actors.Relay.ClientKeys.ClientKeyLedgerProtocol;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Relay.Handshake;

/// <summary>
/// The only path from a relay data socket to a client session (architecture.md): the daemon's side of Paseo's
/// end-to-end encryption (relay-e2ee.md §2.4–§2.7). The first frame must be a valid `e2ee_hello`; the FSM derives the
/// shared key once and answers `e2ee_ready`. The first frame that then decrypts proves the peer holds the pairing offer:
/// only then is its client key written to the ledger (on disk), and only once it is there does that message — and the
/// channel — reach the session. Then it decrypts frames and forwards their plaintext one at a time: the next frame is
/// read only when the session has taken the last. Beyond Paseo it refuses low-order keys, a client key that opened an
/// earlier connection (even before a restart), replayed and reflected frames, oversize frames and a re-hello with another
/// key. Every failure closes the socket (1011, or 1009 for size) and nothing of the failing frame reaches the session.
/// </summary>
public sealed class HandshakeFsm : FSM<HandshakeState, HandshakeData>
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly BoxKeyPair _daemonKeys;
    private readonly IActorRef _clientKeys;
    private readonly IActorRef _socket;
    private readonly IActorRef _session;
    private readonly HandshakeSettings _settings;

    /// <param name="clientKeys">The client key ledger (<see cref="ClientKeys.ClientKeyLedgerActor"/>), shared by every connection made with <paramref name="daemonKeys"/>.</param>
    public HandshakeFsm(BoxKeyPair daemonKeys, IActorRef clientKeys, IActorRef socket, IActorRef session, HandshakeSettings settings)
    {
        _daemonKeys = daemonKeys;
        _clientKeys = clientKeys;
        _socket = socket;
        _session = session;
        _settings = settings;

        StartWith(HandshakeState.AwaitingHello, HandshakeData.Waiting.Instance);

        // One deadline for the whole handshake, from the socket's opening to the first message's key on disk: a timer, not
        // a state timeout, which every frame would re-arm (a peer repeating its hello must not keep a socket forever).
        When(HandshakeState.AwaitingHello, e => e.FsmEvent switch
        {
            FrameReceived frame => OnFirstFrame(frame.Frame),
            _ => WhileHandshaking(e.FsmEvent, "no e2ee_hello"),
        });

        // Ready sent; the session knows nothing yet. The first message that decrypts is held while its key is recorded.
        When(HandshakeState.Keyed, e => e.FsmEvent switch
        {
            FrameReceived frame => OnKeyedFrame(frame.Frame, (HandshakeData.Keys)e.StateData),
            _ => WhileHandshaking(e.FsmEvent, "no encrypted message after e2ee_ready"),
        });

        // The first message's frame is not answered yet: no other frame arrives until the key is recorded (or refused).
        When(HandshakeState.ClaimingKey, e => e.FsmEvent switch
        {
            ClientKeyClaimed when e.StateData is HandshakeData.Claiming claiming => OnKeyClaimed(claiming),
            ClientKeyRefused refused => HandshakeFailed(refused.Detail),
            _ => WhileHandshaking(e.FsmEvent, "the client key ledger did not answer"),
        });

        When(HandshakeState.Open, e => e.FsmEvent switch
        {
            FrameReceived frame => OnOpenFrame(frame.Frame, (HandshakeData.Keys)e.StateData),
            _ => WhileOpen(e.FsmEvent, (HandshakeData.Keys)e.StateData),
        });

        When(HandshakeState.Delivering, e => e.FsmEvent switch
        {
            MessageTaken => Taken(),
            _ => WhileOpen(e.FsmEvent, (HandshakeData.Keys)e.StateData),
        });

        When(HandshakeState.Closed, e => e.FsmEvent switch
        {
            FrameReceived => Stay().Replying(FrameHandled.Instance),
            _ => Stay(),
        });

        // A client connection that stops before the handshake ends it too.
        WhenUnhandled(e => e.FsmEvent is Terminated t && t.ActorRef.Equals(_session) && StateName != HandshakeState.Closed
            ? End(CloseCodes.InternalError, "Internal error", "the client connection stopped")
            : Stay());

        OnTransition((from, to) =>
        {
            if (to == HandshakeState.Closed && NextStateData is HandshakeData.Ended ended)
            {
                _socket.Tell(new CloseSocket(ended.Code, ended.Reason));
                if (from is HandshakeState.Open or HandshakeState.Delivering) _session.Tell(new ChannelClosed(ended.Code, ended.Reason));
            }
        });

        Initialize();
    }

    protected override void PreStart()
    {
        Context.Watch(_session);
        SetTimer(DeadlineTimer, HandshakeDeadline.Instance, _settings.HelloTimeout);
        base.PreStart();
    }

    private const string DeadlineTimer = "handshake-deadline";

    public static Props Props(BoxKeyPair daemonKeys, IActorRef clientKeys, IActorRef socket, IActorRef session, HandshakeSettings settings) =>
        Akka.Actor.Props.Create(() => new HandshakeFsm(daemonKeys, clientKeys, socket, session, settings));

    /// <summary>What every state before the session knows of the channel does: a close or the deadline fails the handshake; sends are dropped.</summary>
    private State<HandshakeState, HandshakeData> WhileHandshaking(object message, string overdue) => message switch
    {
        PeerClosed closed => End(CloseCodes.InternalError, E2eeFrames.HandshakeFailedMessage, $"socket closed during the handshake ({closed.Code} {closed.Reason})"),
        HandshakeDeadline => End(CloseCodes.InternalError, E2eeFrames.HandshakeFailedMessage, $"{overdue} within {_settings.HelloTimeout.TotalSeconds:0.#} s of the connection"),
        Send => DropSend("before the handshake"),
        _ => null!,
    };

    /// <summary>What an open channel does whether or not a message is with the session.</summary>
    private State<HandshakeState, HandshakeData> WhileOpen(object message, HandshakeData.Keys keys) => message switch
    {
        // The client connection behind this channel is gone: nobody reads what arrives, so the socket closes.
        Terminated t when t.ActorRef.Equals(_session) => End(CloseCodes.InternalError, "Internal error", "the client connection stopped"),
        Send send => OnSend(send.Message, keys),
        CloseChannel close => End(close.Code, close.Reason, "closed by the session"),
        ChannelBarrier barrier => PublishBarrier(barrier),
        PeerClosed closed => End(closed.Code, closed.Reason, "the peer closed the socket"),
        _ => null!,
    };

    /// <summary>The session took the message it was given: the socket owner may read the next frame.</summary>
    private State<HandshakeState, HandshakeData> Taken()
    {
        _socket.Tell(FrameHandled.Instance);
        return GoTo(HandshakeState.Open);
    }

    /// <summary>Done with a frame that gave the session nothing (a repeated hello, a stray ready): read the next.</summary>
    private State<HandshakeState, HandshakeData> Handled()
    {
        _socket.Tell(FrameHandled.Instance);
        return Stay();
    }

    private State<HandshakeState, HandshakeData> OnFirstFrame(WireFrame frame)
    {
        // A hello is under 100 bytes: nothing large is parsed for a peer that has not completed the handshake.
        if (frame.ByteLength > _settings.MaxHelloBytes)
            return End(CloseCodes.MessageTooBig, E2eeFrames.FrameTooLargeMessage, $"first frame of {frame.ByteLength} bytes");
        // Paseo's clients always send the hello as text; a binary first frame is not one of theirs.
        if (frame is not WireFrame.Text text) return HandshakeFailed("the first frame is binary, not an e2ee_hello");
        if (E2eeFrames.Classify(text.Value) is not InboundFrame.Hello hello) return HandshakeFailed("the first frame is not an e2ee_hello");
        if (E2eeFrames.DecodePublicKey(hello.Key) is not { } peerKey) return HandshakeFailed("the hello's key is not 32 bytes of base64");

        byte[] shared;
        try
        {
            shared = NaclBox.SharedKey(peerKey, _daemonKeys.SecretKey);
        }
        catch (CryptographicException e)
        {
            return HandshakeFailed(e.Message);
        }
        _socket.Tell(new SendFrame(new WireFrame.Text(E2eeFrames.ReadyFrame)));
        _socket.Tell(FrameHandled.Instance);
        return GoTo(HandshakeState.Keyed).Using(new HandshakeData.Keys(peerKey, shared, new NonceLedger(_settings.MaxFramesPerDirection)));
    }

    /// <summary>
    /// Keyed: the first frame that decrypts is held, and its client key is recorded — now that the peer proved it holds
    /// the daemon's public key (so nobody who merely knows the server id can fill the ledger). A key recorded before is a
    /// recorded session played again (with it, every recorded frame would decrypt): the ledger refuses it.
    /// </summary>
    private State<HandshakeState, HandshakeData> OnKeyedFrame(WireFrame frame, HandshakeData.Keys keys)
    {
        if (Check(frame, keys, out var message) is { } done) return done;
        _clientKeys.Tell(new ClaimClientKey(_daemonKeys.PublicKey, keys.PeerPublicKey));
        return GoTo(HandshakeState.ClaimingKey).Using(new HandshakeData.Claiming(keys, message!));
    }

    /// <summary>The key is on disk: the session hears of the channel, then gets the first message.</summary>
    private State<HandshakeState, HandshakeData> OnKeyClaimed(HandshakeData.Claiming claiming)
    {
        CancelTimer(DeadlineTimer);
        _session.Tell(new ChannelOpened(Self));
        _session.Tell(new MessageReceived(claiming.First));
        return GoTo(HandshakeState.Delivering).Using(claiming.Connection);
    }

    private State<HandshakeState, HandshakeData> OnOpenFrame(WireFrame frame, HandshakeData.Keys keys)
    {
        if (Check(frame, keys, out var message) is { } done) return done;
        _session.Tell(new MessageReceived(message!));
        return GoTo(HandshakeState.Delivering);
    }

    /// <summary>
    /// Every check of a frame on a keyed connection. Returns the next state when the frame was handled here (a repeated
    /// hello, a ready) or ended the connection; null with <paramref name="message"/> when it decrypted to a message.
    /// </summary>
    private State<HandshakeState, HandshakeData>? Check(WireFrame frame, HandshakeData.Keys keys, out E2eeMessage? message)
    {
        message = null;
        if (frame.ByteLength > _settings.MaxFrameBytes)
            return End(CloseCodes.MessageTooBig, E2eeFrames.FrameTooLargeMessage, $"frame of {frame.ByteLength} bytes");
        // A binary frame is read as UTF-8 text, as Paseo's receivers do (§2.5): it can only hold base64 or handshake JSON.
        var text = frame switch
        {
            WireFrame.Text t => t.Value,
            WireFrame.Binary b => Encoding.UTF8.GetString(b.Value.Span),
            _ => "",
        };
        switch (E2eeFrames.Classify(text))
        {
            case InboundFrame.Hello hello:
                // The relay buffers the client's retries, so identical hellos after ready are normal: answer ready again.
                // Another key is refused (Paseo re-keyed here at the snapshot; upstream then rejected it too).
                var key = E2eeFrames.DecodePublicKey(hello.Key);
                if (key is null || !CryptographicOperations.FixedTimeEquals(key, keys.PeerPublicKey))
                    return HandshakeFailed("a second e2ee_hello with a different key");
                _socket.Tell(new SendFrame(new WireFrame.Text(E2eeFrames.ReadyFrame)));
                return Handled();
            case InboundFrame.Ready:
                return Handled();
            case InboundFrame.PlaintextJson plaintext:
                return Fail(E2eeFrames.PlaintextOnEncryptedChannelMessage, $"plaintext JSON of type '{plaintext.Type}'");
            case InboundFrame.Ciphertext ciphertext:
                var (bytes, nonce, failure) = E2eeFrames.Decrypt(ciphertext.Text, keys.SharedKey);
                switch (failure)
                {
                    case DecryptFailure.TooShort: return Fail(E2eeFrames.TooShortMessage, "bundle shorter than a nonce, or not base64");
                    case DecryptFailure.DecryptionFailed: return Fail(E2eeFrames.DecryptionFailedMessage, "authentication tag does not verify");
                }
                // Nonces are checked only after the tag verified: an unauthenticated frame cannot fill the ledger.
                switch (keys.Nonces.CheckInbound(nonce))
                {
                    case NonceVerdict.Replayed: return Fail(E2eeFrames.ReplayedFrameMessage, "a nonce received before");
                    case NonceVerdict.Reflected: return Fail(E2eeFrames.ReflectedFrameMessage, "a nonce this side sent");
                    case NonceVerdict.Exhausted: return Fail(E2eeFrames.FrameBudgetExhaustedMessage, $"{_settings.MaxFramesPerDirection} frames received");
                }
                message = E2eeMessage.Decrypted(bytes!);
                return null;
            default:
                return Handled();
        }
    }

    private State<HandshakeState, HandshakeData> OnSend(E2eeMessage message, HandshakeData.Keys keys)
    {
        var (frame, nonce) = E2eeFrames.Encrypt(message.Bytes.Span, keys.SharedKey);
        if (!keys.Nonces.RecordOutbound(nonce))
            return Fail(E2eeFrames.FrameBudgetExhaustedMessage, $"{_settings.MaxFramesPerDirection} frames sent");
        _socket.Tell(new SendFrame(new WireFrame.Text(frame)));
        return Stay();
    }

    private State<HandshakeState, HandshakeData> PublishBarrier(ChannelBarrier barrier)
    {
        // Sends before it are already with the socket owner, which writes them in order.
        Context.System.EventStream.Publish(barrier.Event);
        return Stay();
    }

    private State<HandshakeState, HandshakeData> DropSend(string when)
    {
        _log.Warning("Dropped a message from the session {0}", when);
        return Stay();
    }

    private State<HandshakeState, HandshakeData> HandshakeFailed(string detail) =>
        End(CloseCodes.InternalError, E2eeFrames.HandshakeFailedMessage, detail);

    private State<HandshakeState, HandshakeData> Fail(string reason, string detail) =>
        End(CloseCodes.InternalError, reason, detail);

    private State<HandshakeState, HandshakeData> End(int code, string reason, string detail)
    {
        if (code is CloseCodes.InternalError or CloseCodes.MessageTooBig) _log.Warning("Encrypted connection closed ({0} {1}): {2}", code, reason, detail);
        else _log.Info("Encrypted connection closed ({0} {1}): {2}", code, reason, detail);
        return GoTo(HandshakeState.Closed).Using(new HandshakeData.Ended(code, reason, detail));
    }

    /// <summary>The handshake took longer than paseo.e2ee.hello-timeout from the socket's opening.</summary>
    private sealed record HandshakeDeadline : INoSerializationVerificationNeeded
    {
        public static readonly HandshakeDeadline Instance = new();
    }
}
