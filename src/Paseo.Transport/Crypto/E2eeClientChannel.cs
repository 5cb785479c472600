using System.Security.Cryptography;
using System.Threading.Channels;
using Paseo.Transport.Channels;

namespace Paseo.Transport.Crypto;

/// <summary>Limits of the phone-side channel; every one is bounded, unlike Paseo's endless hello retry.</summary>
public sealed record E2eeClientOptions
{
    /// <summary>Paseo re-sends the hello every second until `e2ee_ready` arrives.</summary>
    public TimeSpan HelloRetryInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Hellos sent before giving up (Paseo: no limit).</summary>
    public int MaxHelloAttempts { get; init; } = 15;
    /// <summary>Application sends queued while the handshake runs (Paseo: 200, oldest silently dropped; here a full queue refuses the send).</summary>
    public int MaxPendingSends { get; init; } = 200;
    /// <summary>Decrypted messages waiting for the reader; a slow reader slows the socket.</summary>
    public int InboundCapacity { get; init; } = 256;
    /// <summary>Frames per direction before the channel must be re-opened (bounds the replay-protection memory).</summary>
    public int MaxFramesPerDirection { get; init; } = 100_000;
    public int MaxFrameBytes { get; init; } = 16 * 1024 * 1024;
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>The channel could not be used: the handshake failed, the peer broke the protocol, or it is closed.</summary>
public sealed class E2eeChannelException(string message) : Exception(message);

/// <summary>
/// The initiator side of the relay's end-to-end encryption (relay-e2ee.md §2.3), what a phone or the CLI runs: a
/// fresh ephemeral keypair per connection, `e2ee_hello` sent at once and re-sent every second until `e2ee_ready`,
/// application sends queued meanwhile. Once open it encrypts every send and decrypts every frame, refusing replayed
/// and reflected frames as the daemon does. Every receive error closes the transport with 1011 and its reason.
/// </summary>
public sealed class E2eeClientChannel : IAsyncDisposable
{
    private readonly IFrameTransport _transport;
    private readonly E2eeClientOptions _options;
    private readonly byte[] _sharedKey;
    private readonly NonceLedger _nonces;
    private readonly Channel<E2eeMessage> _messages;
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<E2eeMessage> _pending = new();
    private readonly Lock _gate = new();
    // One send at a time, so frames leave in the order they were sent even when the transport makes a send wait.
    private readonly SemaphoreSlim _sendTurn = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private ITimer? _helloTimer;
    private Task _receiveLoop = Task.CompletedTask;
    private int _hellosSent;
    private bool _open;
    private bool _closedByUs;
    private bool _failedHere;
    private string? _failure;

    /// <summary>The ephemeral public key this connection announced in its hello.</summary>
    public byte[] PublicKey { get; }

    /// <summary>
    /// Decrypted messages, in order. Completes when the channel closes: normally after a close by this side or a 1000/1001
    /// close by the peer, with an <see cref="E2eeChannelException"/> naming the reason otherwise.
    /// </summary>
    public ChannelReader<E2eeMessage> Messages => _messages.Reader;

    /// <summary>Completes when `e2ee_ready` arrived; fails when the handshake cannot finish.</summary>
    public Task Opened => _opened.Task;

    /// <summary>The transport's end.</summary>
    public Task<TransportClosure> Closed => _transport.Closed;

    private E2eeClientChannel(IFrameTransport transport, byte[] sharedKey, byte[] publicKey, E2eeClientOptions options)
    {
        _transport = transport;
        _options = options;
        _sharedKey = sharedKey;
        PublicKey = publicKey;
        _nonces = new NonceLedger(options.MaxFramesPerDirection);
        _messages = Channel.CreateBounded<E2eeMessage>(new BoundedChannelOptions(options.InboundCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleWriter = true });
    }

    /// <summary>
    /// Starts the handshake on an open transport towards a daemon whose public key came from a pairing offer. A key
    /// that is not 32 bytes or is a low-order point closes the transport with 4001 (as Paseo's client does) and throws.
    /// </summary>
    public static E2eeClientChannel Start(IFrameTransport transport, string daemonPublicKeyB64, E2eeClientOptions? options = null)
    {
        options ??= new E2eeClientOptions();
        var daemonKey = E2eeFrames.DecodePublicKey(daemonPublicKeyB64);
        var ephemeral = BoxKeyPair.Generate();
        byte[] shared;
        try
        {
            if (daemonKey is null) throw new CryptographicException("the daemon public key is not 32 bytes of base64");
            shared = NaclBox.SharedKey(daemonKey, ephemeral.SecretKey);
        }
        catch (CryptographicException e)
        {
            transport.Close(CloseCodes.ClientHandshakeFailed, E2eeFrames.HandshakeFailedMessage);
            throw new E2eeChannelException($"E2EE handshake failed: {e.Message}");
        }
        var channel = new E2eeClientChannel(transport, shared, ephemeral.PublicKey, options);
        channel.Begin();
        return channel;
    }

