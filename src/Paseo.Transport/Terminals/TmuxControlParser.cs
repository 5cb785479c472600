using System.Text;

namespace Paseo.Transport.Terminals;

/// <summary>One line of tmux's control mode (tmux(1), CONTROL MODE), as much of it as the daemon uses.</summary>
public abstract record ControlLine
{
    /// <summary>`%output %pane data`: what the pane's program wrote, unescaped to its bytes.</summary>
    public sealed record Output(string PaneId, byte[] Bytes) : ControlLine;

    /// <summary>`%begin`: a command's output starts; <paramref name="Ours"/> when this client sent the command.</summary>
    public sealed record BlockBegin(bool Ours) : ControlLine;

    /// <summary>One line of a command's output, between `%begin` and `%end`/`%error`.</summary>
    public sealed record BlockLine(byte[] Bytes) : ControlLine;

    /// <summary>`%end` or `%error` (<paramref name="Failed"/>): the command's output is complete.</summary>
    public sealed record BlockEnd(bool Ours, bool Failed) : ControlLine;

    /// <summary>`%subscription-changed name ... : value` (refresh-client -B).</summary>
    public sealed record Subscription(string Name, string Value) : ControlLine;

    /// <summary>`%exit [reason]`: the client is detached, usually because its session ended.</summary>
    public sealed record Exit(string? Reason) : ControlLine;

    /// <summary>Any other notification (%layout-change, %session-changed, ...), kept by name only.</summary>
    public sealed record Notification(string Name) : ControlLine;
}

/// <summary>
/// Reads control-mode lines. Stateful: inside a `%begin`..`%end` block every line is command output, even one that looks
/// like a notification, and the block ends only at the `%end`/`%error` carrying the same time and number as its `%begin`,
/// so a captured screen that shows the text "%end" cannot end it early.
/// </summary>
public sealed class TmuxControlParser
{
    private string? _openBlock;
    private bool _openBlockOurs;

    public ControlLine Parse(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (_openBlock is not null)
        {
            if (IsBlockEnd(line, out var failed))
            {
                _openBlock = null;
                return new ControlLine.BlockEnd(_openBlockOurs, failed);
            }
            return new ControlLine.BlockLine(line.ToArray());
        }
        if (line.StartsWith("%output "u8))
        {
            var rest = line[8..];
            var space = rest.IndexOf((byte)' ');
            if (space < 0) return new ControlLine.Output(Encoding.ASCII.GetString(rest), []);
            return new ControlLine.Output(Encoding.ASCII.GetString(rest[..space]), Unescape(rest[(space + 1)..]));
        }
        if (line.StartsWith("%begin "u8))
        {
            var (stamp, flags) = StampAndFlags(line[7..]);
            _openBlock = stamp;
            _openBlockOurs = (flags & 1) == 1;
            return new ControlLine.BlockBegin(_openBlockOurs);
        }
        if (line.StartsWith("%subscription-changed "u8))
        {
            var text = Encoding.UTF8.GetString(line[22..]);
            var name = text.Split(' ', 2)[0];
            var colon = text.IndexOf(" : ", StringComparison.Ordinal);
            return new ControlLine.Subscription(name, colon < 0 ? "" : text[(colon + 3)..]);
        }
        if (line.SequenceEqual("%exit"u8)) return new ControlLine.Exit(null);
        if (line.StartsWith("%exit "u8)) return new ControlLine.Exit(Encoding.UTF8.GetString(line[6..]));
        var end = line.IndexOf((byte)' ');
        return new ControlLine.Notification(Encoding.UTF8.GetString(end < 0 ? line : line[..end]));
    }

    private bool IsBlockEnd(ReadOnlySpan<byte> line, out bool failed)
    {
        failed = line.StartsWith("%error "u8);
        if (!failed && !line.StartsWith("%end "u8)) return false;
        var (stamp, _) = StampAndFlags(line[(failed ? 7 : 5)..]);
        return stamp == _openBlock;
    }

    /// <summary>`time number flags` → ("time number", flags).</summary>
    private static (string Stamp, int Flags) StampAndFlags(ReadOnlySpan<byte> rest)
    {
        var text = Encoding.ASCII.GetString(rest);
        var last = text.LastIndexOf(' ');
        return last < 0 ? (text, 0) : (text[..last], int.TryParse(text[(last + 1)..], out var flags) ? flags : 0);
    }

    /// <summary>Control mode writes bytes below 0x20 and the backslash as `\ooo` (three octal digits); the rest as they are.</summary>
    public static byte[] Unescape(ReadOnlySpan<byte> escaped)
    {
        var bytes = new byte[escaped.Length];
        var n = 0;
        for (var i = 0; i < escaped.Length; i++)
        {
            var b = escaped[i];
            if (b == (byte)'\\' && i + 3 < escaped.Length && IsOctal(escaped[i + 1]) && IsOctal(escaped[i + 2]) && IsOctal(escaped[i + 3]))
            {
                bytes[n++] = (byte)(((escaped[i + 1] - '0') << 6) | ((escaped[i + 2] - '0') << 3) | (escaped[i + 3] - '0'));
                i += 3;
            }
            else bytes[n++] = b;
        }
        return n == bytes.Length ? bytes : bytes[..n];
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';

    /// <summary>
    /// A tmux command argument in single quotes (control-mode lines go through tmux's command parser, where `#` starts a
    /// comment). Only for the daemon's own formats: user text never travels on a control line.
    /// </summary>
    public static string Quote(string argument) =>
        argument.Contains('\'') || argument.Contains('\n') ? throw new ArgumentException("no quote or newline in a control-line argument", nameof(argument)) : "'" + argument + "'";
}
