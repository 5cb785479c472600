using Akka.Actor;
using Paseo.Transport.Chat;

namespace Paseo.Actors.Chat;

/// <summary>Limits of the chat rooms, from `paseo.chat` in paseo.hocon.</summary>
/// <param name="MaxRooms">Rooms the daemon holds; chat/create beyond it fails.</param>
/// <param name="MaxMessagesPerRoom">Messages kept per room; the oldest go when a post would pass it.</param>
/// <param name="MaxBodyChars">Longest message body (after trimming); a longer post fails.</param>
/// <param name="MaxWaitersPerRoom">chat/wait requests waiting on one room at once; one more fails at once.</param>
/// <param name="MentionWait">How long a mention waits for a busy agent's turn to end before it is dropped (logged).</param>
public sealed record ChatLimits(int MaxRooms, int MaxMessagesPerRoom, int MaxBodyChars, int MaxWaitersPerRoom, TimeSpan MentionWait)
{
    public static readonly ChatLimits Default = new(1000, 10_000, 64 * 1024, 1000, TimeSpan.FromMinutes(30));
}

/// <summary>
/// The messages of the chat subsystem (`/user/paseo/chat`, app-orchestration.md §1): what a session's chat child asks of
/// the rooms, and the one answer each request gets. Every answer is the frame to send, already shaped: the reply or its
/// rpc_error.
/// </summary>
public static class ChatProtocol
{
    /// <summary>A chat request, already read and checked against the wire schema by the session's chat child.</summary>
    public interface IChatRequest
    {
        string RequestId { get; }
    }

    /// <summary>A request naming a room by its selector (an id, or a name in any case).</summary>
    public interface IRoomRequest : IChatRequest
    {
        string Room { get; }
    }

    public sealed record CreateRoom(string RequestId, string Name, string? Purpose) : IChatRequest;

    public sealed record ListRooms(string RequestId) : IChatRequest;

    public sealed record InspectRoom(string RequestId, string Room) : IRoomRequest;

    public sealed record DeleteRoom(string RequestId, string Room) : IRoomRequest;

    /// <param name="Author">The trimmed authorAgentId, or the posting client's id when it sent none.</param>
    public sealed record Post(string RequestId, string Room, string Body, string Author, string? ReplyToMessageId) : IRoomRequest;

    public sealed record Read(string RequestId, string Room, long? Limit, string? Since, string? AuthorAgentId) : IRoomRequest;

    /// <param name="TimeoutMs">Null or 0: no timeout (the wait ends with a post, the room's deletion, or its client's disconnect).</param>
    /// <param name="WaitId">The session child's id for this wait, returned with its answer.</param>
    public sealed record Wait(string RequestId, string Room, string? AfterMessageId, long? TimeoutMs, long WaitId) : IRoomRequest;

    /// <summary>The answer to one request: the frame to send. <paramref name="WaitId"/> says which wait it ends (0: not a wait).</summary>
    public sealed record ChatAnswer(string Json, long WaitId = 0);

    /// <summary>From a session's chat child whose client went away: drop its waits without answering them.</summary>
    public sealed record CancelWaits(IActorRef Waiter);

    /// <summary>A room after a change (from the room to the rooms): what chat/list shows of it.</summary>
    public sealed record RoomSummary(ChatRoom Room, int MessageCount, string? LastMessageAt);

    /// <summary>Test and operator hook: the waits a room holds.</summary>
    public sealed record GetWaiterCount(string Room);

    public sealed record WaiterCount(int Count);
}
