using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.RelayRoomProtocol;

namespace Paseo.Actors.RelayServer;

/// <summary>
/// `relay-rooms`: one <see cref="RelayRoom"/> child per room id, created on the first socket, bounded in number. Every
/// message to a room carries its <see cref="RelayRoomId"/>, so the same protocol can later be routed by a cluster shard
/// region instead of this parent, without changing the room.
/// </summary>
public sealed class RelayRooms : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<RelayRoomId, IActorRef> _rooms = [];

    /// <param name="tap">Sees every frame a room forwards (tests check that it is ciphertext); null in production.</param>
    public RelayRooms(RelayLimits limits, TimeProvider time, Action<WireFrame>? tap = null)
    {
        Receive<Join>(join =>
        {
            if (!_rooms.TryGetValue(join.Room, out var room))
            {
                if (_rooms.Count >= limits.MaxRooms)
                {
                    Sender.Tell(new Refused(1013, "Relay full"));
                    return;
                }
                room = Context.ActorOf(RelayRoom.Props(join.Room, limits, time, tap), Uri.EscapeDataString(join.Room.ToString()));
                Context.WatchWith(room, new RoomStopped(join.Room, room));
                _rooms[join.Room] = room;
            }
            room.Forward(join);
        });
        Receive<RoomStopped>(stopped =>
        {
            // Only if it is still this room (an idle room may already have a successor under the same id).
            if (_rooms.TryGetValue(stopped.Room, out var current) && current.Equals(stopped.Actor)) _rooms.Remove(stopped.Room);
        });
        // An idle room: forgotten now (a new socket makes a new room), then stopped after what it was already sent.
        Receive<RoomIdle>(idle =>
        {
            if (_rooms.TryGetValue(idle.Room, out var room) && room.Equals(Sender))
            {
                _rooms.Remove(idle.Room);
                room.Tell(PoisonPill.Instance);
            }
        });
        Receive<InspectRoom>(inspect =>
        {
            if (_rooms.TryGetValue(inspect.Room, out var room)) room.Forward(inspect);
            else Sender.Tell(RoomState.Empty);
        });
        Receive<GetRoomCount>(_ => Sender.Tell(_rooms.Count));
    }

    public static Props Props(RelayLimits limits, TimeProvider time, Action<WireFrame>? tap = null) =>
        Akka.Actor.Props.Create(() => new RelayRooms(limits, time, tap));

    // A room that throws is stopped (its sockets close, peers reconnect); other rooms are untouched.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    private sealed record RoomStopped(RelayRoomId Room, IActorRef Actor) : INoSerializationVerificationNeeded;

    public sealed record RoomIdle(RelayRoomId Room);
}
