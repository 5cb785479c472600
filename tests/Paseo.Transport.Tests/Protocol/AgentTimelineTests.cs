using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Tests.Protocol;

/// <summary>The timeline fetch rules of app-protocol.md §3.2 and the projection of app-schemas.md §D.4.</summary>
public sealed class AgentTimelineTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-05-03T07:00:00Z");

    private static AgentTimeline With(params JsonObject[] items)
    {
        var timeline = new AgentTimeline("epoch-1");
        for (var i = 0; i < items.Length; i++) timeline.Append(items[i], T0.AddSeconds(i));
        return timeline;
    }

    private static JsonObject Tool(string callId, string status, JsonObject detail, JsonObject? metadata = null) =>
        TimelineItems.ToolCall(callId, "Bash", detail, status, status == "failed" ? "exit 1" : null, metadata);

    [Fact]
    public void The_projection_matches_the_spec_example()
    {
        // H.3: user, assistant, tool running, tool completed → three entries, the tool folded into its first row.
        var timeline = With(
            TimelineItems.UserMessage("List the files", "msg-0001"),
            TimelineItems.AssistantMessage("I'll list them."),
            Tool("toolu_01ABC", "running", TimelineItems.ShellDetail("ls", "/home/dev/project")),
            Tool("toolu_01ABC", "completed", TimelineItems.ShellDetail("ls", "/home/dev/project", "README.md\nsrc\n", 0)));

        var page = timeline.Fetch(new TimelineQuery(null, null, null, "projected"), "claude", true);

        var entries = page["entries"]!.AsArray();
        Assert.Equal(3, entries.Count);
        Assert.Equal(
            "{\"provider\":\"claude\",\"item\":{\"type\":\"tool_call\",\"callId\":\"toolu_01ABC\",\"name\":\"Bash\",\"detail\":{\"type\":\"shell\",\"command\":\"ls\",\"cwd\":\"/home/dev/project\",\"output\":\"README.md\\nsrc\\n\",\"exitCode\":0},\"status\":\"completed\",\"error\":null},\"timestamp\":\"2026-05-03T07:00:02.000Z\",\"seqStart\":3,\"seqEnd\":4,\"sourceSeqRanges\":[{\"startSeq\":3,\"endSeq\":4}],\"collapsed\":[\"tool_lifecycle\"]}",
            entries[2]!.ToJsonString());
        Assert.Equal("{\"minSeq\":1,\"maxSeq\":4,\"nextSeq\":5}", page["window"]!.ToJsonString());
        Assert.Equal("{\"epoch\":\"epoch-1\",\"seq\":1}", page["startCursor"]!.ToJsonString());
        Assert.Equal("{\"epoch\":\"epoch-1\",\"seq\":4}", page["endCursor"]!.ToJsonString());
    }

    [Fact]
    public void A_later_unknown_detail_never_replaces_a_known_one_and_metadata_merges()
    {
        var timeline = With(
            Tool("c1", "running", TimelineItems.ShellDetail("make"), new JsonObject { ["a"] = 1 }),
            Tool("c1", "failed", new JsonObject { ["type"] = "unknown", ["input"] = null, ["output"] = null }, new JsonObject { ["b"] = 2 }));

        var item = timeline.Fetch(new TimelineQuery(null, null, null, "projected"), "p", true)["entries"]![0]!["item"]!;

        Assert.Equal("shell", item["detail"]!["type"]!.GetValue<string>());
        Assert.Equal("{\"a\":1,\"b\":2}", item["metadata"]!.ToJsonString());
        Assert.Equal("failed", item["status"]!.GetValue<string>());
        Assert.Equal("exit 1", item["error"]!.GetValue<string>());
    }

    [Fact]
    public void Reasoning_merge_is_hidden_from_clients_that_do_not_know_it()
    {
        var timeline = With(TimelineItems.Reasoning("a"), TimelineItems.Reasoning("b"));
        var modern = timeline.Fetch(new TimelineQuery(null, null, null, "projected"), "p", true)["entries"]![0]!;
        var old = timeline.Fetch(new TimelineQuery(null, null, null, "projected"), "p", false)["entries"]![0]!;
        Assert.Equal("ab", modern["item"]!["text"]!.GetValue<string>());
        Assert.Equal("[\"reasoning_merge\"]", modern["collapsed"]!.ToJsonString());
        Assert.Equal("[]", old["collapsed"]!.ToJsonString());
    }

    [Fact]
    public void A_cursor_before_the_oldest_kept_row_is_a_gap()
    {
        var timeline = new AgentTimeline("e");
        // Rows 1-10 are not kept: the timeline starts at 11.
        timeline.Restore(Enumerable.Range(11, 5).Select(i => new TimelineRow(i, T0, TimelineItems.AssistantMessage($"{i}"))));

        var page = timeline.Fetch(new TimelineQuery("after", new TimelineCursor("e", 3), null, "canonical"), "p", true);

        Assert.True(page["reset"]!.GetValue<bool>());
        Assert.True(page["gap"]!.GetValue<bool>());
        Assert.False(page["staleCursor"]!.GetValue<bool>());
        Assert.Equal(5, page["entries"]!.AsArray().Count);
        Assert.Equal(16L, timeline.NextSeq);
    }

    [Fact]
    public void An_empty_timeline_has_a_zero_window_and_no_cursors()
    {
        var page = new AgentTimeline("e").Fetch(new TimelineQuery(null, null, null, "projected"), "p", true);
        Assert.Equal("{\"minSeq\":0,\"maxSeq\":0,\"nextSeq\":1}", page["window"]!.ToJsonString());
        Assert.Null(page["startCursor"]);
        Assert.Null(page["endCursor"]);
        Assert.False(page["hasOlder"]!.GetValue<bool>());
    }

    [Fact]
    public void Rows_round_trip_through_their_file_line_and_a_torn_line_is_not_a_row()
    {
        var row = new TimelineRow(7, T0, TimelineItems.UserMessage("hi", null));
        var line = AgentTimeline.ToLine(row);
        var back = AgentTimeline.FromLine(line)!;
        Assert.Equal(7, back.Seq);
        Assert.Equal(T0, back.Timestamp);
        Assert.Equal(row.Item.ToJsonString(), back.Item.ToJsonString());
        Assert.Null(AgentTimeline.FromLine(line[..^5]));
    }

    [Fact]
    public void A_tool_call_is_strict_about_its_error()
    {
        Assert.Throws<ArgumentException>(() => TimelineItems.ToolCall("c", "Bash", TimelineItems.ShellDetail("x"), "failed"));
        Assert.Throws<ArgumentException>(() => TimelineItems.ToolCall("c", "Bash", TimelineItems.ShellDetail("x"), "completed", "boom"));
        Assert.Equal(["type", "callId", "name", "detail", "status", "error"], TimelineItems.ToolCall("c", "Bash", TimelineItems.ShellDetail("x"), "running").Select(p => p.Key));
    }

    [Theory]
    [InlineData(null, null, 3L, true)]       // tail 3: memory holds the newest 5
    [InlineData(null, null, 0L, false)]      // the whole timeline: older rows are only on disk
    [InlineData(null, null, 6L, false)]
    [InlineData("after", 15L, null, true)]   // after 15: rows 16-20, all in memory
    [InlineData("after", 14L, null, false)]  // after 14: row 15 is only on disk
    [InlineData("after", 10L, null, false)]
    [InlineData("before", 20L, 3L, true)]    // 17-19
    [InlineData("before", 18L, 3L, false)]   // 15-17: 15 is only on disk
    public void Memory_answers_only_what_it_holds_whole(string? direction, long? cursorSeq, long? limit, bool fromMemory)
    {
        var timeline = new AgentTimeline("e", retainedRows: 5);
        // 20 rows exist on disk from seq 1; memory keeps the newest 5 (16-20).
        timeline.Restore(Enumerable.Range(16, 5).Select(i => new TimelineRow(i, T0, TimelineItems.AssistantMessage($"{i}"))), retainedFrom: 1);
        var cursor = cursorSeq is { } seq ? new TimelineCursor("e", seq) : null;

        Assert.Equal(fromMemory, timeline.CanAnswer(new TimelineQuery(direction, cursor, limit, "canonical")));
        Assert.Equal(1L, timeline.FirstRetainedSeq);
        var window = timeline.Fetch(new TimelineQuery(null, null, 2, "canonical"), "p", true)["window"]!;
        Assert.Equal("{\"minSeq\":1,\"maxSeq\":20,\"nextSeq\":21}", window.ToJsonString());
    }
}
