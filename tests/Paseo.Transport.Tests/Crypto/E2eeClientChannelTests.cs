using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;

namespace Paseo.Transport.Tests.Crypto;

/// <summary>
/// The phone-side channel against a daemon played by the test with the same codec, over the in-memory transport:
/// hello retry, queued sends, and every receive error closing with its reason.
/// </summary>
public sealed class E2eeClientChannelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly BoxKeyPair _daemon = BoxKeyPair.Generate();
    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryFrameTransport _clientEnd;
    private readonly InMemoryFrameTransport _daemonEnd;

    public E2eeClientChannelTests() => (_clientEnd, _daemonEnd) = InMemoryFrameTransport.CreatePair();

    private E2eeClientOptions Options => new() { Time = _time, MaxHelloAttempts = 3, MaxPendingSends = 2 };

    private E2eeClientChannel Start(E2eeClientOptions? options = null) =>
        E2eeClientChannel.Start(_clientEnd, Convert.ToBase64String(_daemon.PublicKey), options ?? Options);

    private async Task<string> DaemonReadsTextAsync()
    {
        var frame = await _daemonEnd.Inbound.ReadAsync().AsTask().WaitAsync(Wait);
        return Assert.IsType<WireFrame.Text>(frame).Value;
    }

    /// <summary>Reads the client's hello, answers ready, and returns the shared key the daemon derived.</summary>
    private async Task<byte[]> DaemonAcceptsAsync(E2eeClientChannel channel)
    {
        var hello = Assert.IsType<InboundFrame.Hello>(E2eeFrames.Classify(await DaemonReadsTextAsync()));
        Assert.Equal(channel.PublicKey, E2eeFrames.DecodePublicKey(hello.Key));
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.ReadyFrame));
        await channel.Opened.WaitAsync(Wait);
        return NaclBox.SharedKey(channel.PublicKey, _daemon.SecretKey);
    }

    [Fact]
    public async Task The_hello_goes_out_at_once_with_a_fresh_key_per_connection()
    {
        var first = Start();
        var hello = await DaemonReadsTextAsync();
        Assert.Equal(E2eeFrames.HelloFrame(first.PublicKey), hello);

        var (otherClient, _) = InMemoryFrameTransport.CreatePair();
        var second = E2eeClientChannel.Start(otherClient, Convert.ToBase64String(_daemon.PublicKey), Options);
        Assert.NotEqual(first.PublicKey, second.PublicKey);
    }

    [Fact]
    public async Task The_hello_is_resent_every_interval_and_the_retries_are_bounded()
    {
        var channel = Start();
        await DaemonReadsTextAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.StartsWith("{\"type\":\"e2ee_hello\"", await DaemonReadsTextAsync());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.StartsWith("{\"type\":\"e2ee_hello\"", await DaemonReadsTextAsync());
        _time.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Opened.WaitAsync(Wait));
        Assert.Contains("no e2ee_ready after 3 hellos", error.Message);
        var closure = await _daemonEnd.Closed.WaitAsync(Wait);
        Assert.Equal((CloseCodes.ClientHandshakeFailed, "E2EE handshake failed"), (closure.Code, closure.Reason));
    }

    [Fact]
    public async Task Sends_wait_for_the_handshake_and_go_out_in_order_once_open()
    {
        var channel = Start();
        await channel.SendTextAsync("{\"type\":\"hello\",\"n\":1}");
        await channel.SendTextAsync("{\"type\":\"ping\",\"n\":2}");
        await Assert.ThrowsAsync<E2eeChannelException>(async () => await channel.SendTextAsync("third"));

        var key = await DaemonAcceptsAsync(channel);

        foreach (var expected in new[] { "{\"type\":\"hello\",\"n\":1}", "{\"type\":\"ping\",\"n\":2}" })
        {
            var (plaintext, _, failure) = E2eeFrames.Decrypt(await DaemonReadsTextAsync(), key);
            Assert.Equal(DecryptFailure.None, failure);
            Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(plaintext!));
        }
    }

    [Fact]
    public async Task Frames_before_ready_are_dropped_and_messages_after_it_are_delivered_as_text_or_binary()
    {
        var channel = Start();
        await DaemonReadsTextAsync();
        var key = NaclBox.SharedKey(channel.PublicKey, _daemon.SecretKey);
        // Ciphertext and stray JSON during the handshake are dropped, as Paseo's client does.
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt("early"u8, key).Frame));
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text("{\"type\":\"session\"}"));
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.ReadyFrame));
        await channel.Opened.WaitAsync(Wait);

        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.ReadyFrame));
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt("{\"type\":\"pong\"}"u8, key).Frame));
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Binary(System.Text.Encoding.UTF8.GetBytes(E2eeFrames.Encrypt([0x01, 0x00, 0xff], key).Frame)));

        var text = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.True(text.IsText);
        Assert.Equal("{\"type\":\"pong\"}", text.Text);
        var binary = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.False(binary.IsText);
        Assert.Equal(new byte[] { 0x01, 0x00, 0xff }, binary.Bytes.ToArray());
    }

    public static TheoryData<string, string> BadFrames => new()
    {
        { "tampered", E2eeFrames.DecryptionFailedMessage },
        { "short", E2eeFrames.TooShortMessage },
        { "plaintext", E2eeFrames.PlaintextOnEncryptedChannelMessage },
        { "replayed", E2eeFrames.ReplayedFrameMessage },
        { "reflected", E2eeFrames.ReflectedFrameMessage },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task A_bad_frame_after_open_closes_with_1011_and_its_reason_and_is_never_delivered(string kind, string reason)
    {
        var channel = Start();
        var key = await DaemonAcceptsAsync(channel);
        var good = E2eeFrames.Encrypt("good"u8, key).Frame;
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(good));
        await channel.SendTextAsync("mine");
        var mine = await DaemonReadsTextAsync();

        var bad = kind switch
        {
            "tampered" => Tamper(E2eeFrames.Encrypt("evil"u8, key).Frame),
            "short" => Convert.ToBase64String(new byte[10]),
            "plaintext" => "{\"type\":\"session\",\"message\":{}}",
            "replayed" => good,
            "reflected" => mine,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(bad));

        var closure = await _daemonEnd.Closed.WaitAsync(Wait);
        Assert.Equal((CloseCodes.InternalError, reason), (closure.Code, closure.Reason));
        Assert.Equal("good", (await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait)).Text);
        var error = await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Messages.Completion.WaitAsync(Wait));
        Assert.Equal(reason, error.Message);
        await Assert.ThrowsAsync<E2eeChannelException>(async () => await channel.SendTextAsync("after"));
    }

    [Theory]
    [InlineData("AAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public async Task A_daemon_key_that_is_not_32_bytes_or_is_low_order_closes_with_4001(string daemonKey)
    {
        var error = Assert.Throws<E2eeChannelException>(() => E2eeClientChannel.Start(_clientEnd, daemonKey, Options));
        Assert.StartsWith("E2EE handshake failed", error.Message);
        var closure = await _daemonEnd.Closed.WaitAsync(Wait);
        Assert.Equal((4001, "E2EE handshake failed"), (closure.Code, closure.Reason));
    }

    [Fact]
    public async Task A_peer_close_before_ready_fails_the_open_task()
    {
        var channel = Start();
        await DaemonReadsTextAsync();
        _daemonEnd.Close(CloseCodes.InternalError, "E2EE handshake failed");
        var error = await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Opened.WaitAsync(Wait));
        Assert.Contains("1011 E2EE handshake failed", error.Message);
    }

    private static string Tamper(string frame)
    {
        var bytes = Convert.FromBase64String(frame);
        bytes[^1] ^= 0x01;
        return Convert.ToBase64String(bytes);
    }

    [Fact]
    public async Task A_frame_over_the_limit_closes_1009_and_is_not_decoded()
    {
        var channel = Start(Options with { MaxFrameBytes = 1024 });
        var key = await DaemonAcceptsAsync(channel);
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt(new byte[2048], key).Frame));

        var closure = await _daemonEnd.Closed.WaitAsync(Wait);
        Assert.Equal((1009, "Frame too large"), (closure.Code, closure.Reason));
        Assert.Equal("Frame too large", (await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Messages.Completion.WaitAsync(Wait))).Message);
    }

    [Fact]
    public async Task More_queued_sends_than_the_transport_buffer_holds_all_go_out_in_order()
    {
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair(capacity: 4);
        var channel = E2eeClientChannel.Start(clientEnd, Convert.ToBase64String(_daemon.PublicKey), Options with { MaxPendingSends = 50 });
        for (var i = 0; i < 50; i++) await channel.SendTextAsync($"m{i}");
        Assert.IsType<InboundFrame.Hello>(E2eeFrames.Classify(((WireFrame.Text)await daemonEnd.Inbound.ReadAsync()).Value));
        await daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.ReadyFrame));
        var key = NaclBox.SharedKey(channel.PublicKey, _daemon.SecretKey);

        for (var i = 0; i < 50; i++)
        {
            var frame = (WireFrame.Text)await daemonEnd.Inbound.ReadAsync().AsTask().WaitAsync(Wait);
            Assert.Equal($"m{i}", System.Text.Encoding.UTF8.GetString(E2eeFrames.Decrypt(frame.Value, key).Plaintext!));
        }
        await channel.Opened.WaitAsync(Wait);
    }

    [Theory]
    [InlineData(1011, "Decryption failed", true)]
    [InlineData(1012, "Server disconnected", true)]
    [InlineData(1000, "bye", false)]
    [InlineData(1001, "Client disconnected", false)]
    public async Task A_peer_close_after_open_ends_the_messages_with_an_error_unless_it_is_clean(int code, string reason, bool isError)
    {
        var channel = Start();
        var key = await DaemonAcceptsAsync(channel);
        await _daemonEnd.Outbound.WriteAsync(new WireFrame.Text(E2eeFrames.Encrypt("last"u8, key).Frame));
        _daemonEnd.Close(code, reason);

        Assert.Equal("last", (await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait)).Text);
        if (isError)
        {
            var error = await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Messages.Completion.WaitAsync(Wait));
            Assert.Contains($"{code} {reason}", error.Message);
        }
        else
        {
            await channel.Messages.Completion.WaitAsync(Wait);
        }
        await Assert.ThrowsAsync<E2eeChannelException>(async () => await channel.SendTextAsync("after"));
    }

    [Fact]
    public async Task Closing_it_ourselves_ends_the_messages_normally_and_stops_the_hellos()
    {
        var channel = Start();
        await DaemonReadsTextAsync();
        channel.Close();

        var closure = await _daemonEnd.Closed.WaitAsync(Wait);
        Assert.Equal(1000, closure.Code);
        await Assert.ThrowsAsync<E2eeChannelException>(() => channel.Opened.WaitAsync(Wait));
        _time.Advance(TimeSpan.FromSeconds(5));
        // No hello after the close: the daemon end has nothing more to read.
        Assert.False(await _daemonEnd.Inbound.WaitToReadAsync().AsTask().WaitAsync(Wait));
    }
}