    private void Begin()
    {
        lock (_gate)
        {
            // The timer exists before anything can end the handshake, so whatever ends it also stops the timer.
            _helloTimer = _options.Time.CreateTimer(_ => SendHello(), null, _options.HelloRetryInterval, _options.HelloRetryInterval);
        }
        SendHello();
        _ = _transport.Closed.ContinueWith(t => OnTransportClosed(t.Result), TaskScheduler.Default);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    private void SendHello()
    {
        lock (_gate)
        {
            if (_open || _failure is not null) return;
            if (_hellosSent >= _options.MaxHelloAttempts)
            {
                FailLocked($"E2EE handshake failed: no e2ee_ready after {_hellosSent} hellos", CloseCodes.ClientHandshakeFailed, E2eeFrames.HandshakeFailedMessage);
                return;
            }
            _hellosSent++;
            // A full outbound buffer drops this hello; the next tick sends another.
            _transport.Outbound.TryWrite(new WireFrame.Text(E2eeFrames.HelloFrame(PublicKey)));
        }
    }

    /// <summary>
    /// Encrypts and sends a message, or queues it while the handshake runs (a full queue refuses it). Waits while the
    /// transport's outbound buffer is full. Throws <see cref="E2eeChannelException"/> once the channel has ended.
    /// </summary>
    public async ValueTask SendAsync(E2eeMessage message, CancellationToken cancellationToken = default)
    {
        await _sendTurn.WaitAsync(cancellationToken);
        try
        {
            lock (_gate)
            {
                if (_failure is not null) throw new E2eeChannelException($"Channel not open: {_failure}");
                if (!_open)
                {
                    if (_pending.Count >= _options.MaxPendingSends)
                        throw new E2eeChannelException($"{_pending.Count} messages already wait for the handshake; not queuing more");
                    _pending.Enqueue(message);
                    return;
                }
            }
            await WriteEncryptedAsync(message, cancellationToken);
        }
        finally
        {
            _sendTurn.Release();
        }
    }

    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default) => SendAsync(E2eeMessage.FromText(text), cancellationToken);

