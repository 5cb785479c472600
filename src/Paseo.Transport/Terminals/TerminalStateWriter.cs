using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Paseo.Transport.Terminals;

/// <summary>Where the cursor is and what else tmux says about a pane besides its cells (`display -p`).</summary>
public sealed record PaneFacts(int Rows, int Cols, int CursorRow, int CursorCol, bool CursorHidden, string? Title);

/// <summary>
/// Turns tmux's `capture-pane -p -e -N` of a pane (history then the visible rows, each row its characters with SGR
/// sequences for the attributes) into Paseo's TerminalState (app-workspaces.md §5.5), written straight to UTF-8 JSON. The
/// screen state is tmux's: this only reads the attributes tmux prints (SGR), it emulates nothing. A cell carries only
/// what is not default (the schema's keys are all optional but `char`), which keeps a 1 000-line snapshot small.
/// </summary>
public static class TerminalStateWriter
{
    public static byte[] Write(IReadOnlyList<byte[]> capturedLines, PaneFacts pane)
    {
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(1L << 20, (long)capturedLines.Count * pane.Cols * 14 + 256));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("rows", pane.Rows);
            json.WriteNumber("cols", pane.Cols);
            // The last `rows` lines are the screen; tmux always prints them all, blank ones included.
            var history = Math.Max(0, capturedLines.Count - pane.Rows);
            json.WriteStartArray("grid");
            for (var i = history; i < history + pane.Rows; i++) WriteRow(json, i < capturedLines.Count ? capturedLines[i] : [], pane.Cols);
            json.WriteEndArray();
            json.WriteStartArray("scrollback");
            for (var i = 0; i < history; i++) WriteRow(json, capturedLines[i], pane.Cols);
            json.WriteEndArray();
            json.WriteStartObject("cursor");
            json.WriteNumber("row", Math.Clamp(pane.CursorRow, 0, Math.Max(0, pane.Rows - 1)));
            json.WriteNumber("col", Math.Clamp(pane.CursorCol, 0, Math.Max(0, pane.Cols - 1)));
            if (pane.CursorHidden) json.WriteBoolean("hidden", true);
            json.WriteEndObject();
            if (!string.IsNullOrEmpty(pane.Title)) json.WriteString("title", pane.Title);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The cells of one captured row, exactly <paramref name="cols"/> of them (padded with blanks, cut beyond).</summary>
    public static List<Cell> Cells(ReadOnlySpan<byte> line, int cols)
    {
        var cells = new List<Cell>(cols);
        var style = default(Cell);
        var text = Encoding.UTF8.GetString(line);
        for (var i = 0; i < text.Length && cells.Count < cols;)
        {
            var c = text[i];
            if (c == '\u001b')
            {
                i = Escape(text, i, ref style);
                continue;
            }
            if (!Rune.TryGetRuneAt(text, i, out var rune))
            {
                i++;
                continue;
            }
            i += rune.Utf16SequenceLength;
            if (rune.Value < 0x20 || rune.Value == 0x7f) continue;
            var width = CellWidth.Of(rune);
            if (width == 0)
            {
                // A combining mark belongs to the character before it.
                if (cells.Count > 0) cells[^1] = cells[^1] with { Char = cells[^1].Char + rune };
                continue;
            }
            cells.Add(style with { Char = rune.ToString() });
            // A wide character takes two columns; the second holds nothing (as xterm's grid has it).
            if (width == 2 && cells.Count < cols) cells.Add(style with { Char = "" });
        }
        while (cells.Count < cols) cells.Add(Cell.Blank);
        return cells;
    }

    private static void WriteRow(Utf8JsonWriter json, ReadOnlySpan<byte> line, int cols)
    {
        json.WriteStartArray();
        foreach (var cell in Cells(line, cols)) cell.Write(json);
        json.WriteEndArray();
    }

    /// <summary>Skips one escape sequence starting at <paramref name="start"/>, applying it when it is SGR; returns the index after it.</summary>
    private static int Escape(string text, int start, ref Cell style)
    {
        if (start + 1 >= text.Length) return text.Length;
        var kind = text[start + 1];
        if (kind == '[')
        {
            var end = start + 2;
            while (end < text.Length && text[end] is < '@' or > '~') end++;
            if (end >= text.Length) return text.Length;
            if (text[end] == 'm') style = Sgr(text.AsSpan(start + 2, end - start - 2), style);
            return end + 1;
        }
        if (kind == ']')
        {
            // OSC (a hyperlink): to BEL or ST.
            var end = start + 2;
            while (end < text.Length && text[end] != '\u0007' && !(text[end] == '\u001b' && end + 1 < text.Length && text[end + 1] == '\\')) end++;
            return Math.Min(text.Length, end + (end < text.Length && text[end] == '\u001b' ? 2 : 1));
        }
        return start + 2;
    }

