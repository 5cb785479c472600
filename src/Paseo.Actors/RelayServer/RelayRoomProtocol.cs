using Akka.Actor;
using Paseo.Transport.Channels;

namespace Paseo.Actors.RelayServer;

/// <summary>Which room a socket belongs to: Paseo keeps v1 and v2 rooms of one serverId apart (`relay-v&lt;v&gt;:&lt;serverId&gt;`).</summary>
public readonly record struct RelayRoomId(string ServerId, int Version)
{
    public override string ToString() => $"relay-v{Version}:{ServerId}";
}

/// <summary>Limits of the relay server, from `paseo.relay-server` in paseo.hocon (all beyond Paseo's relay).</summary>
public sealed record RelayLimits(
    int BufferFrames,
    long BufferBytes,
    int MaxFrameBytes,
    int MaxClientsPerServer,
    int MaxRooms,
    TimeSpan IdleRoomTimeout,
    TimeSpan NudgeAfter,
    TimeSpan ControlUnresponsiveAfter)
{
    public static readonly RelayLimits Default = new(200, 4 * 1024 * 1024, 16 * 1024 * 1024, 64, 10_000,
        TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
}

/// <summary>The messages of the relay server's rooms.</summary>
public static class RelayRoomProtocol
{
    public enum Role { Server, Client }

    /// <summary>A socket that passed the query checks of relay-e2ee.md §1.1. Routed by <see cref="Room"/>.</summary>
    public sealed record Join(RelayRoomId Room, Role Role, string? ConnectionId, IFrameTransport Transport);

    /// <summary>The room took the socket (answered once joined; the socket then belongs to the room until it closes).</summary>
    public sealed record Joined(string? ConnectionId);

    /// <summary>The relay is full (rooms or clients): the socket is closed with this code and reason.</summary>
    public sealed record Refused(int Code, string Reason);

    /// <summary>What a room holds right now (for status and tests): never frame contents.</summary>
    public sealed record InspectRoom(RelayRoomId Room);

    /// <param name="DataSockets">connectionId → the id of its daemon data socket (a replacement changes it).</param>
    /// <param name="HeldPhones">Phones whose reading is paused because their daemon socket is full (back-pressure).</param>
    public sealed record RoomState(int Sockets, bool HasControl, IReadOnlyDictionary<string, int> DataSockets, IReadOnlyDictionary<string, int> ClientSockets,
        IReadOnlyDictionary<string, int> BufferedFrames, IReadOnlyDictionary<string, long> DroppedFrames, int HeldPhones)
    {
        public static readonly RoomState Empty = new(0, false, new Dictionary<string, int>(), new Dictionary<string, int>(), new Dictionary<string, int>(), new Dictionary<string, long>(), 0);
    }

    public sealed record GetRoomCount
    {
        public static readonly GetRoomCount Instance = new();
        private GetRoomCount() { }
    }
}
