using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Protocol;

/// <summary>
/// One committed timeline row: `seq` starts at 1 and grows by one per row of the agent. The item is kept as its UTF-8
/// JSON (a third of the memory of a node tree) and parsed only when a fetch needs it.
/// </summary>
public sealed record TimelineRow(long Seq, DateTimeOffset Timestamp, byte[] ItemUtf8)
{
    public TimelineRow(long seq, DateTimeOffset timestamp, JsonObject item) : this(seq, timestamp, WsOutbound.ToUtf8(item)) { }

    /// <summary>A fresh parse of the item (the caller owns it).</summary>
    public JsonObject Item => (JsonObject)JsonNode.Parse(ItemUtf8)!;
}

public sealed record TimelineCursor(string Epoch, long Seq)
{
    public JsonObject ToJson() => new() { ["epoch"] = Epoch, ["seq"] = Seq };
}

/// <summary>A fetch_agent_timeline_request, already validated (app-schemas.md §F.7).</summary>
public sealed record TimelineQuery(string? Direction, TimelineCursor? Cursor, long? Limit, string Projection);

/// <summary>
/// An agent's timeline (app-protocol.md §3.2): rows with seq numbers under an epoch that changes when the daemon
/// restarts, and the fetch rules — tail/before/after, stale cursors, gaps — with the projected view that merges
/// assistant and reasoning chunks and a tool call's lifecycle rows. Owned by one agent actor; not thread-safe.
/// </summary>
public sealed class AgentTimeline(string epoch, int retainedRows = int.MaxValue)
{
    private readonly List<TimelineRow> _rows = [];
    // Rows are dropped from the front in batches, so appending stays O(1) amortized.
    private readonly int _trimAt = retainedRows == int.MaxValue ? int.MaxValue : retainedRows + Math.Max(1, retainedRows / 10);

    public string Epoch { get; } = epoch;
    public IReadOnlyList<TimelineRow> Rows => _rows;
    public long NextSeq => _rows.Count == 0 ? _firstSeq : _rows[^1].Seq + 1;
    private long _firstSeq = 1;
    // The oldest row that still exists, in memory or only on disk (null: no row yet).
    private long? _retainedFrom;

    /// <summary>The oldest row that exists (memory or disk): the window's minSeq.</summary>
    public long FirstRetainedSeq => _retainedFrom ?? (_rows.Count > 0 ? _rows[0].Seq : 0);

    /// <summary>
    /// Starts from rows committed in an earlier run: <paramref name="rows"/> is the newest part (what memory keeps), and
    /// <paramref name="retainedFrom"/> the oldest row that exists on disk, older than them.
    /// </summary>
    public void Restore(IEnumerable<TimelineRow> rows, long? retainedFrom = null)
    {
        _rows.AddRange(rows);
        if (_rows.Count > 0) _retainedFrom = Math.Min(retainedFrom ?? _rows[0].Seq, _rows[0].Seq);
        Trim(retainedRows);
    }

    /// <summary>Rows before <paramref name="seq"/> no longer exist anywhere (the disk retention dropped them).</summary>
    public void DropBefore(long seq)
    {
        _retainedFrom = Math.Max(_retainedFrom ?? seq, seq);
        var drop = _rows.FindIndex(r => r.Seq >= seq);
        if (drop > 0) _rows.RemoveRange(0, drop);
        else if (drop < 0 && _rows.Count > 0) _rows.Clear();
    }

    /// <summary>
    /// Whether the rows in memory answer this query exactly as the whole retained timeline would; otherwise the caller
    /// reads the timeline file and fetches from that.
    /// </summary>
    public bool CanAnswer(TimelineQuery query)
    {
        var memoryFirst = _rows.Count > 0 ? _rows[0].Seq : NextSeq;
        if (memoryFirst <= FirstRetainedSeq || _rows.Count == 0 && _retainedFrom is null) return true;
        var direction = query.Direction ?? (query.Cursor is null ? "tail" : "after");
        var limit = query.Limit ?? (direction == "after" ? 0 : 200);
        var resetToTail = query.Cursor is { } c && (c.Epoch != Epoch || direction == "after" && c.Seq < FirstRetainedSeq - 1);
        if (resetToTail || direction == "tail") return limit > 0 && limit <= _rows.Count;
        if (direction == "after") return query.Cursor!.Seq + 1 >= memoryFirst;
        // before: the `limit` rows just under the cursor must all be in memory.
        var below = Math.Min(query.Cursor?.Seq ?? long.MaxValue, NextSeq);
        return limit > 0 && below - limit >= memoryFirst;
    }

