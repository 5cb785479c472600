using System.Text;
using System.Text.Json.Nodes;
using Paseo.Transport.Terminals;

namespace Paseo.Transport.Tests.Terminals;

/// <summary>tmux's captured screen (capture-pane -p -e -N) read into Paseo's TerminalState (app-workspaces.md §5.5).</summary>
public sealed class TerminalStateWriterTests
{
    private static byte[][] Lines(params string[] lines) => [.. lines.Select(Encoding.UTF8.GetBytes)];

    [Fact]
    public void The_snapshot_vector_of_the_spec_is_written_byte_for_byte()
    {
        var json = TerminalStateWriter.Write(Lines("$", ""), new PaneFacts(2, 3, 0, 2, false, null));
        Assert.Equal("{\"rows\":2,\"cols\":3,\"grid\":[[{\"char\":\"$\"},{\"char\":\" \"},{\"char\":\" \"}],[{\"char\":\" \"},{\"char\":\" \"},{\"char\":\" \"}]],\"scrollback\":[],\"cursor\":{\"row\":0,\"col\":2}}",
            Encoding.UTF8.GetString(json));
    }

    [Fact]
    public void History_lines_are_the_scrollback_oldest_first_and_the_last_rows_the_grid()
    {
        var state = JsonNode.Parse(TerminalStateWriter.Write(Lines("old 1", "old 2", "top", "bottom"), new PaneFacts(2, 6, 1, 6, true, "vim main.c")))!;
        string Row(JsonNode row) => string.Concat(row.AsArray().Select(c => c!["char"]!.GetValue<string>()));
        Assert.Equal(["old 1 ", "old 2 "], state["scrollback"]!.AsArray().Select(r => Row(r!)));
        Assert.Equal(["top   ", "bottom"], state["grid"]!.AsArray().Select(r => Row(r!)));
        // Clamped into the screen; hidden only when it is.
        Assert.Equal("{\"row\":1,\"col\":5,\"hidden\":true}", state["cursor"]!.ToJsonString());
        Assert.Equal("vim main.c", state["title"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("\u001b[31mx", 1, 1)]
    [InlineData("\u001b[91mx", 9, 1)]
    [InlineData("\u001b[38;5;208mx", 208, 2)]
    [InlineData("\u001b[38:5:208mx", 208, 2)]
    [InlineData("\u001b[38;2;1;2;3mx", 0x010203, 3)]
    [InlineData("\u001b[38:2::1:2:3mx", 0x010203, 3)]
    [InlineData("\u001b[38:2:1:2:3mx", 0x010203, 3)]
    public void Foreground_colours_carry_their_mode(string line, int fg, int mode)
    {
        var cell = TerminalStateWriter.Cells(Encoding.UTF8.GetBytes(line), 1)[0];
        Assert.Equal(("x", fg, mode), (cell.Char, cell.Fg, cell.FgMode));
    }

    [Fact]
    public void Styles_set_and_reset_as_sgr_says()
    {
        var cells = TerminalStateWriter.Cells(Encoding.UTF8.GetBytes("\u001b[1;2;3;4;7;9;44ma\u001b[22;23;24;27;29;49mb\u001b[4:3;102mc\u001b[4:0md\u001b[0me\u001b[mf"), 6);
        Assert.Equal(new Cell("a", Bg: 4, BgMode: 1, Bold: true, Dim: true, Italic: true, Underline: true, Inverse: true, Strikethrough: true), cells[0]);
        Assert.Equal(new Cell("b"), cells[1]);
        Assert.Equal(new Cell("c", Bg: 10, BgMode: 1, Underline: true), cells[2]);
        Assert.Equal(new Cell("d", Bg: 10, BgMode: 1), cells[3]);
        Assert.Equal(new Cell("e"), cells[4]);
        Assert.Equal(new Cell("f"), cells[5]);
    }

    [Fact]
    public void Wide_characters_take_two_cells_combining_marks_join_and_rows_are_cut_to_the_width()
    {
        var cells = TerminalStateWriter.Cells(Encoding.UTF8.GetBytes("中e\u0301🙂xyz"), 6);
        Assert.Equal(["中", "", "e\u0301", "🙂", "", "x"], cells.Select(c => c.Char));
        // Other escape sequences (a hyperlink) are skipped, not shown.
        Assert.Equal(["a", "b", " "], TerminalStateWriter.Cells(Encoding.UTF8.GetBytes("\u001b]8;;http://x\u001b\\a\u001b]8;;\u0007b"), 3).Select(c => c.Char));
    }

    [Fact]
    public void Only_the_schemas_keys_are_written_and_never_null()
    {
        var state = JsonNode.Parse(TerminalStateWriter.Write(Lines("\u001b[1;31;48;5;17mX\u001b[0m"), new PaneFacts(1, 2, 0, 1, false, null)))!.AsObject();
        Assert.Equal(["rows", "cols", "grid", "scrollback", "cursor"], state.Select(p => p.Key));
        var cell = state["grid"]![0]![0]!.AsObject();
        Assert.Equal("{\"char\":\"X\",\"fg\":1,\"fgMode\":1,\"bg\":17,\"bgMode\":2,\"bold\":true}", cell.ToJsonString());
    }
}

/// <summary>
/// The app's reading of a Snapshot (app-workspaces.md §5.5): every object strict — an extra key, or null in an optional
/// key, and the snapshot is dropped. The daemon only writes snapshots; this checks what it writes, as the app would.
/// </summary>
public static class TerminalStateSchema
{
    private static readonly HashSet<string> StateKeys = ["rows", "cols", "grid", "scrollback", "cursor", "title"];
    private static readonly HashSet<string> CellKeys = ["char", "fg", "bg", "fgMode", "bgMode", "bold", "italic", "underline", "dim", "inverse", "strikethrough"];
    private static readonly HashSet<string> CursorKeys = ["row", "col", "hidden", "style", "blink"];

    public static bool IsValid(JsonNode? node)
    {
        if (node is not JsonObject state || state.Any(p => !StateKeys.Contains(p.Key) || p.Value is null)) return false;
        if (!IsNumber(state["rows"]) || !IsNumber(state["cols"]) || state["grid"] is not JsonArray grid || state["scrollback"] is not JsonArray scrollback) return false;
        if (state["title"] is { } title && title.GetValueKind() != System.Text.Json.JsonValueKind.String) return false;
        if (state["cursor"] is not JsonObject cursor || cursor.Any(p => !CursorKeys.Contains(p.Key) || p.Value is null) || !IsNumber(cursor["row"]) || !IsNumber(cursor["col"])) return false;
        return grid.Concat(scrollback).All(row => row is JsonArray cells && cells.All(IsCell));
    }

    private static bool IsCell(JsonNode? node) =>
        node is JsonObject cell && cell.All(p => CellKeys.Contains(p.Key) && p.Value is not null) && cell["char"]?.GetValueKind() == System.Text.Json.JsonValueKind.String
        && cell.Where(p => p.Key is "fg" or "bg" or "fgMode" or "bgMode").All(p => IsNumber(p.Value))
        && cell.Where(p => p.Key is "bold" or "italic" or "underline" or "dim" or "inverse" or "strikethrough").All(p => p.Value!.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False);

    private static bool IsNumber(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.Number;
}

public sealed class TerminalStateSchemaTests
{
    private const string Vector = """{"rows":2,"cols":3,"grid":[[{"char":"$"},{"char":" "},{"char":" "}],[{"char":" "},{"char":" "},{"char":" "}]],"scrollback":[],"cursor":{"row":0,"col":2}}""";

    [Fact]
    public void The_snapshot_vector_frames_and_decodes_and_what_the_app_drops_is_dropped()
    {
        var json = TerminalStateWriter.Write([Encoding.UTF8.GetBytes("$"), []], new PaneFacts(2, 3, 0, 2, false, null));
        var frame = Paseo.Transport.Protocol.BinaryFrames.Terminal(Paseo.Transport.Protocol.BinaryFrames.Snapshot, 1, json);
        Assert.Equal("0401" + Convert.ToHexString(Encoding.UTF8.GetBytes(Vector)), Convert.ToHexString(frame));
        var read = Paseo.Transport.Protocol.BinaryFrames.ReadTerminal(frame)!.Value;
        Assert.True(TerminalStateSchema.IsValid(JsonNode.Parse(read.Payload.Span)));
        Assert.False(TerminalStateSchema.IsValid(JsonNode.Parse(Vector.Replace("\"rows\":2", "\"revision\":5,\"rows\":2"))));
        Assert.False(TerminalStateSchema.IsValid(JsonNode.Parse(Vector.Replace("{\"char\":\"$\"}", "{\"char\":\"$\",\"fg\":null}"))));
        Assert.False(TerminalStateSchema.IsValid(JsonNode.Parse(Vector.Replace("{\"char\":\"$\"}", "{\"char\":\"$\",\"blink\":true}"))));
        // Everything the writer makes from a coloured screen passes.
        var coloured = TerminalStateWriter.Write([Encoding.UTF8.GetBytes("\u001b[1;31;48;2;1;2;3mX\u001b[4;7m中\u001b[0m")], new PaneFacts(1, 4, 0, 3, true, "t"));
        Assert.True(TerminalStateSchema.IsValid(JsonNode.Parse(coloured)));
    }
}
