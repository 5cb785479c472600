using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Host.Cli.Output;

public enum OutputFormat
{
    Table,
    Json,
    Yaml,
}

/// <summary>A column of a table: its header and how to read the cell from a record.</summary>
public sealed record Column(string Header, Func<JsonObject, string> Cell, Func<string, string?>? Style = null);

/// <summary>A command failed: the code scripts match on (`{"error":{code,message}}` with --json) and the message people read.</summary>
public sealed class CliException(string code, string message, JsonNode? details = null) : Exception(message)
{
    public string Code { get; } = code;
    public JsonNode? Details { get; } = details;
}

/// <summary>
/// How a command prints (app-protocol.md §7): a table (colours on a terminal unless --no-color or NO_COLOR; plain when piped),
/// `--json`, `-o yaml`, `-q` (ids only); errors on stderr with exit 1, or as `{"error":{code,message}}` on stdout for JSON/YAML.
/// </summary>
public sealed class CliOutput
{
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;

    public OutputFormat Format { get; }
    public bool Quiet { get; }
    public bool NoHeaders { get; }
    public bool Color { get; }

    /// <summary>True when stdout is a terminal (progress and colours only then).</summary>
    public bool Interactive { get; }

    public TextWriter Out => _stdout;
    public TextWriter Err => _stderr;

    public CliOutput(TextWriter stdout, TextWriter stderr, OutputFormat format, bool quiet, bool noHeaders, bool noColor, bool interactive)
    {
        _stdout = stdout;
        _stderr = stderr;
        Format = format;
        Quiet = quiet;
        NoHeaders = noHeaders;
        Interactive = interactive;
        Color = interactive && !noColor;
    }

    public static OutputFormat ParseFormat(string? value, bool json) => json ? OutputFormat.Json : value?.ToLowerInvariant() switch
    {
        null or "" or "table" => OutputFormat.Table,
        "json" => OutputFormat.Json,
        "yaml" or "yml" => OutputFormat.Yaml,
        _ => throw new CliException("INVALID_FORMAT", $"-o {value}: expected table, json or yaml"),
    };

    public bool Structured => Format != OutputFormat.Table;

    /// <summary>A list: ids only with -q, the records as JSON/YAML, else a table of <paramref name="columns"/>.</summary>
    public void List(IReadOnlyList<JsonObject> records, IReadOnlyList<Column> columns, Func<JsonObject, string> id)
    {
        if (Quiet)
        {
            foreach (var record in records) _stdout.WriteLine(id(record));
            return;
        }
        if (Structured)
        {
            Data(new JsonArray(records.Select(r => (JsonNode)r.DeepClone()).ToArray()));
            return;
        }
        // Columns padded to their widest cell, two spaces apart, nothing after the last cell: scripts split rows on runs of
        // spaces. Colours (status) only on a terminal, added after padding so they do not count toward the width.
        var cells = records.Select(r => columns.Select(c => c.Cell(r)).ToArray()).ToList();
        var widths = columns.Select((c, i) => Math.Max(NoHeaders ? 0 : c.Header.Length, cells.Count == 0 ? 0 : cells.Max(row => row[i].Length))).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> row, bool header)
        {
            for (var i = 0; i < row.Count; i++)
            {
                var cell = row[i];
                var style = header ? Bold : Color ? columns[i].Style?.Invoke(cell) : null;
                if (Color && style is not null) text.Append(style).Append(cell).Append(Reset);
                else text.Append(cell);
                if (i < row.Count - 1) text.Append(' ', widths[i] - cell.Length + 2);
            }
            var end = text.Length;
            while (end > 0 && text[end - 1] == ' ') end--;
            text.Length = end;
            text.Append('\n');
        }
        if (!NoHeaders) Line(columns.Select(c => c.Header).ToArray(), header: true);
        foreach (var row in cells) Line(row, header: false);
        _stdout.Write(text.ToString());
    }

    // ANSI styles for terminals (never when piped, --no-color or NO_COLOR).
    private string? Bold => Color ? "\e[1m" : null;
    private const string Reset = "\e[0m";
    public const string Green = "\e[32m", Blue = "\e[34m", Red = "\e[31m", Grey = "\e[90m", Yellow = "\e[33m";

    /// <summary>One record: its id with -q, JSON/YAML, else "Key  value" lines.</summary>
    public void Record(JsonObject record, IReadOnlyList<(string Label, string Value)> lines, string id)
    {
        if (Quiet)
        {
            _stdout.WriteLine(id);
            return;
        }
        if (Structured)
        {
            Data(record);
            return;
        }
        var width = lines.Count == 0 ? 0 : lines.Max(l => l.Label.Length);
        foreach (var (label, value) in lines) _stdout.WriteLine($"{label.PadRight(width)}  {value}");
    }

    /// <summary>A JSON value as the chosen structured format (JSON when the format is table).</summary>
    public void Data(JsonNode? node)
    {
        if (Format == OutputFormat.Yaml) _stdout.Write(Yaml.Write(node));
        else _stdout.WriteLine(node?.ToJsonString(JsonLine) ?? "null");
    }

    /// <summary>Prints the error the way the format asks and returns the exit code (1).</summary>
    public int Error(CliException error)
    {
        if (Structured)
        {
            var body = new JsonObject { ["code"] = error.Code, ["message"] = error.Message };
            if (error.Details is not null) body["details"] = error.Details.DeepClone();
            Data(new JsonObject { ["error"] = body });
        }
        else
        {
            _stderr.WriteLine($"paseo: {error.Message}");
        }
        return 1;
    }

    /// <summary>Progress for long waits: a line on stderr rewritten in place, only on a terminal (silent when piped).</summary>
    public IDisposable Progress(Func<string> describe)
    {
        if (!Interactive || Quiet || Structured) return NoProgress.Instance;
        return new ProgressLine(_stderr, describe);
    }

    public static readonly JsonSerializerOptions JsonLine = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed class NoProgress : IDisposable
    {
        public static readonly NoProgress Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class ProgressLine : IDisposable
    {
        private static readonly string[] Frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        private readonly TextWriter _stderr;
        private readonly PeriodicTimer _timer = new(TimeSpan.FromMilliseconds(200));
        private readonly Task _loop;
        private readonly DateTime _started = DateTime.UtcNow;
        private int _lastLength;

        public ProgressLine(TextWriter stderr, Func<string> describe)
        {
            _stderr = stderr;
            _loop = Task.Run(async () =>
            {
                var frame = 0;
                while (await _timer.WaitForNextTickAsync())
                {
                    var line = $"{Frames[frame++ % Frames.Length]} {describe()} ({(int)(DateTime.UtcNow - _started).TotalSeconds}s)";
                    lock (_stderr)
                    {
                        _stderr.Write("\r" + line.PadRight(_lastLength));
                        _lastLength = line.Length;
                    }
                }
            });
        }

        public void Dispose()
        {
            _timer.Dispose();
            _loop.Wait(TimeSpan.FromSeconds(1));
            lock (_stderr)
                if (_lastLength > 0) _stderr.Write("\r" + new string(' ', _lastLength) + "\r");
        }
    }
}