    /// <summary>Commits a row. Beyond the retention, the oldest rows are forgotten (a cursor before them gets reset + gap).</summary>
    public TimelineRow Append(JsonObject item, DateTimeOffset timestamp)
    {
        var row = new TimelineRow(NextSeq, timestamp, item);
        _rows.Add(row);
        _retainedFrom ??= row.Seq;
        if (_rows.Count >= _trimAt) Trim(retainedRows);
        return row;
    }

    private void Trim(int keep)
    {
        if (_rows.Count <= keep) return;
        _firstSeq = _rows[^1].Seq + 1;
        _rows.RemoveRange(0, _rows.Count - keep);
    }

    /// <summary>The fields of fetch_agent_timeline_response except requestId, agentId and agent.</summary>
    public JsonObject Fetch(TimelineQuery query, string provider, bool reasoningMergeEnum)
    {
        var direction = query.Direction ?? (query.Cursor is null ? "tail" : "after");
        var limit = query.Limit ?? (direction == "after" ? 0 : 200);
        var reset = false;
        var stale = false;
        var gap = false;
        var minSeq = _rows.Count == 0 ? 0 : FirstRetainedSeq;
        var maxSeq = _rows.Count == 0 ? 0 : _rows[^1].Seq;

        if (query.Cursor is { } cursor && cursor.Epoch != Epoch)
        {
            reset = stale = true;
            direction = "tail";
        }
        else if (direction == "after" && query.Cursor is { } after && _rows.Count > 0 && after.Seq < minSeq - 1)
        {
            reset = gap = true;
            direction = "tail";
        }

        List<TimelineRow> selected;
        switch (direction)
        {
            case "after" when !reset:
                var afterSeq = query.Cursor?.Seq ?? 0;
                selected = _rows.Where(r => r.Seq > afterSeq).ToList();
                if (limit > 0 && selected.Count > limit) selected = selected.Take((int)limit).ToList();
                break;
            case "before" when !reset:
                var beforeSeq = query.Cursor?.Seq ?? long.MaxValue;
                selected = _rows.Where(r => r.Seq < beforeSeq).ToList();
                if (limit > 0 && selected.Count > limit) selected = selected.Skip(selected.Count - (int)limit).ToList();
                break;
            default:
                selected = limit > 0 && _rows.Count > limit ? _rows.Skip(_rows.Count - (int)limit).ToList() : [.. _rows];
                break;
        }

        var entries = query.Projection == "canonical" ? Canonical(selected, provider) : Projected(selected, provider, reasoningMergeEnum);
        return new JsonObject
        {
            ["direction"] = direction,
            ["projection"] = query.Projection,
            ["epoch"] = Epoch,
            ["reset"] = reset,
            ["staleCursor"] = stale,
            ["gap"] = gap,
            ["window"] = new JsonObject { ["minSeq"] = minSeq, ["maxSeq"] = maxSeq, ["nextSeq"] = NextSeq },
            ["startCursor"] = selected.Count == 0 ? null : new TimelineCursor(Epoch, selected[0].Seq).ToJson(),
            ["endCursor"] = selected.Count == 0 ? null : new TimelineCursor(Epoch, selected[^1].Seq).ToJson(),
            ["hasOlder"] = selected.Count > 0 ? selected[0].Seq > minSeq : false,
            ["hasNewer"] = selected.Count > 0 ? selected[^1].Seq < maxSeq : false,
            ["entries"] = entries,
        };
    }

    private static JsonArray Canonical(List<TimelineRow> rows, string provider) =>
        new(rows.Select(r => (JsonNode)Entry(provider, r.Item, r.Timestamp, r.Seq, r.Seq, [(r.Seq, r.Seq)], [])).ToArray());

