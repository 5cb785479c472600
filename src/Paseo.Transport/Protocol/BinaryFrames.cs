using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol;

/// <summary>
/// The binary frames of Paseo's session socket (app-workspaces.md §5.4, §6.2), told apart from JSON by their first byte
/// (JSON starts with `{`). Through the relay they are the plaintext of one encrypted message, byte for byte.
/// </summary>
public static class BinaryFrames
{
    public const byte Output = 0x01, Input = 0x02, Resize = 0x03, Snapshot = 0x04;
    public const byte FileBegin = 0x10, FileChunk = 0x11, FileEnd = 0x12;

    /// <summary>A terminal stream frame: [opcode][slot][payload].</summary>
    public static byte[] Terminal(byte opcode, byte slot, ReadOnlySpan<byte> payload)
    {
        if (opcode is < Output or > Snapshot) throw new ArgumentOutOfRangeException(nameof(opcode));
        var frame = new byte[2 + payload.Length];
        frame[0] = opcode;
        frame[1] = slot;
        payload.CopyTo(frame.AsSpan(2));
        return frame;
    }

    /// <summary>A terminal frame's parts, or null when the bytes are not one (under 2 bytes, another first byte).</summary>
    public static (byte Opcode, byte Slot, ReadOnlyMemory<byte> Payload)? ReadTerminal(ReadOnlyMemory<byte> frame) =>
        frame.Length >= 2 && frame.Span[0] is >= Output and <= Snapshot ? (frame.Span[0], frame.Span[1], frame[2..]) : null;

    /// <summary>The largest terminal a client may ask for: a snapshot is rows × cols cells, so the size is bounded.</summary>
    public const int MaxRows = 500, MaxCols = 1000;

    /// <summary>A Resize payload: exactly `{rows, cols}`, positive whole numbers (at most <see cref="MaxRows"/> × <see cref="MaxCols"/>); anything else is null (the frame is ignored).</summary>
    public static (int Rows, int Cols)? ReadResize(ReadOnlySpan<byte> payload)
    {
        try
        {
            if (JsonNode.Parse(payload) is not JsonObject o || o.Count != 2) return null;
            if (o["rows"] is not JsonValue r || r.GetValueKind() != JsonValueKind.Number || o["cols"] is not JsonValue c || c.GetValueKind() != JsonValueKind.Number) return null;
            if (!r.TryGetValue<double>(out var rows) || !c.TryGetValue<double>(out var cols) || !double.IsFinite(rows) || !double.IsFinite(cols)) return null;
            return rows >= 1 && cols >= 1 && rows == Math.Floor(rows) && cols == Math.Floor(cols) && rows <= MaxRows && cols <= MaxCols ? ((int)rows, (int)cols) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or InvalidOperationException)
        {
            return null;
        }
    }

    private static byte[] Id(string requestId)
    {
        var id = Encoding.UTF8.GetBytes(requestId);
        return id.Length is >= 1 and <= 255 ? id : throw new ArgumentException("a file frame's requestId is 1 to 255 UTF-8 bytes", nameof(requestId));
    }

    /// <summary>FileBegin: [0x10][idLen][id][metaLen u16 BE][meta JSON {mime, size, encoding, modifiedAt}].</summary>
    public static byte[] Begin(string requestId, string mime, long size, string encoding, string modifiedAt)
    {
        if (encoding is not ("utf-8" or "binary")) throw new ArgumentException("encoding is utf-8 or binary", nameof(encoding));
        var id = Id(requestId);
        var meta = Encoding.UTF8.GetBytes(new JsonObject { ["mime"] = mime, ["size"] = size, ["encoding"] = encoding, ["modifiedAt"] = modifiedAt }.ToJsonString());
        var frame = new byte[2 + id.Length + 2 + meta.Length];
        frame[0] = FileBegin;
        frame[1] = (byte)id.Length;
        id.CopyTo(frame, 2);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2 + id.Length), checked((ushort)meta.Length));
        meta.CopyTo(frame, 4 + id.Length);
        return frame;
    }

    /// <summary>FileChunk: [0x11][idLen][id][bytes].</summary>
    public static byte[] Chunk(string requestId, ReadOnlySpan<byte> bytes)
    {
        var id = Id(requestId);
        var frame = new byte[2 + id.Length + bytes.Length];
        frame[0] = FileChunk;
        frame[1] = (byte)id.Length;
        id.CopyTo(frame, 2);
        bytes.CopyTo(frame.AsSpan(2 + id.Length));
        return frame;
    }

    /// <summary>FileEnd: [0x12][idLen][id], nothing after it.</summary>
    public static byte[] End(string requestId)
    {
        var id = Id(requestId);
        var frame = new byte[2 + id.Length];
        frame[0] = FileEnd;
        frame[1] = (byte)id.Length;
        id.CopyTo(frame, 2);
        return frame;
    }

    /// <summary>A file-transfer frame as a client reads it (§6.2), or null when the bytes are not a valid one.</summary>
    public static (byte Kind, string RequestId, JsonObject? Meta, ReadOnlyMemory<byte> Bytes)? ReadFile(ReadOnlyMemory<byte> frame)
    {
        var span = frame.Span;
        if (span.Length < 3 || span[0] is < FileBegin or > FileEnd || span[1] == 0 || span.Length < 2 + span[1]) return null;
        var idLength = span[1];
        string id;
        try { id = new UTF8Encoding(false, true).GetString(span.Slice(2, idLength)); }
        catch (DecoderFallbackException) { return null; }
        var rest = frame[(2 + idLength)..];
        switch (span[0])
        {
            case FileEnd:
                return rest.Length == 0 ? (FileEnd, id, null, ReadOnlyMemory<byte>.Empty) : null;
            case FileChunk:
                return (FileChunk, id, null, rest);
            default:
                if (rest.Length < 2) return null;
                var metaLength = BinaryPrimitives.ReadUInt16BigEndian(rest.Span);
                if (rest.Length != 2 + metaLength) return null;
                try
                {
                    if (JsonNode.Parse(rest.Span[2..]) is not JsonObject meta || meta.Count != 4) return null;
                    var ok = meta["mime"] is JsonValue m && m.TryGetValue<string>(out var mime) && mime.Length > 0
                             && meta["size"] is JsonValue s && s.TryGetValue<long>(out var size) && size >= 0
                             && meta["encoding"] is JsonValue e && e.TryGetValue<string>(out var encoding) && encoding is "utf-8" or "binary"
                             && meta["modifiedAt"] is JsonValue t && t.GetValueKind() == JsonValueKind.String;
                    return ok ? (FileBegin, id, meta, ReadOnlyMemory<byte>.Empty) : null;
                }
                catch (JsonException)
                {
                    return null;
                }
        }
    }
}
