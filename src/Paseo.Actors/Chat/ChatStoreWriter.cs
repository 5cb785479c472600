using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Chat;

namespace Paseo.Actors.Chat;

/// <summary>
/// `$PASEO_HOME/chat/rooms.json`, read once and rewritten whole after each change (app-orchestration.md §1.6), on the
/// blocking-io dispatcher so no room's thread waits on the disk. It keeps the last written state of every room; a room
/// sends its new state and is answered once that is on disk (or with the reason it is not, its old state kept). A file
/// that does not read is never written over.
/// </summary>
public sealed class ChatStoreWriter : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _path;
    // Insertion-ordered (rooms are written sorted by createdAt anyway).
    private readonly Dictionary<string, (ChatRoom Room, IReadOnlyList<ChatMessage> Messages)> _rooms = [];
    private string? _damaged = "not loaded yet";

    public ChatStoreWriter(string path)
    {
        _path = path;
        Receive<Load>(_ =>
        {
            try
            {
                var rooms = ChatStoreFile.Load(_path);
                foreach (var room in rooms) _rooms[room.Room.Id] = room;
                _damaged = null;
                Sender.Tell(new Loaded(rooms));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever made the file unreadable, it is kept as it is and chat stays off with the reason.
                var reason = e is ChatStoreDamagedException ? e.Message : $"{_path} could not be read ({e.Message}); chat is off until it is repaired or moved aside";
                _damaged = reason;
                _rooms.Clear();
                _log.Error(reason);
                Sender.Tell(new Damaged(reason));
            }
        });
        Receive<SaveRoom>(save => Write(save.Room.Id, (save.Room, save.Messages)));
        Receive<DropRoom>(drop => Write(drop.RoomId, null));
    }

    public static Props Props(string path) => Akka.Actor.Props.Create(() => new ChatStoreWriter(path)).WithDispatcher(Hosting.PaseoDispatchers.BlockingIo);

    private void Write(string roomId, (ChatRoom, IReadOnlyList<ChatMessage>)? state)
    {
        if (_damaged is not null)
        {
            Sender.Tell(new SaveFailed(_damaged));
            return;
        }
        var had = _rooms.TryGetValue(roomId, out var previous);
        if (state is { } now) _rooms[roomId] = now;
        else _rooms.Remove(roomId);
        try
        {
            ChatStoreFile.Save(_path, _rooms.Values);
            Sender.Tell(Saved.Instance);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The file on disk is the last good one (atomic write): memory goes back to it too.
            if (had) _rooms[roomId] = previous;
            else _rooms.Remove(roomId);
            _log.Error(e, "Could not write {0}", _path);
            Sender.Tell(new SaveFailed($"Could not save the chat rooms: {e.Message}"));
        }
    }

    public sealed record Load
    {
        public static readonly Load Instance = new();
        private Load() { }
    }

    public sealed record Loaded(IReadOnlyList<(ChatRoom Room, IReadOnlyList<ChatMessage> Messages)> Rooms);

    public sealed record Damaged(string Reason);

    public sealed record SaveRoom(ChatRoom Room, IReadOnlyList<ChatMessage> Messages);

    public sealed record DropRoom(string RoomId);

    public sealed record Saved
    {
        public static readonly Saved Instance = new();
        private Saved() { }
    }

    public sealed record SaveFailed(string Reason);
}
