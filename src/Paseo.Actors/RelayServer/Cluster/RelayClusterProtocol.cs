using Akka.Actor;
using Paseo.Transport.Channels;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>Every message that crosses relay nodes; <see cref="RelayClusterSerializer"/> writes them (no JSON, frames as raw bytes).</summary>
public interface IRelayClusterMessage;

/// <summary>
/// The messages of a clustered relay (issue #14). A socket is a <see cref="RelaySocketActor"/> on the node that accepted
/// it; its room is a <see cref="RelayRoomEntity"/> wherever its shard lives. The room only coordinates: it tells sockets
/// who their peers are, and frames then go socket to socket, so a frame crosses at most one node boundary.
/// </summary>
public static class RelayClusterProtocol
{
    /// <summary>
    /// Socket → room (through the shard region, keyed by <paramref name="Room"/>): here I am. <paramref name="Rejoin"/>
    /// after the room was lost with its node: the socket is already linked to its peers and keeps them.
    /// </summary>
    public sealed record Register(RelayRoomId Room, RelayRoomProtocol.Role Role, string? ConnectionId, bool Rejoin) : IRelayClusterMessage;

    /// <summary>Room → socket: taken (with the connectionId a client was given). The sender is the room, which the socket watches.</summary>
    public sealed record Registered(string? ConnectionId) : IRelayClusterMessage;

    /// <summary>Room → socket: not taken (full); the socket closes with this code and reason.</summary>
    public sealed record Refused(int Code, string Reason) : IRelayClusterMessage;

    /// <summary>
    /// Room → socket: send your frames to <paramref name="Peer"/> too (a daemon data socket learns a phone; a phone learns its
    /// daemon data socket, which with <paramref name="Exclusive"/> replaces any earlier one).
    /// </summary>
    public sealed record Link(IActorRef Peer, bool Exclusive) : IRelayClusterMessage;

    /// <summary>Room → socket: stop sending to <paramref name="Peer"/> (a phone left while others stay on the connection).</summary>
    public sealed record Unlink(IActorRef Peer) : IRelayClusterMessage;

    /// <summary>Room → control socket: a control message of the relay's own (`sync`, `connected`, `disconnected`) to send as a text frame.</summary>
    public sealed record Say(string Json) : IRelayClusterMessage;

    /// <summary>Room → socket: close with this code and reason (replaced, server disconnected, client disconnected, control unresponsive).</summary>
    public sealed record CloseSocket(int Code, string Reason) : IRelayClusterMessage;

    /// <summary>
    /// Room → its sockets: the room failed and was restarted with nothing (the same ref, so no Terminated): register
    /// again, as after the room's node was lost.
    /// </summary>
    public sealed record RegisterAgain : IRelayClusterMessage
    {
        public static readonly RegisterAgain Instance = new();
    }

    /// <summary>Socket → peer socket: one frame as it came, never read. Order holds per pair of sockets (Akka's per-sender order).</summary>
    public sealed record PeerFrame(WireFrame Frame) : IRelayClusterMessage;

    /// <summary>
    /// Peer → sender: this many of your frames, and bytes, were written to my socket so far (cumulative, so a lost ack is
    /// made good by the next; flow control, see <see cref="RelaySocketActor"/>).
    /// </summary>
    public sealed record Ack(long Frames, long Bytes) : IRelayClusterMessage;

    /// <summary>Paused sender → peer: no ack came for a while; answer with your current <see cref="Ack"/>.</summary>
    public sealed record AckRequest : IRelayClusterMessage
    {
        public static readonly AckRequest Instance = new();
    }
}