    private static JsonArray Projected(List<TimelineRow> rows, string provider, bool reasoningMergeEnum)
    {
        var entries = new List<ProjectedEntry>();
        var toolEntries = new Dictionary<string, ProjectedEntry>();
        foreach (var row in rows)
        {
            var item = row.Item;
            var type = WsInbound.Str(item, "type");
            var last = entries.Count > 0 ? entries[^1] : null;
            if (type is "assistant_message" or "reasoning" && last is not null && WsInbound.Str(last.Item, "type") == type)
            {
                last.Item["text"] = (WsInbound.Str(last.Item, "text") ?? "") + (WsInbound.Str(item, "text") ?? "");
                last.Add(row.Seq, type == "assistant_message" ? "assistant_merge" : "reasoning_merge");
                continue;
            }
            if (type == "tool_call" && WsInbound.Str(item, "callId") is { } callId && toolEntries.TryGetValue(callId, out var tool))
            {
                MergeToolCall(tool.Item, item);
                tool.Add(row.Seq, "tool_lifecycle");
                continue;
            }
            var entry = new ProjectedEntry(item, row.Timestamp, row.Seq);
            entries.Add(entry);
            if (type == "tool_call" && WsInbound.Str(item, "callId") is { } id) toolEntries[id] = entry;
        }
        return new JsonArray(entries.Select(e => (JsonNode)Entry(provider, e.Item, e.Timestamp, e.SeqStart, e.SeqEnd, e.Ranges,
            e.Collapsed.Where(c => reasoningMergeEnum || c != "reasoning_merge").ToList())).ToArray());
    }

    /// <summary>Later fields win, except that an unknown detail never replaces a known one; metadata objects merge; error comes from the last row.</summary>
    private static void MergeToolCall(JsonObject merged, JsonObject later)
    {
        foreach (var (key, value) in later)
        {
            if (key == "detail" && value is JsonObject detail && WsInbound.Str(detail, "type") == "unknown"
                && merged["detail"] is JsonObject known && WsInbound.Str(known, "type") != "unknown")
                continue;
            if (key == "metadata" && value is JsonObject metadata && merged["metadata"] is JsonObject existing)
            {
                foreach (var (mk, mv) in metadata) existing[mk] = mv?.DeepClone();
                continue;
            }
            merged[key] = value?.DeepClone();
        }
    }

    private static JsonObject Entry(string provider, JsonNode item, DateTimeOffset timestamp, long seqStart, long seqEnd, IEnumerable<(long Start, long End)> ranges, IEnumerable<string> collapsed) => new()
    {
        ["provider"] = provider,
        ["item"] = item,
        ["timestamp"] = IsoTime.Format(timestamp),
        ["seqStart"] = seqStart,
        ["seqEnd"] = seqEnd,
        ["sourceSeqRanges"] = new JsonArray(ranges.Select(r => (JsonNode)new JsonObject { ["startSeq"] = r.Start, ["endSeq"] = r.End }).ToArray()),
        ["collapsed"] = new JsonArray(collapsed.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
    };

    private sealed class ProjectedEntry(JsonObject item, DateTimeOffset timestamp, long seq)
    {
        public JsonObject Item { get; } = item;
        public DateTimeOffset Timestamp { get; } = timestamp;
        public long SeqStart { get; } = seq;
        public long SeqEnd { get; private set; } = seq;
        public List<(long Start, long End)> Ranges { get; } = [(seq, seq)];
        public List<string> Collapsed { get; } = [];

        public void Add(long seq, string kind)
        {
            SeqEnd = Math.Max(SeqEnd, seq);
            if (Ranges[^1].End == seq - 1) Ranges[^1] = (Ranges[^1].Start, seq);
            else Ranges.Add((seq, seq));
            if (!Collapsed.Contains(kind)) Collapsed.Add(kind);
        }
    }

    /// <summary>A serialized row for the timeline file (one JSON line).</summary>
    public static string ToLine(TimelineRow row) =>
        $"{{\"seq\":{row.Seq},\"timestamp\":\"{IsoTime.Format(row.Timestamp)}\",\"item\":{System.Text.Encoding.UTF8.GetString(row.ItemUtf8)}}}";

    /// <summary>Reads a row back; null for a line that is not a whole row (a torn last line after a crash).</summary>
    public static TimelineRow? FromLine(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (!root.TryGetProperty("seq", out var seq) || seq.ValueKind != JsonValueKind.Number || !seq.TryGetInt64(out var s)) return null;
            if (!root.TryGetProperty("timestamp", out var ts) || ts.ValueKind != JsonValueKind.String || !DateTimeOffset.TryParse(ts.GetString(), out var timestamp)) return null;
            if (!root.TryGetProperty("item", out var item) || item.ValueKind != JsonValueKind.Object) return null;
            return new TimelineRow(s, timestamp, System.Text.Encoding.UTF8.GetBytes(item.GetRawText()));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
