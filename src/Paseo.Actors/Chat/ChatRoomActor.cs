using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Transport.Chat;
using Paseo.Transport.Files;
using static Paseo.Actors.Chat.ChatProtocol;

namespace Paseo.Actors.Chat;

/// <summary>
/// One chat room (`/user/paseo/chat/room-&lt;id&gt;`, app-orchestration.md §1.4): its messages and the chat/wait requests
/// waiting on it. Two phases: <b>ready</b> answers reads at once; a change (create, post, delete) goes to the store and
/// the room is <b>saving</b> until it is on disk — requests wait in the stash meanwhile, so each answer is sent after its
/// write, and a failed write leaves the room as it was. After a delete it is <b>gone</b>: whatever still reaches it
/// is answered "not found" until its parent stops it.
/// </summary>
public sealed class ChatRoomActor : ReceiveActor, IWithStash, IWithTimers
{
    private readonly IActorRef _store;
    private readonly ChatLimits _limits;
    private readonly TimeProvider _time;
    private ChatRoom _room;
    private List<ChatMessage> _messages;
    private readonly Dictionary<(IActorRef Waiter, long WaitId), Waiting> _waits = [];

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    public ChatRoomActor(ChatRoom room, IReadOnlyList<ChatMessage> messages, IActorRef store, ChatLimits limits, TimeProvider time)
    {
        _room = room;
        _messages = [.. messages];
        _store = store;
        _limits = limits;
        _time = time;
        Ready();
    }

    public static Props Props(ChatRoom room, IReadOnlyList<ChatMessage> messages, IActorRef store, ChatLimits limits, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ChatRoomActor(room, messages, store, limits, time));

    /// <summary>From the rooms, for a room just made: write it, then answer the create (or say it failed).</summary>
    public sealed record Create(CreateRoom Request);

    /// <summary>To the rooms: the room is gone (deleted, or its creation could not be saved).</summary>
    public sealed record RoomGone(string RoomId);

    /// <summary>To the rooms, after a post is saved: deliver its mentions.</summary>
    public sealed record MentionsPosted(string Author, string RoomSelector, string Body, IReadOnlyList<string> Tokens);

    private const long MaxTimeoutMs = 366L * 24 * 3600 * 1000;

    private sealed record Waiting(Wait Request, IActorRef Waiter);

    private sealed record WaitTimedOut(IActorRef Waiter, long WaitId);

    private void Ready()
    {
        Receive<Create>(create =>
        {
            var creator = Sender;
            Save(_messages, () =>
            {
                // The rooms hear of it first: a request the client sends on this answer finds the room.
                Context.Parent.Tell(Summary());
                creator.Tell(ChatFrames.Reply(create.Request, new JsonObject { ["room"] = Detail() }));
            }, failed: () => Context.Parent.Tell(new RoomGone(_room.Id)), replyTo: creator, request: create.Request);
        });
        Receive<InspectRoom>(inspect => Sender.Tell(ChatFrames.Reply(inspect, new JsonObject { ["room"] = Detail() })));
        Receive<Read>(OnRead);
        Receive<Wait>(OnWait);
        Receive<Post>(OnPost);
        Receive<DeleteRoom>(OnDelete);
        Receive<WaitTimedOut>(timedOut =>
        {
            if (!_waits.Remove((timedOut.Waiter, timedOut.WaitId), out var waiting)) return;
            waiting.Waiter.Tell(ChatFrames.Reply(waiting.Request, new JsonObject { ["messages"] = new JsonArray(), ["timedOut"] = true }));
        });
        Receive<CancelWaits>(cancel =>
        {
            foreach (var key in _waits.Keys.Where(k => k.Waiter.Equals(cancel.Waiter)).ToList())
            {
                _waits.Remove(key);
                Timers.Cancel(key);
            }
        });
        Receive<GetWaiterCount>(_ => Sender.Tell(new WaiterCount(_waits.Count)));
    }

    private JsonObject Detail() => _room.ToDetail(_messages.Count, _messages.Count > 0 ? _messages[^1].CreatedAt : null);

    private RoomSummary Summary() => new(_room, _messages.Count, _messages.Count > 0 ? _messages[^1].CreatedAt : null);

    private void OnRead(Read read)
    {
        IEnumerable<ChatMessage> kept = _messages;
        if (read.Since is { } since) kept = kept.Where(m => string.CompareOrdinal(m.CreatedAt, since) >= 0);
        if (read.AuthorAgentId?.Trim() is { Length: > 0 } author) kept = kept.Where(m => m.AuthorAgentId == author);
        var list = kept.ToList();
        var limit = read.Limit ?? 20;
        if (limit > 0 && list.Count > limit) list = list[^(int)limit..];
        Sender.Tell(ChatFrames.Reply(read, new JsonObject { ["messages"] = ChatFrames.Messages(list) }));
    }

    private void OnWait(Wait wait)
    {
        if (wait.AfterMessageId?.Trim() is { Length: > 0 } cursor)
        {
            var at = _messages.FindIndex(m => m.Id == cursor);
            if (at < 0)
            {
                Sender.Tell(ChatFrames.Error(wait, ChatErrors.CursorNotFound(cursor)));
                return;
            }
            if (at < _messages.Count - 1)
            {
                Sender.Tell(ChatFrames.Reply(wait, new JsonObject { ["messages"] = ChatFrames.Messages(_messages.Skip(at + 1)), ["timedOut"] = false }));
                return;
            }
        }
        if (_waits.Count >= _limits.MaxWaitersPerRoom)
        {
            Sender.Tell(ChatFrames.Error(wait, ChatErrors.Failed(
                $"Too many waits on chat room {_room.Name}: {_waits.Count} already (paseo.chat.max-waiters-per-room); try again later")));
            return;
        }
        var key = (Sender, wait.WaitId);
        _waits[key] = new Waiting(wait, Sender);
        // (a timeout beyond a year is a year: TimeSpan cannot hold every long of milliseconds)
        if (wait.TimeoutMs is > 0 and var ms) Timers.StartSingleTimer(key, new WaitTimedOut(Sender, wait.WaitId), TimeSpan.FromMilliseconds(Math.Min(ms, MaxTimeoutMs)));
    }

