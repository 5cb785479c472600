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
    private readonly CancellationTokenSource _stop = new();
    private ITimer? _helloTimer;
    private int _hellosSent;
    private bool _open;
    private string? _failure;

    /// <summary>The ephemeral public key this connection announced in its hello.</summary>
    public byte[] PublicKey { get; }

    /// <summary>Decrypted messages, in order; completes when the channel closes (with an <see cref="E2eeChannelException"/> on a protocol error).</summary>
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
        _ = Task.Run(ReceiveLoopAsync);
        _ = _transport.Closed.ContinueWith(t => OnTransportClosed(t.Result), TaskScheduler.Default);
        SendHello();
        _helloTimer = _options.Time.CreateTimer(_ => SendHello(), null, _options.HelloRetryInterval, _options.HelloRetryInterval);
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
            _transport.Outbound.TryWrite(new WireFrame.Text(E2eeFrames.HelloFrame(PublicKey)));
        }
    }

    /// <summary>Encrypts and sends a message, or queues it while the handshake runs.</summary>
    public void Send(E2eeMessage message)
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
            SendEncryptedLocked(message);
        }
    }

    public void SendText(string text) => Send(E2eeMessage.FromText(text));

    private void SendEncryptedLocked(E2eeMessage message)
    {
        var (frame, nonce) = E2eeFrames.Encrypt(message.Bytes.Span, _sharedKey);
        if (!_nonces.RecordOutbound(nonce))
        {
            FailLocked("frame budget used up; reconnect", CloseCodes.InternalError, E2eeFrames.FrameBudgetExhaustedMessage);
            throw new E2eeChannelException("Channel not open: frame budget used up; reconnect");
        }
        if (!_transport.Outbound.TryWrite(new WireFrame.Text(frame)))
        {
            FailLocked("the connection does not keep up with the messages sent", CloseCodes.TryAgainLater, "Outbound buffer full");
            throw new E2eeChannelException("Channel not open: outbound buffer full");
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            await foreach (var frame in _transport.Inbound.ReadAllAsync(_stop.Token))
            {
                var error = await HandleAsync(frame);
                if (error is not null) return;
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
        finally
        {
            // Frames that arrived before the close were delivered first; now the reader sees the end.
            bool wasOpen;
            string? failure;
            lock (_gate) (wasOpen, failure) = (_open, _failure);
            _messages.Writer.TryComplete(wasOpen && failure is null or "closed" ? null : new E2eeChannelException(failure ?? "connection closed"));
        }
    }

    private void OnTransportClosed(TransportClosure closure)
    {
        lock (_gate)
        {
            _helloTimer?.Dispose();
            _pending.Clear();
            var reason = $"connection closed ({closure.Code} {closure.Reason})".Replace(" )", ")");
            if (!_open) _failure ??= reason;
            _opened.TrySetException(new E2eeChannelException(_failure ?? reason));
        }
    }

    /// <summary>Returns a failure reason when the frame ended the channel.</summary>
    private async ValueTask<string?> HandleAsync(WireFrame frame)
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
            if (kind is InboundFrame.Ready) OnReady();
            return null;
        }
        switch (kind)
        {
            case InboundFrame.Hello or InboundFrame.Ready:
                return null;
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
                return null;
            default:
                return null;
        }
    }

    private void OnReady()
    {
        lock (_gate)
        {
            if (_open || _failure is not null) return;
            _open = true;
            _helloTimer?.Dispose();
            while (_pending.TryDequeue(out var queued)) SendEncryptedLocked(queued);
        }
        _opened.TrySetResult();
    }

    private string Fail(string reason, int code = CloseCodes.InternalError, string? closeReason = null)
    {
        lock (_gate) FailLocked(reason, code, closeReason ?? reason);
        return reason;
    }

    private void FailLocked(string reason, int code, string closeReason)
    {
        if (_failure is not null) return;
        _failure = reason;
        _helloTimer?.Dispose();
        _pending.Clear();
        _transport.Close(code, closeReason);
        _opened.TrySetException(new E2eeChannelException(reason));
    }

    /// <summary>Closes the channel normally (1000).</summary>
    public void Close(int code = CloseCodes.Normal, string reason = "Normal closure")
    {
        lock (_gate)
        {
            if (_failure is not null) return;
            _failure = "closed";
            _helloTimer?.Dispose();
            _opened.TrySetException(new E2eeChannelException("Channel closed before it opened"));
        }
        _transport.Close(code, reason);
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}
