using System.Threading.Channels;

namespace Paseo.Transport.Channels;

/// <summary>
/// Two connected in-memory transports: what one writes, the other reads, in order, with the same bounded capacity
/// a socket adapter has; closing one closes both with the same code and reason, as a WebSocket close handshake does.
/// </summary>
public sealed class InMemoryFrameTransport : IFrameTransport
{
    private readonly Channel<WireFrame> _inbound;
    private readonly Channel<WireFrame> _outbound;
    private readonly TaskCompletionSource<TransportClosure> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private InMemoryFrameTransport? _peer;
    private int _closing;

    private InMemoryFrameTransport(Channel<WireFrame> inbound, Channel<WireFrame> outbound)
    {
        _inbound = inbound;
        _outbound = outbound;
    }

    public static (InMemoryFrameTransport Left, InMemoryFrameTransport Right) CreatePair(int capacity = 64)
    {
        var leftToRight = Bounded(capacity);
        var rightToLeft = Bounded(capacity);
        var left = new InMemoryFrameTransport(rightToLeft, leftToRight);
        var right = new InMemoryFrameTransport(leftToRight, rightToLeft);
        left._peer = right;
        right._peer = left;
        return (left, right);
    }

    public ChannelReader<WireFrame> Inbound => _inbound.Reader;
    public ChannelWriter<WireFrame> Outbound => _outbound.Writer;
    public Task<TransportClosure> Closed => _closed.Task;

    public void Close(int code, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return;
        // Frames already written stay readable by the peer (a close frame follows the data), then both ends complete.
        _outbound.Writer.TryComplete();
        _inbound.Writer.TryComplete();
        _closed.TrySetResult(new TransportClosure(code, reason, ByPeer: false));
        _peer!.ClosedByPeer(code, reason);
    }

    private void ClosedByPeer(int code, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return;
        _outbound.Writer.TryComplete();
        _closed.TrySetResult(new TransportClosure(code, reason, ByPeer: true));
    }

    public ValueTask DisposeAsync()
    {
        Close(CloseCodes.GoingAway, "disposed");
        return ValueTask.CompletedTask;
    }

    private static Channel<WireFrame> Bounded(int capacity) =>
        Channel.CreateBounded<WireFrame>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
}