    private void OnPost(Post post)
    {
        var body = post.Body.Trim();
        if (body.Length == 0)
        {
            Sender.Tell(ChatFrames.Error(post, ChatErrors.BodyRequired()));
            return;
        }
        if (body.Length > _limits.MaxBodyChars)
        {
            Sender.Tell(ChatFrames.Error(post, "invalid_chat_message", $"Chat message body is {body.Length} characters; at most {_limits.MaxBodyChars} (paseo.chat.max-body-chars)"));
            return;
        }
        if (post.ReplyToMessageId is { } replyTo && _messages.All(m => m.Id != replyTo))
        {
            Sender.Tell(ChatFrames.Error(post, ChatErrors.ReplyTargetNotFound(replyTo)));
            return;
        }
        var tokens = ChatMentions.Parse(body);
        var message = new ChatMessage(Guid.NewGuid().ToString("D"), _room.Id, post.Author, body, post.ReplyToMessageId, tokens, IsoTime.Format(_time.GetUtcNow()));
        var next = new List<ChatMessage>(_messages.Count + 1);
        // The newest max-messages-per-room are kept.
        next.AddRange(_messages.Count >= _limits.MaxMessagesPerRoom ? _messages.Skip(_messages.Count - _limits.MaxMessagesPerRoom + 1) : _messages);
        next.Add(message);
        var previousRoom = _room;
        _room = _room with { UpdatedAt = message.CreatedAt };
        var poster = Sender;
        Save(next, () =>
        {
            Context.Parent.Tell(Summary());
            poster.Tell(ChatFrames.Reply(post, new JsonObject { ["message"] = message.ToJson() }));
            WakeWaiters(message);
            if (tokens.Count > 0) Context.Parent.Tell(new MentionsPosted(post.Author, post.Room, body, tokens));
        }, failed: () => _room = previousRoom, replyTo: poster, request: post);
    }

    private void WakeWaiters(ChatMessage newest)
    {
        foreach (var (key, waiting) in _waits)
        {
            Timers.Cancel(key);
            var messages = waiting.Request.AfterMessageId?.Trim() is { Length: > 0 } cursor && _messages.FindIndex(m => m.Id == cursor) is var at and >= 0
                ? _messages.Skip(at + 1)
                : [newest];
            waiting.Waiter.Tell(ChatFrames.Reply(waiting.Request, new JsonObject { ["messages"] = ChatFrames.Messages(messages), ["timedOut"] = false }));
        }
        _waits.Clear();
    }

    private void OnDelete(DeleteRoom delete)
    {
        var detail = Detail();
        var deleter = Sender;
        _store.Tell(new ChatStoreWriter.DropRoom(_room.Id));
        BecomeSaving(onSaved: () =>
        {
            foreach (var (key, waiting) in _waits)
            {
                Timers.Cancel(key);
                waiting.Waiter.Tell(ChatFrames.Error(waiting.Request, ChatErrors.RoomDeleted(_room.Name)));
            }
            _waits.Clear();
            Context.Parent.Tell(new RoomGone(_room.Id));
            deleter.Tell(ChatFrames.Reply(delete, new JsonObject { ["room"] = detail }));
            Become(Gone);
        }, onFailed: reason => deleter.Tell(ChatFrames.Error(delete, ChatErrors.Failed(reason))));
    }

    /// <summary>Writes the room with <paramref name="messages"/>; they become the room's once on disk.</summary>
    private void Save(List<ChatMessage> messages, Action saved, Action failed, IActorRef replyTo, IChatRequest request)
    {
        _store.Tell(new ChatStoreWriter.SaveRoom(_room, messages.ToArray()));
        BecomeSaving(onSaved: () =>
        {
            _messages = messages;
            saved();
        }, onFailed: reason =>
        {
            failed();
            replyTo.Tell(ChatFrames.Error(request, ChatErrors.Failed(reason)));
        });
    }

    private void BecomeSaving(Action onSaved, Action<string> onFailed)
    {
        Become(() =>
        {
            Receive<ChatStoreWriter.Saved>(_ =>
            {
                Become(Ready);
                onSaved();
                Stash.UnstashAll();
            });
            Receive<ChatStoreWriter.SaveFailed>(failed =>
            {
                Become(Ready);
                onFailed(failed.Reason);
                Stash.UnstashAll();
            });
            // A timed-out wait is answered at once: it changes nothing on disk.
            Receive<WaitTimedOut>(timedOut =>
            {
                if (!_waits.Remove((timedOut.Waiter, timedOut.WaitId), out var waiting)) return;
                waiting.Waiter.Tell(ChatFrames.Reply(waiting.Request, new JsonObject { ["messages"] = new JsonArray(), ["timedOut"] = true }));
            });
            ReceiveAny(_ => Stash.Stash());
        });
    }

    private void Gone()
    {
        Receive<IRoomRequest>(request => Sender.Tell(ChatFrames.Error(request, ChatErrors.RoomNotFound(request.Room.Trim()))));
        Receive<GetWaiterCount>(_ => Sender.Tell(new WaiterCount(0)));
        ReceiveAny(_ => { });
    }
}
