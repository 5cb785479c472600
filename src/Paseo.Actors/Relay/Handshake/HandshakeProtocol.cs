using Akka.Actor;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;

namespace Paseo.Actors.Relay.Handshake;

/// <summary>
/// Messages around one <see cref="HandshakeFsm"/>: frames in from the socket owner, plaintext out to the session,
/// plaintext in from the session, frames and the close out to the socket owner.
/// </summary>
public static class HandshakeProtocol
{
    // From the socket owner (the connection actor) to the FSM.

    /// <summary>
    /// A whole frame arrived on the data socket. The FSM answers <see cref="FrameHandled"/> when it is done with it — for a
    /// message it decrypted, once the session has taken that message — and only then does the owner read the next one.
    /// </summary>
    public sealed record FrameReceived(WireFrame Frame);

    /// <summary>The FSM is done with a frame (whatever it did with it): one frame in flight, from the socket to the session.</summary>
    public sealed record FrameHandled
    {
        public static readonly FrameHandled Instance = new();
        private FrameHandled() { }
    }

    /// <summary>The data socket closed (the peer left, or the relay dropped it).</summary>
    public sealed record PeerClosed(int Code, string Reason);

    // From the FSM to the socket owner.

    /// <summary>Send this frame on the data socket.</summary>
    public sealed record SendFrame(WireFrame Frame);

    /// <summary>Close the data socket with this code and reason; the FSM is in <see cref="HandshakeState.Closed"/>.</summary>
    public sealed record CloseSocket(int Code, string Reason);

    // Between the FSM and the session it was given.

    /// <summary>The handshake is complete; encrypted messages may flow. <see cref="Channel"/> accepts <see cref="Send"/>.</summary>
    public sealed record ChannelOpened(IActorRef Channel);

    /// <summary>
    /// One application message (decrypted, or from a direct socket), in arrival order. The receiver answers
    /// <see cref="MessageTaken"/> once it has taken it; the channel delivers nothing more until then, and the socket is
    /// not read meanwhile. So a busy session slows its peer down instead of filling the daemon's mailboxes.
    /// </summary>
    public sealed record MessageReceived(E2eeMessage Message);

    /// <summary>From the channel's client: the last <see cref="MessageReceived"/> was taken; the next may come.</summary>
    public sealed record MessageTaken
    {
        public static readonly MessageTaken Instance = new();
        private MessageTaken() { }
    }

    /// <summary>The channel ended; nothing more arrives, and sends are dropped.</summary>
    public sealed record ChannelClosed(int Code, string Reason);

    /// <summary>From the session: encrypt this message and send it to the peer. Only honoured once open.</summary>
    public sealed record Send(E2eeMessage Message);

    /// <summary>
    /// From the session: publish <paramref name="Event"/> on the event stream once every message sent before this one has
    /// been handed to the socket (a reply that must leave before the daemon acts on it, e.g. shutdown_requested).
    /// </summary>
    public sealed record ChannelBarrier(object Event);

    /// <summary>From the session: end the channel with an application close code (e.g. 4002 "Invalid hello").</summary>
    public sealed record CloseChannel(int Code, string Reason);
}
