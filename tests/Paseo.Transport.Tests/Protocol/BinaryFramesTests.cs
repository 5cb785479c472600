using System.Text;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Tests.Protocol;

/// <summary>The frame vectors of app-workspaces.md §5.6 and §6.2, byte for byte, and what decoders reject.</summary>
public sealed class BinaryFramesTests
{
    private const string RequestId = "7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5";

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    [Fact]
    public void Terminal_frame_vectors()
    {
        Assert.Equal("010368690d0a", Hex(BinaryFrames.Terminal(BinaryFrames.Output, 3, "hi\r\n"u8)));
        Assert.Equal("02006c730d", Hex(BinaryFrames.Terminal(BinaryFrames.Input, 0, "ls\r"u8)));
        Assert.Equal("03007b22726f7773223a34302c22636f6c73223a3132307d", Hex(BinaryFrames.Terminal(BinaryFrames.Resize, 0, """{"rows":40,"cols":120}"""u8)));
        var read = BinaryFrames.ReadTerminal(Convert.FromHexString("03007b22726f7773223a34302c22636f6c73223a3132307d"))!.Value;
        Assert.Equal((BinaryFrames.Resize, (byte)0), (read.Opcode, read.Slot));
        Assert.Equal((40, 120), BinaryFrames.ReadResize(read.Payload.Span));
        Assert.Null(BinaryFrames.ReadTerminal(new byte[] { 0x01 }));
        Assert.Null(BinaryFrames.ReadTerminal(new byte[] { 0x05, 0x00, 0x41 }));
        Assert.Null(BinaryFrames.ReadTerminal("{\"type\":\"ping\"}"u8.ToArray()));
        foreach (var bad in new[] { """{"rows":0,"cols":80}""", """{"rows":24.5,"cols":80}""", """{"rows":24,"cols":80,"x":1}""", "not json",
                     """{"rows":1e400,"cols":80}""", """{"rows":501,"cols":80}""", """{"rows":24,"cols":1001}""" })
            Assert.Null(BinaryFrames.ReadResize(Encoding.UTF8.GetBytes(bad)));
    }

    private static byte[] BeginWith(string meta)
    {
        var id = Encoding.UTF8.GetBytes(RequestId);
        var body = Encoding.UTF8.GetBytes(meta);
        return [BinaryFrames.FileBegin, (byte)id.Length, .. id, (byte)(body.Length >> 8), (byte)body.Length, .. body];
    }

    [Fact]
    public void File_transfer_vectors()
    {
        var begin = BinaryFrames.Begin(RequestId, "text/plain", 7, "utf-8", "2026-05-03T07:00:00.000Z");
        Assert.Equal(129, begin.Length);
        Assert.Equal("1024" + Hex(Encoding.UTF8.GetBytes(RequestId)) + "0059" + Hex("""{"mime":"text/plain","size":7,"encoding":"utf-8","modifiedAt":"2026-05-03T07:00:00.000Z"}"""u8.ToArray()), Hex(begin));
        var chunk = BinaryFrames.Chunk(RequestId, "# Shop\n"u8);
        Assert.Equal(45, chunk.Length);
        Assert.EndsWith("232053686f700a", Hex(chunk));
        var end = BinaryFrames.End(RequestId);
        Assert.Equal(38, end.Length);
        Assert.Equal("1224" + "37633164326533662d346135622d346336642d386537662d393061316232633364346535", Hex(end));

        Assert.Equal(BinaryFrames.FileBegin, BinaryFrames.ReadFile(begin)!.Value.Kind);
        Assert.Equal(RequestId, BinaryFrames.ReadFile(chunk)!.Value.RequestId);
        Assert.Null(BinaryFrames.ReadFile(end.Append((byte)0x00).ToArray())); // bytes after the id of FileEnd
        Assert.Null(BinaryFrames.ReadFile(new byte[] { 0x12, 0x00 })); // idLen 0
        Assert.Null(BinaryFrames.ReadFile(BeginWith("""{"mime":"text/plain","size":7,"encoding":"utf-8","modifiedAt":"x","extra":1}""")));
        Assert.Null(BinaryFrames.ReadFile(BeginWith("""{"mime":"text/plain","size":7,"encoding":"base64","modifiedAt":"x"}""")));
        Assert.NotNull(BinaryFrames.ReadFile(BeginWith("""{"mime":"text/plain","size":7,"encoding":"binary","modifiedAt":"x"}""")));
        Assert.Null(BinaryFrames.ReadFile(begin[..^1])); // metaLen does not match
        Assert.Throws<ArgumentException>(() => BinaryFrames.Begin(RequestId, "text/plain", 7, "base64", "x"));
    }
}
