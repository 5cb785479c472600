using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.Chat;
using Paseo.Actors.Hosting;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Chat;

/// <summary>
/// chat/* over a real daemon's WebSocket (app-orchestration.md §1, §7, §8): every reply in the shapes of the spec's
/// examples, the shapes Paseo's schema refuses answered unknown_schema, a wait that ends when its client disconnects,
/// a mention that reaches a mock agent as the spec's text, and rooms that survive a restart.
/// </summary>
public sealed class ChatProtocolTests : IAsyncLifetime
{
    private const string IsoPattern = @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$";
    private readonly TestHome _home = new();
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_chat");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _home.Dispose();
    }

    private static async Task<JsonObject> Reply(ProtocolClient client, string type, JsonObject fields)
    {
        var frame = await client.RequestAsync(type, fields);
        var payload = ProtocolClient.Payload(frame, type + "/response");
        Assert.True(payload is not null, $"{type}: expected {type}/response, got {frame.ToJsonString()}");
        Assert.True(payload!.ContainsKey("error") && payload["error"] is null, "every reply has error: null");
        return payload;
    }

    private static async Task<JsonObject> RpcError(ProtocolClient client, string type, JsonObject fields)
    {
        var frame = await client.RequestAsync(type, fields);
        var payload = ProtocolClient.Payload(frame, "rpc_error");
        Assert.True(payload is not null, $"{type}: expected rpc_error, got {frame.ToJsonString()}");
        Assert.Equal(type, payload!["requestType"]!.GetValue<string>());
        return payload;
    }

    private static void RoomDetail(JsonNode? node)
    {
        var room = Assert.IsType<JsonObject>(node);
        Assert.Equal(["id", "name", "purpose", "createdAt", "updatedAt", "messageCount", "lastMessageAt"], room.Select(p => p.Key));
        Assert.Matches(IsoPattern, room["createdAt"]!.GetValue<string>());
        Assert.Matches(IsoPattern, room["updatedAt"]!.GetValue<string>());
        Assert.True(room["messageCount"]!.GetValue<int>() >= 0);
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", room["id"]!.GetValue<string>());
    }

    private static void Message(JsonNode? node)
    {
        var message = Assert.IsType<JsonObject>(node);
        Assert.Equal(["id", "roomId", "authorAgentId", "body", "replyToMessageId", "mentionAgentIds", "createdAt"], message.Select(p => p.Key));
        Assert.Equal(JsonValueKind.Array, message["mentionAgentIds"]!.GetValueKind());
        Assert.Matches(IsoPattern, message["createdAt"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_request_answers_in_the_specs_shapes()
    {
        // C.1
        var created = await Reply(_client, "chat/create", new JsonObject { ["name"] = "release-coord", ["purpose"] = "Coordinate the 0.2 release" });
        Assert.Equal(["requestId", "room", "error"], created.Select(p => p.Key));
        RoomDetail(created["room"]);
        Assert.Null(created["room"]!["lastMessageAt"]);

        // C.2: a post (author defaults to the connection's clientId), a reply, a waiting reader woken by it.
        var first = (await Reply(_client, "chat/post", new JsonObject { ["room"] = "release-coord", ["body"] = "@9a8b7c6d please run the e2e suite" }))["message"]!;
        Message(first);
        Assert.Equal("cid_chat", first["authorAgentId"]!.GetValue<string>());
        Assert.Equal(["9a8b7c6d"], first["mentionAgentIds"]!.AsArray().Select(m => m!.GetValue<string>()));
        var waitId = await _client.SendSessionAsync("chat/wait", new JsonObject
        {
            ["room"] = "release-coord", ["afterMessageId"] = first["id"]!.DeepClone(), ["timeoutMs"] = 300000,
        });
        var posted = (await Reply(_client, "chat/post", new JsonObject
        {
            ["room"] = "release-coord", ["body"] = "e2e suite passes (142 tests).", ["authorAgentId"] = "9a8b7c6d-5e4f-4a3b-8c1d-0e9f8a7b6c5d",
            ["replyToMessageId"] = first["id"]!.DeepClone(),
        }))["message"]!;
        var woken = ProtocolClient.Payload(await _client.ExpectAsync(f => f["message"]?["payload"]?["requestId"]?.GetValue<string>() == waitId), "chat/wait/response")!;
        Assert.Equal(["requestId", "messages", "timedOut", "error"], woken.Select(p => p.Key));
        Assert.False(woken["timedOut"]!.GetValue<bool>());
        Assert.Equal(posted["id"]!.GetValue<string>(), Assert.Single(woken["messages"]!.AsArray())!["id"]!.GetValue<string>());
        var timedOut = await Reply(_client, "chat/wait", new JsonObject { ["room"] = "release-coord", ["timeoutMs"] = 1 });
        Assert.True(timedOut["timedOut"]!.GetValue<bool>());
        Assert.Empty(timedOut["messages"]!.AsArray());
        var notFound = await RpcError(_client, "chat/inspect", new JsonObject { ["room"] = "nope" });
        Assert.Equal("Chat room not found: nope", notFound["error"]!.GetValue<string>());
        Assert.Equal("chat_room_not_found", notFound["code"]!.GetValue<string>());

        // C.3, list, inspect, delete
        var read = await Reply(_client, "chat/read", new JsonObject { ["room"] = "RELEASE-COORD" });
        Assert.Equal(["requestId", "messages", "error"], read.Select(p => p.Key));
        foreach (var message in read["messages"]!.AsArray()) Message(message);
        Assert.Equal(2, read["messages"]!.AsArray().Count);
        var listed = await Reply(_client, "chat/list", new JsonObject());
        RoomDetail(Assert.Single(listed["rooms"]!.AsArray()));
        Assert.Equal(2, listed["rooms"]![0]!["messageCount"]!.GetValue<int>());
        Assert.Equal(posted["createdAt"]!.GetValue<string>(), listed["rooms"]![0]!["lastMessageAt"]!.GetValue<string>());
        RoomDetail((await Reply(_client, "chat/inspect", new JsonObject { ["room"] = created["room"]!["id"]!.DeepClone() }))["room"]);
        var deleted = await Reply(_client, "chat/delete", new JsonObject { ["room"] = "release-coord" });
        Assert.Equal(2, deleted["room"]!["messageCount"]!.GetValue<int>());
        Assert.Empty((await Reply(_client, "chat/list", new JsonObject()))["rooms"]!.AsArray());
    }

    [Theory]
    [InlineData("chat/read", """{"room":"r","limit":-1}""")]
    [InlineData("chat/read", """{"room":"r","limit":1.5}""")]
    [InlineData("chat/wait", """{"room":"r","timeoutMs":-5}""")]
    [InlineData("chat/post", """{"room":"r"}""")]
    [InlineData("chat/post", """{"room":"r","body":"x","authorAgentId":null}""")]
    [InlineData("chat/create", """{}""")]
    [InlineData("chat/inspect", """{"room":7}""")]
    public async Task A_shape_paseos_schema_refuses_is_unknown_schema_and_harms_nothing(string type, string fields)
    {
        var error = await RpcError(_client, type, JsonNode.Parse(fields)!.AsObject());
        Assert.Equal("unknown_schema", error["code"]!.GetValue<string>());
        // The session goes on.
        RoomDetail((await Reply(_client, "chat/create", new JsonObject { ["name"] = "after " + Guid.NewGuid() }))["room"]);
    }

    private Task<int> WaitersAsync(string room) =>
        _daemon.Server.App.Services.GetRequiredService<Akka.Hosting.IRequiredActor<ChatRoomsKey>>().ActorRef
            .Ask<ChatProtocol.WaiterCount>(new ChatProtocol.GetWaiterCount(room), TimeSpan.FromSeconds(5)).ContinueWith(t => t.Result.Count);

    [Fact]
    public async Task A_wait_without_a_timeout_ends_when_its_client_disconnects()
    {
        await Reply(_client, "chat/create", new JsonObject { ["name"] = "quiet" });
        var (waiter, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_waiter");
        await waiter.SendSessionAsync("chat/wait", new JsonObject { ["room"] = "quiet" });
        await Eventually.HoldsAsync(async () => await WaitersAsync("quiet") == 1, "the wait to reach the room");
        await waiter.DisposeAsync();
        await Eventually.HoldsAsync(async () => await WaitersAsync("quiet") == 0, "the wait to end with its client");
        // A post afterwards has nobody to wake and works.
        Message((await Reply(_client, "chat/post", new JsonObject { ["room"] = "quiet", ["body"] = "anyone?" }))["message"]);
    }

    [Fact]
    public async Task A_mention_reaches_the_mentioned_mock_agent_as_the_specs_text_and_the_rooms_survive_a_restart()
    {
        var created = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _daemon.TestHome.Home.Root, ["title"] = "tester" },
        }), "status")!;
        var agentId = created["agent"]!["id"]!.GetValue<string>();
        await Reply(_client, "chat/create", new JsonObject { ["name"] = "release-coord" });
        await Reply(_client, "chat/post", new JsonObject { ["room"] = "release-coord", ["body"] = $"@{agentId[..8]} please run tests", ["authorAgentId"] = "manual" });
        var expected = $"Chat mention from manual in room \"release-coord\".\nMentioned agents: @{agentId[..8]}.\nMessage:\nplease run tests\n" +
                       "Read the room with: paseo chat read release-coord --limit 20";
        await Eventually.HoldsAsync(async () =>
        {
            var timeline = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_timeline_request", new JsonObject { ["agentId"] = agentId }),
                "fetch_agent_timeline_response")!;
            return timeline["entries"]!.AsArray().Any(e => e!["item"]!["type"]!.GetValue<string>() == "user_message" && e["item"]!["text"]!.GetValue<string>() == expected);
        }, "the mention as a user message in the agent's timeline");

        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _daemon = await InProcessDaemon.StartAsync(existingHome: _home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "cid_chat");
        var read = await Reply(_client, "chat/read", new JsonObject { ["room"] = "release-coord" });
        Assert.Equal($"@{agentId[..8]} please run tests", Assert.Single(read["messages"]!.AsArray())!["body"]!.GetValue<string>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.Home.ChatRoomsFile));
    }
}
