using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Chat;
using Paseo.Transport.Files;
using static Paseo.Actors.Chat.ChatProtocol;

namespace Paseo.Actors.Chat;

/// <summary>
/// The chat rooms (`/user/paseo/chat`, app-orchestration.md §1): one <see cref="ChatRoomActor"/> child per room, the
/// store that writes them, and what spans rooms — names (unique ignoring case), selectors, the list, and mention
/// delivery. Phases: <b>loading</b> (requests wait, up to a bound), <b>ready</b>, or <b>damaged</b> when rooms.json does not
/// read: then every chat request is answered with that reason and the file is left as it is.
/// </summary>
public sealed class ChatRoomsActor : ReceiveActor, IWithStash
{
    private const int MaxRequestsWhileLoading = 10_000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _storePath;
    private readonly IActorRef _agents;
    private readonly ChatLimits _limits;
    private readonly TimeProvider _time;
    private IActorRef _store = ActorRefs.Nobody;
    private readonly Dictionary<string, Entry> _rooms = [];
    private readonly Dictionary<string, string> _byName = [];
    private int _stashed;
    // Room actors are named by a counter: a room id read from the file need not be a valid actor name.
    private long _nextRoom;

    public IStash Stash { get; set; } = null!;

    /// <summary>A room as the list shows it; <paramref name="Saved"/> once its creation is on disk.</summary>
    private sealed record Entry(IActorRef Actor, RoomSummary Summary, bool Saved);

    public ChatRoomsActor(string storePath, IActorRef agents, ChatLimits limits, TimeProvider time)
    {
        _storePath = storePath;
        _agents = agents;
        _limits = limits;
        _time = time;
        Loading();
    }

    public static Props Props(string storePath, IActorRef agents, ChatLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ChatRoomsActor(storePath, agents, limits, time));

    protected override void PreStart()
    {
        _store = Context.ActorOf(ChatStoreWriter.Props(_storePath), "store");
        _store.Tell(ChatStoreWriter.Load.Instance);
    }

    // A room that throws is resumed with its messages and waits (a restart would lose the waits' answers).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Resume));

    private void Loading()
    {
        Receive<ChatStoreWriter.Loaded>(loaded =>
        {
            foreach (var (room, messages) in loaded.Rooms)
            {
                var actor = Context.ActorOf(ChatRoomActor.Props(room, messages, _store, _limits, _time), "room-" + ++_nextRoom);
                _rooms[room.Id] = new Entry(actor, new RoomSummary(room, messages.Count, messages.Count > 0 ? messages[^1].CreatedAt : null), true);
                _byName[ChatRoom.NameKey(room.Name)] = room.Id;
            }
            _log.Info("Chat: {0} rooms loaded from {1}", _rooms.Count, _storePath);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<ChatStoreWriter.Damaged>(damaged =>
        {
            Become(() => Damaged(damaged.Reason));
            Stash.UnstashAll();
        });
        Receive<IChatRequest>(request =>
        {
            if (++_stashed > MaxRequestsWhileLoading) Sender.Tell(ChatFrames.Error(request, ChatErrors.Failed("Chat rooms are still loading; try again")));
            else Stash.Stash();
        });
        // Its waits may be in the stash: it goes there too, after them.
        Receive<CancelWaits>(_ => Stash.Stash());
    }

    private void Damaged(string reason)
    {
        Receive<IChatRequest>(request => Sender.Tell(ChatFrames.Error(request, ChatErrors.Failed(reason))));
        Receive<CancelWaits>(_ => { });
    }

    private void Ready()
    {
        Receive<CreateRoom>(OnCreate);
        Receive<ListRooms>(list => Sender.Tell(ChatFrames.Reply(list, new JsonObject
        {
            ["rooms"] = new JsonArray([.. _rooms.Values.Where(e => e.Saved).Select(e => e.Summary)
                .OrderByDescending(s => s.Room.UpdatedAt, StringComparer.Ordinal)
                .Select(s => (JsonNode)s.Room.ToDetail(s.MessageCount, s.LastMessageAt))]),
        })));
        Receive<IRoomRequest>(request =>
        {
            try
            {
                Resolve(request.Room).Forward(request);
            }
            catch (ChatException e)
            {
                Sender.Tell(ChatFrames.Error(request, e));
            }
        });
        Receive<GetWaiterCount>(get =>
        {
            try
            {
                Resolve(get.Room).Forward(get);
            }
            catch (ChatException)
            {
                Sender.Tell(new WaiterCount(0));
            }
        });
        Receive<CancelWaits>(cancel =>
        {
            foreach (var entry in _rooms.Values) entry.Actor.Tell(cancel);
        });
        Receive<RoomSummary>(summary =>
        {
            if (_rooms.TryGetValue(summary.Room.Id, out var entry)) _rooms[summary.Room.Id] = entry with { Summary = summary, Saved = true };
        });
        Receive<ChatRoomActor.RoomGone>(gone =>
        {
            if (!_rooms.Remove(gone.RoomId, out var entry)) return;
            _byName.Remove(ChatRoom.NameKey(entry.Summary.Room.Name));
            // Queued behind anything already forwarded to it, which it answers "not found" first.
            entry.Actor.Tell(PoisonPill.Instance);
        });
        Receive<ChatRoomActor.MentionsPosted>(posted =>
            Context.ActorOf(MentionDelivery.Props(_agents, posted.Author, posted.RoomSelector, posted.Body, posted.Tokens, _limits.MentionWait)));
    }

    private void OnCreate(CreateRoom create)
    {
        var name = create.Name.Trim();
        if (name.Length == 0)
        {
            Sender.Tell(ChatFrames.Error(create, ChatErrors.NameRequired()));
            return;
        }
        if (_byName.ContainsKey(ChatRoom.NameKey(name)))
        {
            Sender.Tell(ChatFrames.Error(create, ChatErrors.NameTaken(name)));
            return;
        }
        if (_rooms.Count >= _limits.MaxRooms)
        {
            Sender.Tell(ChatFrames.Error(create, ChatErrors.Failed($"Too many chat rooms: {_rooms.Count} (paseo.chat.max-rooms); delete one first")));
            return;
        }
        var now = IsoTime.Format(_time.GetUtcNow());
        var purpose = create.Purpose?.Trim() is { Length: > 0 } p ? p : null;
        var room = new ChatRoom(Guid.NewGuid().ToString("D"), name, purpose, now, now);
        var actor = Context.ActorOf(ChatRoomActor.Props(room, [], _store, _limits, _time), "room-" + ++_nextRoom);
        // Listed once saved; its name is taken at once, so a second create of it fails even while the first is being written.
        _rooms[room.Id] = new Entry(actor, new RoomSummary(room, 0, null), false);
        _byName[ChatRoom.NameKey(name)] = room.Id;
        actor.Forward(new ChatRoomActor.Create(create));
    }

    /// <summary>A selector (§1.2): trimmed; an exact room id, then a name ignoring case.</summary>
    private IActorRef Resolve(string selector)
    {
        var trimmed = selector.Trim();
        if (trimmed.Length == 0) throw ChatErrors.RoomRequired();
        if (_rooms.TryGetValue(trimmed, out var byId) && byId.Saved) return byId.Actor;
        if (_byName.TryGetValue(ChatRoom.NameKey(trimmed), out var id) && _rooms[id].Saved) return _rooms[id].Actor;
        throw ChatErrors.RoomNotFound(trimmed);
    }
}
