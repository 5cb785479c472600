using System.Buffers;
using System.Net.WebSockets;
using System.Text;

namespace Paseo.Transport.Channels;

/// <summary>What one receive produced: a whole frame, the peer's close, or a message over the size limit.</summary>
public readonly record struct ReceivedFrame(WireFrame? Frame, TransportClosure? PeerClosed, bool Oversize);

/// <summary>
/// Whole-message reads and writes on a WebSocket, shared by the socket transports: messages are reassembled across reads
/// into <paramref name="message"/> from a small fixed buffer, and one over the limit is refused before more is read.
/// </summary>
public static class WebSocketFrameIo
{
    /// <summary>Held for the socket's lifetime, so kept small: memory per idle socket matters.</summary>
    public const int ReceiveBufferBytes = 4 * 1024;

    public static async ValueTask<ReceivedFrame> ReceiveAsync(WebSocket socket, byte[] buffer, ArrayBufferWriter<byte> message, int maxMessageBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
                return new ReceivedFrame(null, new TransportClosure((int?)socket.CloseStatus ?? CloseCodes.Normal, socket.CloseStatusDescription ?? "", ByPeer: true), false);
            if (message.WrittenCount + result.Count > maxMessageBytes) return new ReceivedFrame(null, null, Oversize: true);
            message.Write(buffer.AsSpan(0, result.Count));
            if (!result.EndOfMessage) continue;
            WireFrame frame = result.MessageType == WebSocketMessageType.Text
                ? new WireFrame.Text(Encoding.UTF8.GetString(message.WrittenSpan))
                : new WireFrame.Binary(message.WrittenSpan.ToArray());
            message.ResetWrittenCount();
            return new ReceivedFrame(frame, null, false);
        }
    }

    public static ValueTask SendAsync(WebSocket socket, WireFrame frame, CancellationToken cancellationToken) => frame switch
    {
        WireFrame.Text text => socket.SendAsync(Encoding.UTF8.GetBytes(text.Value).AsMemory(), WebSocketMessageType.Text, true, cancellationToken),
        WireFrame.Binary binary => socket.SendAsync(binary.Value, WebSocketMessageType.Binary, true, cancellationToken),
        _ => ValueTask.CompletedTask,
    };
}
