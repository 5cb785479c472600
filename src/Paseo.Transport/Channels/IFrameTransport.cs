using System.Threading.Channels;

namespace Paseo.Transport.Channels;

/// <summary>
/// A message-oriented socket seen as two bounded channels, so actors and streams never touch the socket API: inbound
/// frames are read from <see cref="Inbound"/> (completed when the socket closes), outbound frames are written to
/// <see cref="Outbound"/> (a full writer is a slow peer). <see cref="InMemoryFrameTransport"/> is the socket-free twin
/// used by tests; <see cref="WebSocketFrameTransport"/> wraps a real WebSocket.
/// </summary>
public interface IFrameTransport : IAsyncDisposable
{
    ChannelReader<WireFrame> Inbound { get; }
    ChannelWriter<WireFrame> Outbound { get; }

    /// <summary>Closes with a code and reason after the frames already written to <see cref="Outbound"/> are sent. Idempotent.</summary>
    void Close(int code, string reason);

    /// <summary>Completes once the transport is closed, by either side, with how it ended.</summary>
    Task<TransportClosure> Closed { get; }
}