    /// <summary>
    /// Applies one SGR sequence's parameters: `;`-separated, where a group with `:` is one attribute with its
    /// sub-parameters (`4:3` curly underline, `38:2::r:g:b`).
    /// </summary>
    public static Cell Sgr(ReadOnlySpan<char> parameters, Cell style)
    {
        Span<int> p = stackalloc int[32];
        Span<int> sub = stackalloc int[8];
        var count = 0;
        foreach (var range in parameters.Split(';'))
        {
            if (count == p.Length) break;
            var group = parameters[range];
            if (group.Contains(':'))
            {
                // One attribute with sub-parameters: applied here, whole.
                var n = 0;
                foreach (var part in group.Split(':'))
                    if (n < sub.Length) sub[n++] = int.TryParse(group[part], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
                style = SubParameters(sub[..n], style);
                continue;
            }
            p[count++] = int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
        }
        if (count == 0 && parameters.IsEmpty) return Cell.Blank with { Char = style.Char };
        for (var i = 0; i < count; i++)
        {
            var n = p[i];
            switch (n)
            {
                case 0: style = Cell.Blank with { Char = style.Char }; break;
                case 1: style = style with { Bold = true }; break;
                case 2: style = style with { Dim = true }; break;
                case 3: style = style with { Italic = true }; break;
                case 4 or 21: style = style with { Underline = true }; break;
                case 7: style = style with { Inverse = true }; break;
                case 9: style = style with { Strikethrough = true }; break;
                case 22: style = style with { Bold = false, Dim = false }; break;
                case 23: style = style with { Italic = false }; break;
                case 24: style = style with { Underline = false }; break;
                case 27: style = style with { Inverse = false }; break;
                case 29: style = style with { Strikethrough = false }; break;
                case >= 30 and <= 37: style = style with { Fg = n - 30, FgMode = 1 }; break;
                case >= 90 and <= 97: style = style with { Fg = n - 90 + 8, FgMode = 1 }; break;
                case 39: style = style with { Fg = null, FgMode = null }; break;
                case >= 40 and <= 47: style = style with { Bg = n - 40, BgMode = 1 }; break;
                case >= 100 and <= 107: style = style with { Bg = n - 100 + 8, BgMode = 1 }; break;
                case 49: style = style with { Bg = null, BgMode = null }; break;
                case 38 or 48 or 58:
                    var (colour, mode, used) = ExtendedColour(p[(i + 1)..count]);
                    style = Coloured(style, n, colour, mode);
                    i += used;
                    break;
            }
        }
        return style;
    }

    private static Cell SubParameters(ReadOnlySpan<int> sub, Cell style)
    {
        switch (sub[0])
        {
            case 4:
                return style with { Underline = sub.Length < 2 || sub[1] != 0 };
            case 38 or 48 or 58 when sub.Length >= 2:
                // `38:5:n`, or `38:2:[colourspace]:r:g:b` (the colour space may be left out).
                if (sub[1] == 5 && sub.Length >= 3) return Coloured(style, sub[0], Math.Clamp(sub[2], 0, 255), 2);
                if (sub[1] == 2 && sub.Length >= 5)
                {
                    var rgb = sub.Length >= 6 ? sub[3..6] : sub[2..5];
                    return Coloured(style, sub[0], (Math.Clamp(rgb[0], 0, 255) << 16) | (Math.Clamp(rgb[1], 0, 255) << 8) | Math.Clamp(rgb[2], 0, 255), 3);
                }
                return style;
            default:
                return style;
        }
    }

    private static Cell Coloured(Cell style, int attribute, int colour, int mode) => mode == 0 ? style : attribute switch
    {
        38 => style with { Fg = colour, FgMode = mode },
        48 => style with { Bg = colour, BgMode = mode },
        _ => style, // 58: the underline colour, which TerminalState has no place for
    };

    /// <summary>`5;n` (256-colour palette, mode 2) or `2;r;g;b` (RGB packed 0xRRGGBB, mode 3); how many parameters it used.</summary>
    private static (int Colour, int Mode, int Used) ExtendedColour(ReadOnlySpan<int> rest)
    {
        if (rest.Length >= 2 && rest[0] == 5) return (Math.Clamp(rest[1], 0, 255), 2, 2);
        if (rest.Length >= 4 && rest[0] == 2) return ((Math.Clamp(rest[1], 0, 255) << 16) | (Math.Clamp(rest[2], 0, 255) << 8) | Math.Clamp(rest[3], 0, 255), 3, 4);
        return (0, 0, rest.Length);
    }
}

/// <summary>One cell of a TerminalState: its character and what differs from the default style.</summary>
public readonly record struct Cell(string Char, int? Fg = null, int? FgMode = null, int? Bg = null, int? BgMode = null, bool Bold = false, bool Italic = false,
    bool Underline = false, bool Dim = false, bool Inverse = false, bool Strikethrough = false)
{
    public static readonly Cell Blank = new(" ");

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("char", Char);
        if (Fg is { } fg)
        {
            json.WriteNumber("fg", fg);
            json.WriteNumber("fgMode", FgMode ?? 1);
        }
        if (Bg is { } bg)
        {
            json.WriteNumber("bg", bg);
            json.WriteNumber("bgMode", BgMode ?? 1);
        }
        if (Bold) json.WriteBoolean("bold", true);
        if (Italic) json.WriteBoolean("italic", true);
        if (Underline) json.WriteBoolean("underline", true);
        if (Dim) json.WriteBoolean("dim", true);
        if (Inverse) json.WriteBoolean("inverse", true);
        if (Strikethrough) json.WriteBoolean("strikethrough", true);
        json.WriteEndObject();
    }
}

