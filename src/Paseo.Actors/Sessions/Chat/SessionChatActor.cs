using Akka.Actor;
using Paseo.Actors.Chat;
using Paseo.Transport.Protocol.Requests;
using static Paseo.Actors.Chat.ChatProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;

namespace Paseo.Actors.Sessions.Chat;

/// <summary>
/// One session's chat requests (`sessions/session-&lt;id&gt;/chat`; app-orchestration.md §1.3): each `chat/*` request is
/// read against the wire schema (a shape Paseo's schema refuses is `unknown_schema`), sent to the rooms, and answered
/// exactly once. A chat/wait lasts until a post, its timeout or its room's deletion — or until the client goes away:
/// when the session has no socket left its waits are dropped (Paseo keeps them until the next post).
/// </summary>
public sealed class SessionChatActor : ReceiveActor
{
    public static readonly HashSet<string> Kinds = ["chat/create", "chat/list", "chat/inspect", "chat/delete", "chat/post", "chat/read", "chat/wait"];

    private readonly IActorRef _rooms;
    private readonly string _clientId;
    private readonly HashSet<long> _waits = [];
    private long _nextWait;

    public SessionChatActor(IActorRef rooms, string clientId)
    {
        _rooms = rooms;
        _clientId = clientId;
        Receive<Request>(OnRequest);
        Receive<ChatAnswer>(answer =>
        {
            // A wait dropped when its client left is not answered again (the session already counted it).
            if (answer.WaitId != 0 && !_waits.Remove(answer.WaitId)) return;
            Context.Parent.Tell(new Answered(answer.Json));
        });
        Receive<ClientGone>(_ => DropWaits());
    }

    public static Props Props(IActorRef rooms, string clientId) => Akka.Actor.Props.Create(() => new SessionChatActor(rooms, clientId));

    /// <summary>From the session: its last socket closed.</summary>
    public sealed record ClientGone
    {
        public static readonly ClientGone Instance = new();
        private ClientGone() { }
    }

    protected override void PostStop() => _rooms.Tell(new CancelWaits(Self));

    private void DropWaits()
    {
        _rooms.Tell(new CancelWaits(Self));
        // Each dropped wait still counts as answered for the session's requests in flight.
        foreach (var _ in _waits) Context.Parent.Tell(new Answered(null));
        _waits.Clear();
    }

    private void OnRequest(Request request)
    {
        IChatRequest chat;
        try
        {
            chat = Read(request);
        }
        catch (InvalidRequestException)
        {
            Context.Parent.Tell(new Answered(Paseo.Transport.Protocol.WsOutbound.RpcError(request.RequestId!, request.Type, "Unknown request schema", "unknown_schema")));
            return;
        }
        if (chat is Wait wait) _waits.Add(wait.WaitId);
        _rooms.Tell(chat);
    }

    private IChatRequest Read(Request request)
    {
        var id = request.RequestId!;
        var reader = RequestReader.Of(request.Message);
        return request.Type switch
        {
            "chat/create" => new CreateRoom(id, reader.RequiredString("name"), Optional(reader, "purpose")),
            "chat/list" => new ListRooms(id),
            "chat/inspect" => new InspectRoom(id, reader.RequiredString("room")),
            "chat/delete" => new DeleteRoom(id, reader.RequiredString("room")),
            "chat/post" => new Post(id, reader.RequiredString("room"), reader.RequiredString("body"),
                Optional(reader, "authorAgentId")?.Trim() is { Length: > 0 } author ? author : _clientId, Optional(reader, "replyToMessageId")),
            "chat/read" => new Read(id, reader.RequiredString("room"), NonNegative(reader, "limit"), Optional(reader, "since"), Optional(reader, "authorAgentId")),
            "chat/wait" => new Wait(id, reader.RequiredString("room"), Optional(reader, "afterMessageId"), NonNegative(reader, "timeoutMs"), ++_nextWait),
            _ => throw new InvalidRequestException($"{request.Type} is not a chat request"),
        };
    }

    /// <summary>An optional string: absent is null, but an explicit null is refused (as Paseo's schema does).</summary>
    private static string? Optional(RequestReader reader, string key)
    {
        if (reader.Message.ContainsKey(key) && reader.Message[key] is null) throw new InvalidRequestException($"{key} must be a string when present");
        return reader.OptionalString(key);
    }

    private static long? NonNegative(RequestReader reader, string key)
    {
        if (reader.Message.ContainsKey(key) && reader.Message[key] is null) throw new InvalidRequestException($"{key} must be an integer when present");
        var value = reader.OptionalInt(key);
        return value is < 0 ? throw new InvalidRequestException($"{key} must be 0 or more") : value;
    }
}