/// <summary>A small YAML writer for JSON values (block style; strings quoted only when YAML would read them otherwise).</summary>
public static class Yaml
{
    public static string Write(JsonNode? node)
    {
        var text = new StringBuilder();
        Write(text, node, 0, inSequence: false);
        if (text.Length == 0 || text[^1] != '\n') text.Append('\n');
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonNode? node, int indent, bool inSequence)
    {
        var pad = new string(' ', indent);
        switch (node)
        {
            case JsonObject obj when obj.Count == 0:
                text.Append("{}\n");
                break;
            case JsonObject obj:
                var first = true;
                foreach (var (key, value) in obj)
                {
                    if (!(first && inSequence)) text.Append(pad);
                    first = false;
                    text.Append(Scalar(key)).Append(':');
                    WriteChild(text, value, indent);
                }
                break;
            case JsonArray array when array.Count == 0:
                text.Append("[]\n");
                break;
            case JsonArray array:
                var firstItem = true;
                foreach (var item in array)
                {
                    if (!(firstItem && inSequence)) text.Append(pad);
                    firstItem = false;
                    text.Append("- ");
                    if (item is JsonObject { Count: > 0 } or JsonArray { Count: > 0 }) Write(text, item, indent + 2, inSequence: true);
                    else text.Append(ScalarOf(item)).Append('\n');
                }
                break;
            default:
                text.Append(ScalarOf(node)).Append('\n');
                break;
        }
    }

    private static void WriteChild(StringBuilder text, JsonNode? value, int indent)
    {
        if (value is JsonObject { Count: > 0 } || value is JsonArray { Count: > 0 })
        {
            text.Append('\n');
            Write(text, value, indent + 2, inSequence: false);
        }
        else
        {
            text.Append(' ');
            Write(text, value, indent, inSequence: false);
        }
    }

    private static string ScalarOf(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Scalar(v.GetValue<string>()),
        _ => node.ToJsonString(),
    };

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase) { "null", "true", "false", "yes", "no", "on", "off", "~", "" };

    /// <summary>A plain scalar when YAML reads it back as the same string; a JSON (double-quoted) string otherwise.</summary>
    private static string Scalar(string value)
    {
        var plain = !Reserved.Contains(value)
            && !double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
            && value.Trim() == value
            && value.IndexOfAny([':', '#', '\n', '\r', '\t', '"', '\'', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`', '\\']) < 0
            && !value.StartsWith('-') && !value.StartsWith('?');
        return plain ? value : JsonSerializer.Serialize(value, CliOutput.JsonLine);
    }
}