/// <summary>
/// How many columns a character takes, as terminals count them: 0 for combining marks, 2 for East Asian wide and
/// fullwidth characters and emoji, else 1. The ranges are Unicode's wide blocks, not a full East Asian Width table.
/// </summary>
public static class CellWidth
{
    private static readonly (int From, int To)[] Wide =
    [
        (0x1100, 0x115F), (0x231A, 0x231B), (0x2329, 0x232A), (0x23E9, 0x23EC), (0x23F0, 0x23F0), (0x23F3, 0x23F3), (0x25FD, 0x25FE),
        (0x2614, 0x2615), (0x2648, 0x2653), (0x267F, 0x267F), (0x2693, 0x2693), (0x26A1, 0x26A1), (0x26AA, 0x26AB), (0x26BD, 0x26BE),
        (0x26C4, 0x26C5), (0x26CE, 0x26CE), (0x26D4, 0x26D4), (0x26EA, 0x26EA), (0x26F2, 0x26F5), (0x26FA, 0x26FD), (0x2705, 0x2705),
        (0x270A, 0x270B), (0x2728, 0x2728), (0x274C, 0x274C), (0x2753, 0x2755), (0x2757, 0x2757), (0x2795, 0x2797), (0x27B0, 0x27B0),
        (0x27BF, 0x27BF), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x2E80, 0x303E), (0x3041, 0x33FF), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xA000, 0xA4CF), (0xA960, 0xA97F), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFE10, 0xFE19), (0xFE30, 0xFE6F),
        (0xFF00, 0xFF60), (0xFFE0, 0xFFE6), (0x16FE0, 0x16FE4), (0x17000, 0x18CFF), (0x1B000, 0x1B2FF), (0x1F004, 0x1F004),
        (0x1F0CF, 0x1F0CF), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F200, 0x1F251), (0x1F300, 0x1F64F), (0x1F680, 0x1F6FF),
        (0x1F7E0, 0x1F7EB), (0x1F90C, 0x1F9FF), (0x1FA70, 0x1FAFF), (0x20000, 0x2FFFD), (0x30000, 0x3FFFD),
    ];

    public static int Of(Rune rune)
    {
        var value = rune.Value;
        if (value < 0x300) return 1;
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format) return 0;
        int lo = 0, hi = Wide.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (value < Wide[mid].From) hi = mid - 1;
            else if (value > Wide[mid].To) lo = mid + 1;
            else return 2;
        }
        return 1;
    }
}
