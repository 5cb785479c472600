using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Paseo.Transport.Channels;

namespace Paseo.Actors.Streams;

/// <summary>
/// A server-side WebSocket as two Akka.Streams graphs behind <see cref="IFrameTransport"/> (relay-e2ee.md §1.5, issue #5):
/// <list type="bullet">
/// <item>inbound: socket → whole frames (size-limited) → one write at a time into a bounded channel the owning actor reads; when the actor falls
/// behind, the channel fills, the sink stops pulling and the socket is no longer read — back-pressure reaches the peer's
/// TCP window instead of memory;</item>
/// <item>outbound: a bounded channel the actor writes → one send at a time (<c>SelectAsync(1)</c>) → socket; a full channel
/// is a peer that cannot keep up, and the owners close it (1013 / "Too slow") rather than queue more.</item>
/// </list>
/// Actors keep using the channel interface (and its in-memory twin in tests); only the socket's plumbing is a stream.
/// The CLI, which starts no actor system, keeps <see cref="WebSocketFrameTransport"/>.
/// </summary>
public sealed class StreamedWebSocketTransport : IFrameTransport
{
    private readonly WebSocket _socket;
    private readonly int _maxMessageBytes;
    private readonly string _oversizeReason;
    private readonly TimeSpan _closeTimeout;
    private readonly Channel<WireFrame> _inbound;
    private readonly Channel<WireFrame> _outbound;
    private readonly TaskCompletionSource<TransportClosure> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _graphs;
    private (int Code, string Reason)? _closeRequest;
    // Set when the peer sent a close frame: the frames it sent before it still reach the owner, then the transport ends with it.
    private volatile TransportClosure? _peerClosure;

    // Stage buffers of one element: the configured channel capacities are the whole queue of a socket, so "Too slow" and
    // back-pressure trip at the limits paseo.hocon names, and an idle socket holds no read-ahead.
    private static readonly Attributes OneAtATime = Attributes.CreateInputBuffer(1, 1);

    public StreamedWebSocketTransport(WebSocket socket, IMaterializer materializer, int maxMessageBytes, int inboundCapacity, int outboundCapacity,
        TimeSpan? closeTimeout = null, string oversizeReason = "Frame too large")
    {
        _socket = socket;
        _maxMessageBytes = maxMessageBytes;
        _oversizeReason = oversizeReason;
        _closeTimeout = closeTimeout ?? TimeSpan.FromSeconds(5);
        _inbound = Channel.CreateBounded<WireFrame>(new BoundedChannelOptions(inboundCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleWriter = true });
        _outbound = Channel.CreateBounded<WireFrame>(new BoundedChannelOptions(outboundCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

        // Both directions in one graph, so one interpreter actor runs a socket (two cost ~12 KiB more per idle socket).
        // Inbound: one write at a time into the bounded channel; while it is full, nothing more is pulled from the socket.
        var inboundSink = Sink.ForEachAsync<WireFrame>(1, frame => _inbound.Writer.WriteAsync(frame, _abort.Token).AsTask());
        // Outbound: one send at a time; while the socket is busy, the channel fills and TryWrite refuses (a slow peer).
        var outboundSink = Flow.Create<WireFrame>()
            .SelectAsync(1, async frame =>
            {
                await WebSocketFrameIo.SendAsync(_socket, frame, _abort.Token);
                return NotUsed.Instance;
            })
            .ToMaterialized(Sink.Ignore<NotUsed>(), Keep.Right);
        var (received, sent) = RunnableGraph.FromGraph(GraphDsl.Create(inboundSink, outboundSink, (r, s) => (r, s), (builder, toOwner, toSocket) =>
            {
                builder.From(builder.Add(Source.From(ReceiveFrames)).Outlet).To(toOwner.Inlet);
                builder.From(builder.Add(ChannelSource.FromReader(_outbound.Reader)).Outlet).To(toSocket.Inlet);
                return ClosedShape.Instance;
            }))
            .WithAttributes(OneAtATime)
            .Run(materializer);
        _graphs = Task.WhenAll(Observe(received), FinishSendingAsync(sent));
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
        // The outbound graph sends what is queued, then the close frame; a peer that does not read is cut off.
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

    /// <summary>The inbound graph's source: whole frames until the peer closes, a frame is too large, or the socket fails.</summary>
    private async IAsyncEnumerable<WireFrame> ReceiveFrames()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(WebSocketFrameIo.ReceiveBufferBytes);
        var message = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                ReceivedFrame received;
                try
                {
                    received = await WebSocketFrameIo.ReceiveAsync(_socket, buffer, message, _maxMessageBytes, _abort.Token);
                }
                catch (Exception e)
                {
                    Finish(new TransportClosure(CloseCodes.Abnormal, e.Message, ByPeer: true));
                    yield break;
                }
                if (received.PeerClosed is { } closure)
                {
                    // After our own close, the peer's close frame is its answer: the transport was closed by us.
                    bool closedByUs;
                    lock (_closed) closedByUs = _closeRequest is not null;
                    if (closedByUs) yield break;
                    _peerClosure = closure;
                    // The outbound graph answers the close with the same code once queued frames are out.
                    Close(closure.Code, closure.Reason);
                    yield break;
                }
                if (received.Oversize)
                {
                    Close(CloseCodes.MessageTooBig, _oversizeReason);
                    yield break;
                }
                yield return received.Frame!;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The inbound graph has delivered its last frame (or failed): the inbound channel completes here.</summary>
    private async Task Observe(Task termination)
    {
        try
        {
            await termination;
            if (_peerClosure is { } closure) Finish(closure);
        }
        catch (Exception e)
        {
            // The socket failed, the close timeout cut a write to an owner that stopped reading, or the transport was
            // already finished: the connection is over either way.
            Finish(_peerClosure ?? new TransportClosure(CloseCodes.Abnormal, e.Message, ByPeer: true));
        }
        finally
        {
            _inbound.Writer.TryComplete();
        }
    }

    private async Task FinishSendingAsync(Task sent)
    {
        var closure = new TransportClosure(CloseCodes.Abnormal, "send failed", ByPeer: false);
        try
        {
            await sent;
            (int Code, string Reason) request;
            lock (_closed) request = _closeRequest ?? (CloseCodes.Normal, "");
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync((WebSocketCloseStatus)request.Code, request.Reason, _abort.Token);
            closure = _peerClosure ?? new TransportClosure(request.Code, request.Reason, ByPeer: false);
        }
        catch (Exception e)
        {
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
        _outbound.Writer.TryComplete();
        // Closed by us or broken: frames still arriving are not wanted, and a write blocked on an owner that stopped
        // reading ends now. Closed by the peer: what it sent before its close is still delivered (Observe completes it).
        if (_peerClosure is null) _inbound.Writer.TryComplete();
        // A receive still pending on a socket nobody will close (the peer vanished) is cut by the close timeout.
        try
        {
            _abort.CancelAfter(_closeTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes (1001 unless already closing), waits for both graphs (bounded by the close timeout), releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        Close(CloseCodes.GoingAway, "");
        await _graphs;
        _abort.Dispose();
        _socket.Dispose();
    }
}
