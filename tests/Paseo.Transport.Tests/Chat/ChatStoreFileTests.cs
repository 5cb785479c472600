using System.Text.Json.Nodes;
using Paseo.Transport.Chat;

namespace Paseo.Transport.Tests.Chat;

/// <summary>chat/rooms.json (§1.6): written atomically with mode 0600 and both arrays sorted; Paseo's own file (§7 C.4) loads; a damaged file is refused and kept.</summary>
public sealed class ChatStoreFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-chat-").FullName;
    private string Path => System.IO.Path.Combine(_dir, "chat", "rooms.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_missing_file_is_no_rooms() => Assert.Empty(ChatStoreFile.Load(Path));

    [Fact]
    public void Rooms_and_messages_round_trip_sorted_by_creation_in_a_private_file()
    {
        var older = new ChatRoom("r1", "Older", null, "2026-05-03T07:00:00.000Z", "2026-05-03T07:02:00.000Z");
        var newer = new ChatRoom("r2", "newer", "why", "2026-05-03T07:01:00.000Z", "2026-05-03T07:01:00.000Z");
        var m1 = new ChatMessage("m1", "r1", "manual", "first", null, [], "2026-05-03T07:00:30.000Z");
        var m2 = new ChatMessage("m2", "r1", "a", "@b second", "m1", ["b"], "2026-05-03T07:02:00.000Z");
        ChatStoreFile.Save(Path, [(newer, []), (older, [m1, m2])]);

        var json = JsonNode.Parse(File.ReadAllText(Path))!;
        Assert.Equal(["r1", "r2"], json["rooms"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        Assert.Equal(["m1", "m2"], json["messages"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path));
        var loaded = ChatStoreFile.Load(Path).ToDictionary(r => r.Room.Id);
        Assert.Equal(older, loaded["r1"].Room);
        Assert.Equal(["m1", "m2"], loaded["r1"].Messages.Select(m => m.Id));
        Assert.Equal(["b"], loaded["r1"].Messages[1].MentionAgentIds);
        Assert.Equal("m1", loaded["r1"].Messages[1].ReplyToMessageId);
        Assert.Empty(loaded["r2"].Messages);
    }

    [Fact]
    public void Paseos_own_file_loads()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        File.WriteAllText(Path, """
            {
              "rooms": [
                {"id": "5d0b9a3e-8f21-4c57-9a6e-2b7c1d4e8f90", "name": "release-coord", "purpose": "Coordinate the 0.2 release",
                 "createdAt": "2026-05-03T07:00:00.000Z", "updatedAt": "2026-05-03T07:01:00.000Z"}
              ],
              "messages": [
                {"id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "roomId": "5d0b9a3e-8f21-4c57-9a6e-2b7c1d4e8f90",
                 "authorAgentId": "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c", "body": "@9a8b7c6d please run the e2e suite and report here",
                 "replyToMessageId": null, "mentionAgentIds": ["9a8b7c6d"], "createdAt": "2026-05-03T07:01:00.000Z"}
              ]
            }
            """);
        var (room, messages) = Assert.Single(ChatStoreFile.Load(Path));
        Assert.Equal("release-coord", room.Name);
        Assert.Equal("Coordinate the 0.2 release", room.Purpose);
        Assert.Equal(["9a8b7c6d"], Assert.Single(messages).MentionAgentIds);
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("[]")]
    [InlineData("""{"rooms": [{"id": "r1"}], "messages": []}""")]
    [InlineData("""{"rooms": [], "messages": [{"id": "m1", "roomId": "gone", "authorAgentId": "a", "body": "b", "replyToMessageId": null, "mentionAgentIds": [], "createdAt": "t"}]}""")]
    public void A_damaged_file_is_refused_with_its_path_and_left_as_it_is(string content)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        File.WriteAllText(Path, content);
        var e = Assert.Throws<ChatStoreDamagedException>(() => ChatStoreFile.Load(Path));
        Assert.Contains(Path, e.Message);
        Assert.Contains("moved aside", e.Message);
        Assert.Equal(content, File.ReadAllText(Path));
    }
}
