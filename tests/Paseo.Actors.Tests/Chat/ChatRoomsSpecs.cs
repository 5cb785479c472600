using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Chat;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Chat.ChatProtocol;

namespace Paseo.Actors.Tests.Chat;

/// <summary>
/// The chat rooms (app-orchestration.md §1.4) with their real store on a temp folder: names, selectors and the list;
/// posts and reads; waits that wake, time out, end with their room or are dropped; a damaged file; and mentions, which
/// reach an idle agent at once and a busy one only after its turn (never interrupting it), and skip an archived one.
/// </summary>
public sealed class ChatRoomsSpecs : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-chat-specs-").FullName;
    private readonly TestProbe _agents;
    private string StorePath => Path.Combine(_dir, "chat", "rooms.json");

    public ChatRoomsSpecs(ITestOutputHelper output) : base(SpecConfig.Hocon, output) => _agents = CreateTestProbe();

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    private IActorRef Rooms(ChatLimits? limits = null) => Sys.ActorOf(ChatRoomsActor.Props(StorePath, _agents.Ref, limits ?? ChatLimits.Default, TimeProvider.System));

    private static long _nextRequest;

    private static string NextId() => "r" + Interlocked.Increment(ref _nextRequest);

    /// <summary>Sends a request and returns the answer frame's payload; its type and requestId are checked.</summary>
    private JsonObject Ask(IActorRef rooms, IChatRequest request, string? expectType = null)
    {
        rooms.Tell(request, TestActor);
        var frame = JsonNode.Parse(ExpectMsg<ChatAnswer>().Json)!.AsObject();
        var message = frame["message"]!.AsObject();
        Assert.Equal(expectType ?? ChatFrames.TypeOf(request) + "/response", message["type"]!.GetValue<string>());
        var payload = message["payload"]!.AsObject();
        Assert.Equal(request.RequestId, payload["requestId"]!.GetValue<string>());
        return payload;
    }

    private (string Code, string Error) Fails(IActorRef rooms, IChatRequest request)
    {
        var payload = Ask(rooms, request, "rpc_error");
        Assert.Equal(ChatFrames.TypeOf(request), payload["requestType"]!.GetValue<string>());
        return (payload["code"]!.GetValue<string>(), payload["error"]!.GetValue<string>());
    }

    private JsonObject Post(IActorRef rooms, string room, string body, string author = "manual", string? replyTo = null) =>
        Ask(rooms, new Post(NextId(), room, body, author, replyTo))["message"]!.AsObject();

    [Fact]
    public void Rooms_are_made_named_once_ignoring_case_found_by_id_or_name_and_listed_newest_message_first()
    {
        var rooms = Rooms();
        var first = Ask(rooms, new CreateRoom(NextId(), "  Release-Coord ", " the 0.2 release "))["room"]!.AsObject();
        Assert.Equal("Release-Coord", first["name"]!.GetValue<string>());
        Assert.Equal("the 0.2 release", first["purpose"]!.GetValue<string>());
        Assert.Equal(0, first["messageCount"]!.GetValue<int>());
        Assert.Null(first["lastMessageAt"]);
        Assert.Equal(first["createdAt"]!.GetValue<string>(), first["updatedAt"]!.GetValue<string>());
        Assert.Equal(("chat_room_name_taken", "Chat room already exists with name: release-coord"), Fails(rooms, new CreateRoom(NextId(), "release-coord", null)));
        Assert.Equal(("invalid_chat_room_name", "Chat room name is required"), Fails(rooms, new CreateRoom(NextId(), "  ", null)));
        var second = Ask(rooms, new CreateRoom(NextId(), "other", ""))["room"]!.AsObject();
        Assert.Null(second["purpose"]);

        Assert.Equal(first["id"]!.GetValue<string>(), Ask(rooms, new InspectRoom(NextId(), "RELEASE-COORD"))["room"]!["id"]!.GetValue<string>());
        Assert.Equal("other", Ask(rooms, new InspectRoom(NextId(), " " + second["id"]!.GetValue<string>()))["room"]!["name"]!.GetValue<string>());
        Assert.Equal(("chat_room_not_found", "Chat room not found: nope"), Fails(rooms, new InspectRoom(NextId(), " nope ")));
        Assert.Equal(("invalid_chat_room", "Chat room name or ID is required"), Fails(rooms, new InspectRoom(NextId(), "")));

        Post(rooms, "release-coord", "hello");
        var listed = Ask(rooms, new ListRooms(NextId()))["rooms"]!.AsArray();
        Assert.Equal(["Release-Coord", "other"], listed.Select(r => r!["name"]!.GetValue<string>()));
        Assert.Equal(1, listed[0]!["messageCount"]!.GetValue<int>());
    }

    [Fact]
    public void Posts_are_trimmed_checked_and_read_back_filtered_and_limited_to_the_last_ones()
    {
        var rooms = Rooms();
        Ask(rooms, new CreateRoom(NextId(), "room", null));
        var first = Post(rooms, "room", "  @b2 @a1 hi (@c3.) e@mail  ", "a1");
        Assert.Equal("@b2 @a1 hi (@c3.) e@mail", first["body"]!.GetValue<string>());
        Assert.Equal(["a1", "b2", "c3."], first["mentionAgentIds"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Null(first["replyToMessageId"]);
        var reply = Post(rooms, "room", "answer", "b2", first["id"]!.GetValue<string>());
        Assert.Equal(first["id"]!.GetValue<string>(), reply["replyToMessageId"]!.GetValue<string>());
        Assert.Equal(("chat_message_not_found", "Reply target not found: nope"), Fails(rooms, new Post(NextId(), "room", "x", "a1", "nope")));
        Assert.Equal(("invalid_chat_message", "Chat message body is required"), Fails(rooms, new Post(NextId(), "room", " \n ", "a1", null)));
        for (var i = 0; i < 25; i++) Post(rooms, "room", $"n{i}");

        string[] Bodies(JsonObject payload) => payload["messages"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()).ToArray();
        Assert.Equal(20, Bodies(Ask(rooms, new Read(NextId(), "room", null, null, null))).Length);
        Assert.Equal(["n23", "n24"], Bodies(Ask(rooms, new Read(NextId(), "room", 2, null, null))));
        Assert.Equal(27, Bodies(Ask(rooms, new Read(NextId(), "room", 0, null, null))).Length);
        Assert.Equal(["answer"], Bodies(Ask(rooms, new Read(NextId(), "room", 0, null, " b2 "))));
        Assert.Equal(27, Bodies(Ask(rooms, new Read(NextId(), "room", 0, first["createdAt"]!.GetValue<string>(), null))).Length);
        Assert.Empty(Bodies(Ask(rooms, new Read(NextId(), "room", 0, "9999", null))));
    }

    [Fact]
    public void A_wait_wakes_with_the_messages_after_its_cursor_or_the_newest_and_answers_at_once_when_it_is_behind()
    {
        var rooms = Rooms();
        Ask(rooms, new CreateRoom(NextId(), "room", null));
        var cursor = Post(rooms, "room", "before")["id"]!.GetValue<string>();
        var cursorWaiter = CreateTestProbe();
        var plainWaiter = CreateTestProbe();
        rooms.Tell(new Wait("w1", "room", cursor, null, 1), cursorWaiter);
        rooms.Tell(new Wait("w2", "room", null, 0, 2), plainWaiter);
        AwaitAssert(() => Assert.Equal(2, rooms.Ask<WaiterCount>(new GetWaiterCount("room"), TimeSpan.FromSeconds(3)).Result.Count));
        Post(rooms, "room", "after");

        var woken = JsonNode.Parse(cursorWaiter.ExpectMsg<ChatAnswer>(a => a.WaitId == 1).Json)!["message"]!["payload"]!;
        Assert.Equal(["after"], woken["messages"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()));
        Assert.False(woken["timedOut"]!.GetValue<bool>());
        Assert.Null(woken["error"]);
        var plain = JsonNode.Parse(plainWaiter.ExpectMsg<ChatAnswer>(a => a.WaitId == 2).Json)!["message"]!["payload"]!;
        Assert.Equal(["after"], plain["messages"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()));

        // A cursor behind the newest message is answered at once with everything after it; an unknown one fails.
        var behind = Ask(rooms, new Wait(NextId(), "room", cursor, 60_000, 3));
        Assert.Equal(["after"], behind["messages"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()));
        Assert.Equal(("chat_message_not_found", "Wait cursor not found: nope"), Fails(rooms, new Wait(NextId(), "room", "nope", null, 4)));
    }

    [Fact]
    public void A_wait_times_out_empty_ends_with_its_rooms_deletion_and_is_dropped_for_a_client_that_left()
    {
        var rooms = Rooms();
        Ask(rooms, new CreateRoom(NextId(), "room", null));
        var timedOut = Ask(rooms, new Wait(NextId(), "room", null, 50, 1));
        Assert.Empty(timedOut["messages"]!.AsArray());
        Assert.True(timedOut["timedOut"]!.GetValue<bool>());

        var gone = CreateTestProbe();
        var kept = CreateTestProbe();
        rooms.Tell(new Wait("w-gone", "room", null, null, 2), gone);
        rooms.Tell(new Wait("w-kept", "room", null, null, 3), kept);
        AwaitAssert(() => Assert.Equal(2, rooms.Ask<WaiterCount>(new GetWaiterCount("room"), TimeSpan.FromSeconds(3)).Result.Count));
        rooms.Tell(new CancelWaits(gone.Ref));
        AwaitAssert(() => Assert.Equal(1, rooms.Ask<WaiterCount>(new GetWaiterCount("room"), TimeSpan.FromSeconds(3)).Result.Count));

        var deleted = Ask(rooms, new DeleteRoom(NextId(), "room"))["room"]!.AsObject();
        Assert.Equal("room", deleted["name"]!.GetValue<string>());
        var ended = JsonNode.Parse(kept.ExpectMsg<ChatAnswer>().Json)!["message"]!["payload"]!;
        Assert.Equal("chat_room_deleted", ended["code"]!.GetValue<string>());
        Assert.Equal("Chat room deleted: room", ended["error"]!.GetValue<string>());
        gone.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(("chat_room_not_found", "Chat room not found: room"), Fails(rooms, new InspectRoom(NextId(), "room")));
        Assert.Empty(Ask(rooms, new ListRooms(NextId()))["rooms"]!.AsArray());
    }

    [Fact]
    public void Rooms_and_messages_survive_a_restart_of_the_rooms_and_the_oldest_messages_go_beyond_the_limit()
    {
        var limits = ChatLimits.Default with { MaxMessagesPerRoom = 3 };
        var rooms = Rooms(limits);
        Ask(rooms, new CreateRoom(NextId(), "room", "kept"));
        for (var i = 0; i < 5; i++) Post(rooms, "room", $"n{i}");
        Watch(rooms);
        Sys.Stop(rooms);
        ExpectTerminated(rooms);

        var again = Rooms(limits);
        var read = Ask(again, new Read(NextId(), "room", 0, null, null));
        Assert.Equal(["n2", "n3", "n4"], read["messages"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()));
        Assert.Equal("kept", Ask(again, new InspectRoom(NextId(), "room"))["room"]!["purpose"]!.GetValue<string>());
    }

    [Fact]
    public void A_damaged_store_answers_every_request_with_the_reason_and_is_not_overwritten()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StorePath)!);
        File.WriteAllText(StorePath, "{ damaged");
        var rooms = Rooms();
        var (code, error) = Fails(rooms, new CreateRoom(NextId(), "room", null));
        Assert.Equal("chat_request_failed", code);
        Assert.Contains("rooms.json is damaged", error);
        Assert.Equal("chat_request_failed", Fails(rooms, new ListRooms(NextId())).Code);
        Assert.Equal("{ damaged", File.ReadAllText(StorePath));
    }

    private static AgentSnapshot Agent(string id, AgentStatus status, DateTimeOffset? archivedAt = null) => new()
    {
        Id = id, Provider = "mock", Cwd = "/tmp", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, Status = status,
        Capabilities = AgentCapabilities.Stored, ArchivedAt = archivedAt,
    };

    [Fact]
    public void A_mention_reaches_an_idle_agent_at_once_a_busy_one_after_its_turn_once_per_agent_and_never_an_archived_one_or_the_author()
    {
        var rooms = Rooms();
        Ask(rooms, new CreateRoom(NextId(), "release-coord", null));
        // idle1 is named twice (by id prefix and by its title): one delivery. "a1b2" names the author's own agent.
        Post(rooms, "release-coord", "@idle1 @Idle-Title @busy2 @old3 @a1b2 @a1b2c3d4-0000 please run tests", "a1b2c3d4-0000");
        var expected = "Chat mention from a1b2c3d4-0000 in room \"release-coord\".\nMentioned agents: @Idle-Title, @a1b2, @busy2, @idle1, @old3.\n" +
                       "Message:\nplease run tests\nRead the room with: paseo chat read release-coord --limit 20";

        // Each token is resolved first (the author's exact id is not a target).
        var answers = new Dictionary<string, AgentSnapshot>
        {
            ["idle1"] = Agent("idle1-id", AgentStatus.Idle), ["Idle-Title"] = Agent("idle1-id", AgentStatus.Idle),
            ["busy2"] = Agent("busy2-id", AgentStatus.Running), ["old3"] = Agent("old3-id", AgentStatus.Idle, DateTimeOffset.UtcNow),
            ["a1b2"] = Agent("a1b2c3d4-0000", AgentStatus.Idle),
        };
        for (var i = 0; i < answers.Count; i++)
        {
            var lookup = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(5));
            Assert.IsType<GetSnapshot>(lookup.Command);
            _agents.Reply(answers[lookup.Identifier]);
        }

        // Then one offer per agent that is neither archived nor the author, each from its own delivery.
        var offers = new Dictionary<string, (SendMessageIfIdle Offer, IActorRef From)>();
        for (var i = 0; i < 2; i++)
        {
            var offer = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(5));
            offers[offer.Identifier] = (Assert.IsType<SendMessageIfIdle>(offer.Command), _agents.LastSender);
        }
        Assert.Equal(["busy2-id", "idle1-id"], offers.Keys.Order());
        Assert.Equal(expected, offers["idle1-id"].Offer.Text);
        offers["idle1-id"].From.Tell(new MessageAccepted(Paseo.Actors.Agents.AgentId.From("3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c")), _agents.Ref);

        // The busy agent is not interrupted: the mention waits for its turn's end, then is offered again.
        var busy = offers["busy2-id"].From;
        busy.Tell(new AgentBusy(Paseo.Actors.Agents.AgentId.From("3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c")), _agents.Ref);
        var wait = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(5));
        Assert.Equal("busy2-id", wait.Identifier);
        Assert.IsType<WaitForFinish>(wait.Command);
        Assert.Equal(busy, _agents.LastSender);
        busy.Tell(new FinishResult("idle", Agent("busy2-id", AgentStatus.Idle), null, null), _agents.Ref);
        var again = _agents.ExpectMsg<ToAgent>(TimeSpan.FromSeconds(5));
        Assert.Equal("busy2-id", again.Identifier);
        Assert.Equal(expected, Assert.IsType<SendMessageIfIdle>(again.Command).Text);
        _agents.Reply(new MessageAccepted(Paseo.Actors.Agents.AgentId.From("3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c")));
        // Nothing for the archived agent or the author.
        _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }
}
