using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;

namespace Paseo.Transport.Channels;

/// <summary>
/// A real WebSocket behind <see cref="IFrameTransport"/>: a receive loop reassembles whole messages (refusing any
/// larger than the limit with 1009 before reading further), a send loop drains the bounded outbound channel. The
/// inbound channel is bounded too, so a slow reader slows the socket instead of growing memory.
/// </summary>
public sealed class WebSocketFrameTransport : IFrameTransport
{
    private readonly WebSocket _socket;
    private readonly int _maxMessageBytes;
    private readonly Channel<WireFrame> _inbound;
    private readonly Channel<WireFrame> _outbound;
    private readonly TaskCompletionSource<TransportClosure> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private (int Code, string Reason)? _closeRequest;
    private readonly Task _loops;

    private readonly TimeSpan _closeTimeout;

    /// <param name="closeTimeout">After <see cref="Close"/>, how long queued frames and the close handshake may take before the socket is aborted (a peer that stopped reading cannot hold it open).</param>
    private readonly string _oversizeReason;

    /// <param name="oversizeReason">The close reason sent with 1009 for a message over <paramref name="maxMessageBytes"/>.</param>
    public WebSocketFrameTransport(WebSocket socket, int maxMessageBytes, int inboundCapacity, int outboundCapacity, TimeSpan? closeTimeout = null, string oversizeReason = "Frame too large")
    {
        _socket = socket;
        _oversizeReason = oversizeReason;
        _closeTimeout = closeTimeout ?? TimeSpan.FromSeconds(5);
        _maxMessageBytes = maxMessageBytes;
        _inbound = Channel.CreateBounded<WireFrame>(new BoundedChannelOptions(inboundCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleWriter = true });
        _outbound = Channel.CreateBounded<WireFrame>(new BoundedChannelOptions(outboundCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        _loops = Task.WhenAll(Task.Run(ReceiveLoopAsync), Task.Run(SendLoopAsync));
    }

    public ChannelReader<WireFrame> Inbound => _inbound.Reader;
    public ChannelWriter<WireFrame> Outbound => _outbound.Writer;
    public Task<TransportClosure> Closed => _closed.Task;

    public void Close(int code, string reason)
    {
        lock (_closed)
        {
            if (_closeRequest is not null) return;
            _closeRequest = (code, reason);
        }
        // The send loop finishes the queued frames, then sends the close frame; a peer that does not read is cut off.
        _outbound.Writer.TryComplete();
        try
        {
            _abort.CancelAfter(_closeTimeout);
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: nothing left to close.
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(WebSocketFrameIo.ReceiveBufferBytes);
        var message = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                var received = await WebSocketFrameIo.ReceiveAsync(_socket, buffer, message, _maxMessageBytes, _abort.Token);
                if (received.PeerClosed is { } closure)
                {
                    // After our own close, the peer's close frame is its answer: the transport was closed by us.
                    lock (_closed)
                        if (_closeRequest is { } ours) closure = new TransportClosure(ours.Code, ours.Reason, ByPeer: false);
                    Finish(closure);
                    // The send loop (the only sender) answers the close with the same code once queued frames are out,
                    // within the close timeout: a peer that stopped reading cannot hold the socket.
                    Close(closure.Code, closure.Reason);
                    return;
                }
                if (received.Oversize)
                {
                    Close(CloseCodes.MessageTooBig, _oversizeReason);
                    return;
                }
                await _inbound.Writer.WriteAsync(received.Frame!, _abort.Token);
            }
        }
        catch (Exception e)
        {
            // Socket error, abort after the close timeout, or the transport already completed: the connection is over.
            Finish(new TransportClosure(CloseCodes.Abnormal, e.Message, ByPeer: true));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _inbound.Writer.TryComplete();
        }
    }

    private async Task SendLoopAsync()
    {
        var closure = new TransportClosure(CloseCodes.Abnormal, "send failed", ByPeer: false);
        try
        {
            await foreach (var frame in _outbound.Reader.ReadAllAsync(_abort.Token))
                await WebSocketFrameIo.SendAsync(_socket, frame, _abort.Token);
            (int Code, string Reason) request;
            lock (_closed) request = _closeRequest ?? (CloseCodes.Normal, "");
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync((WebSocketCloseStatus)request.Code, request.Reason, _abort.Token);
            closure = new TransportClosure(request.Code, request.Reason, ByPeer: false);
        }
        catch (Exception e)
        {
            // Whatever failed (socket error, abort, a close reason the socket refused), the transport is over.
            closure = new TransportClosure(CloseCodes.Abnormal, e.Message, ByPeer: false);
        }
        finally
        {
            Finish(closure);
        }
    }

    private void Finish(TransportClosure closure)
    {
        _closed.TrySetResult(closure);
        _inbound.Writer.TryComplete();
        _outbound.Writer.TryComplete();
    }

    /// <summary>Closes (1001 unless already closing), waits for both loops (bounded by the close timeout), and releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        Close(CloseCodes.GoingAway, "");
        await _loops; // both loops catch everything and end by the close timeout at the latest
        _abort.Dispose();
        _socket.Dispose();
    }
}