    private async ValueTask WriteEncryptedAsync(E2eeMessage message, CancellationToken cancellationToken)
    {
        WireFrame frame;
        lock (_gate)
        {
            var (text, nonce) = E2eeFrames.Encrypt(message.Bytes.Span, _sharedKey);
            if (!_nonces.RecordOutbound(nonce))
            {
                FailLocked("frame budget used up; reconnect", CloseCodes.InternalError, E2eeFrames.FrameBudgetExhaustedMessage);
                throw new E2eeChannelException("Channel not open: frame budget used up; reconnect");
            }
            frame = new WireFrame.Text(text);
        }
        try
        {
            await _transport.Outbound.WriteAsync(frame, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new E2eeChannelException($"Channel not open: {_failure ?? "connection closed"}");
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            await foreach (var frame in _transport.Inbound.ReadAllAsync(_stop.Token))
            {
                if (!await HandleAsync(frame)) break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or E2eeChannelException or ChannelClosedException)
        {
            // Disposed, or the channel ended while a message was being handed over or the queue flushed.
        }
        finally
        {
            await CompleteMessagesAsync();
        }
    }

    /// <summary>Frames that arrived before the end were delivered first; now the reader learns how the channel ended.</summary>
    private async Task CompleteMessagesAsync()
    {
        TransportClosure? closure = null;
        try
        {
            closure = await _transport.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // The transport did not report its end; judge by what this side knows.
        }
        string? error;
        lock (_gate)
        {
            var cleanPeerClose = _open && !_failedHere && closure is { ByPeer: true, Code: CloseCodes.Normal or CloseCodes.GoingAway };
            error = _closedByUs || cleanPeerClose ? null
                : _failure ?? (closure is { } c ? $"connection closed ({c.Code} {c.Reason})".Replace(" )", ")") : "connection closed");
        }
        _messages.Writer.TryComplete(error is null ? null : new E2eeChannelException(error));
    }

    /// <summary>Handles one frame; false when it ended the channel.</summary>
    private async ValueTask<bool> HandleAsync(WireFrame frame)
    {
        if (frame.ByteLength > _options.MaxFrameBytes) return Fail(E2eeFrames.FrameTooLargeMessage, CloseCodes.MessageTooBig);
        var text = frame switch
        {
            WireFrame.Text t => t.Value,
            WireFrame.Binary b => System.Text.Encoding.UTF8.GetString(b.Value.Span),
            _ => "",
        };
        var kind = E2eeFrames.Classify(text);
        bool open;
        lock (_gate) open = _open;
        if (!open)
        {
            // Handshaking: everything but e2ee_ready is dropped (§2.3), as Paseo's client does.
            if (kind is InboundFrame.Ready) await OnReadyAsync();
            return true;
        }
        switch (kind)
        {
            case InboundFrame.Hello or InboundFrame.Ready:
                return true;
            case InboundFrame.PlaintextJson:
                return Fail(E2eeFrames.PlaintextOnEncryptedChannelMessage);
            case InboundFrame.Ciphertext ciphertext:
                var (plaintext, nonce, failure) = E2eeFrames.Decrypt(ciphertext.Text, _sharedKey);
                if (failure == DecryptFailure.TooShort) return Fail(E2eeFrames.TooShortMessage);
                if (failure == DecryptFailure.DecryptionFailed) return Fail(E2eeFrames.DecryptionFailedMessage);
                NonceVerdict verdict;
                lock (_gate) verdict = _nonces.CheckInbound(nonce);
                switch (verdict)
                {
                    case NonceVerdict.Replayed: return Fail(E2eeFrames.ReplayedFrameMessage);
                    case NonceVerdict.Reflected: return Fail(E2eeFrames.ReflectedFrameMessage);
                    case NonceVerdict.Exhausted: return Fail(E2eeFrames.FrameBudgetExhaustedMessage);
                }
                await _messages.Writer.WriteAsync(E2eeMessage.Decrypted(plaintext!), _stop.Token);
                return true;
            default:
                return true;
        }
    }

    /// <summary>Opens the channel and sends the queued messages first, in order, before any later send.</summary>
    private async Task OnReadyAsync()
    {
        await _sendTurn.WaitAsync(_stop.Token);
        try
        {
            E2eeMessage[] queued;
            lock (_gate)
            {
                if (_open || _failure is not null) return;
                _open = true;
                _helloTimer?.Dispose();
                queued = [.. _pending];
                _pending.Clear();
            }
            foreach (var message in queued) await WriteEncryptedAsync(message, _stop.Token);
        }
        finally
        {
            _sendTurn.Release();
        }
        _opened.TrySetResult();
    }

    private void OnTransportClosed(TransportClosure closure)
    {
        lock (_gate)
        {
            _helloTimer?.Dispose();
            _pending.Clear();
            var reason = $"connection closed ({closure.Code} {closure.Reason})".Replace(" )", ")");
            // A clean close after open is not a failure of the channel; anything else is, and sends now report it.
            if (!_open || closure.Code is not (CloseCodes.Normal or CloseCodes.GoingAway)) _failure ??= reason;
            else _failure ??= "closed by the peer";
            _opened.TrySetException(new E2eeChannelException(_failure));
        }
    }

    private bool Fail(string reason, int code = CloseCodes.InternalError)
    {
        lock (_gate) FailLocked(reason, code, reason);
        return false;
    }

    private void FailLocked(string reason, int code, string closeReason)
    {
        if (_failure is not null) return;
        _failure = reason;
        _failedHere = true;
        _helloTimer?.Dispose();
        _pending.Clear();
        _transport.Close(code, closeReason);
        _opened.TrySetException(new E2eeChannelException(reason));
    }

    /// <summary>Closes the channel (1000 by default); <see cref="Messages"/> then completes normally.</summary>
    public void Close(int code = CloseCodes.Normal, string reason = "Normal closure")
    {
        lock (_gate)
        {
            if (_failure is not null) return;
            _failure = "closed";
            _closedByUs = true;
            _helloTimer?.Dispose();
            _pending.Clear();
            _opened.TrySetException(new E2eeChannelException("Channel closed before it opened"));
        }
        _transport.Close(code, reason);
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        await _stop.CancelAsync();
        await _receiveLoop;
        _stop.Dispose();
        _sendTurn.Dispose();
    }
}
