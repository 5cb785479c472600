using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Akka.Streams;
using Paseo.Actors.Streams;
using Paseo.Transport.Channels;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Streams;

/// <summary>
/// The Akka.Streams socket transport over a real loopback TCP connection (WebSocket framing on both ends): bounded in both
/// directions, frames in order, close codes both ways.
/// </summary>
public sealed class StreamedWebSocketTransportSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = WARNING", output)
{
    private sealed record Pair(StreamedWebSocketTransport Server, WebSocket Peer) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            Peer.Dispose();
        }
    }

    private async Task<Pair> ConnectAsync(int maxMessageBytes = 64 * 1024, int inbound = 4, int outbound = 4)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        var accepting = listener.AcceptTcpClientAsync();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var server = await accepting;
        var serverSocket = WebSocket.CreateFromStream(server.GetStream(), new WebSocketCreationOptions { IsServer = true });
        var peer = WebSocket.CreateFromStream(client.GetStream(), new WebSocketCreationOptions { IsServer = false });
        return new Pair(new StreamedWebSocketTransport(serverSocket, Sys.Materializer(), maxMessageBytes, inbound, outbound, TimeSpan.FromSeconds(1), "Too big"), peer);
    }

    private static Task Send(WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<(WebSocketMessageType Type, string Text)> Receive(WebSocket socket)
    {
        var buffer = new byte[256 * 1024];
        var text = new StringBuilder();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            if (result.MessageType == WebSocketMessageType.Close) return (result.MessageType, $"{(int)socket.CloseStatus!} {socket.CloseStatusDescription}");
            text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            if (result.EndOfMessage) return (result.MessageType, text.ToString());
        }
    }

    [Fact]
    public async Task An_owner_that_does_not_read_holds_the_socket_back_and_loses_nothing()
    {
        await using var pair = await ConnectAsync(inbound: 4);
        const int Frames = 200;
        var sending = Task.Run(async () => { for (var i = 0; i < Frames; i++) await Send(pair.Peer, $"frame {i}"); });
        // The owner reads nothing: the channel fills to its capacity and stays there; the rest waits in the socket.
        await AwaitAssertAsync(() => Assert.Equal(4, pair.Server.Inbound.Count), TimeSpan.FromSeconds(10));
        Assert.Equal(4, pair.Server.Inbound.Count);
        for (var i = 0; i < Frames; i++)
        {
            var frame = await pair.Server.Inbound.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal($"frame {i}", ((WireFrame.Text)frame).Value);
            Assert.True(pair.Server.Inbound.Count <= 4);
        }
        await sending;
    }

    [Fact]
    public async Task A_peer_that_does_not_read_fills_the_outbound_queue_which_refuses_more()
    {
        await using var pair = await ConnectAsync(outbound: 4);
        var chunk = new WireFrame.Text(new string('x', 60 * 1024));
        var accepted = 0;
        // Socket buffers take some, then the 4-frame queue fills: TryWrite says no (the owner then closes the peer as too slow).
        while (pair.Server.Outbound.TryWrite(chunk))
        {
            accepted++;
            Assert.True(accepted < 100_000, "the outbound queue never filled");
            if (accepted % 4 == 0) await Task.Yield();
        }
        Assert.False(pair.Server.Outbound.TryWrite(chunk));
    }

    [Fact]
    public async Task Owner_close_sends_queued_frames_then_the_close_code()
    {
        await using var pair = await ConnectAsync();
        Assert.True(pair.Server.Outbound.TryWrite(new WireFrame.Text("last words")));
        pair.Server.Close(1013, "Too slow");
        Assert.Equal((WebSocketMessageType.Text, "last words"), await Receive(pair.Peer));
        Assert.Equal((WebSocketMessageType.Close, "1013 Too slow"), await Receive(pair.Peer));
        await pair.Peer.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var closure = await pair.Server.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((1013, "Too slow", false), (closure.Code, closure.Reason, closure.ByPeer));
    }

    [Fact]
    public async Task Frames_sent_before_the_peer_closes_still_reach_the_owner()
    {
        await using var pair = await ConnectAsync();
        await Send(pair.Peer, "one");
        await pair.Peer.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        await pair.Peer.CloseOutputAsync((WebSocketCloseStatus)4001, "bye", CancellationToken.None);

        var closure = await pair.Server.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((4001, "bye", true), (closure.Code, closure.Reason, closure.ByPeer));
        var frames = new List<WireFrame>();
        await foreach (var frame in pair.Server.Inbound.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token)) frames.Add(frame);
        Assert.Equal("one", ((WireFrame.Text)frames[0]).Value);
        Assert.Equal(new byte[] { 1, 2, 3 }, ((WireFrame.Binary)frames[1]).Value.ToArray());
        Assert.Equal(2, frames.Count);
        // The transport answered the close with the peer's code.
        Assert.Equal((WebSocketMessageType.Close, "4001 bye"), await Receive(pair.Peer));
    }

    [Fact]
    public async Task A_message_over_the_limit_is_refused_with_1009_and_nothing_of_it_is_delivered()
    {
        await using var pair = await ConnectAsync(maxMessageBytes: 1024);
        await Send(pair.Peer, "small");
        await Send(pair.Peer, new string('z', 5000));
        Assert.Equal("small", ((WireFrame.Text)await pair.Server.Inbound.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Value);
        Assert.Equal((WebSocketMessageType.Close, "1009 Too big"), await Receive(pair.Peer));
        await pair.Server.Inbound.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(pair.Server.Inbound.TryRead(out _));
    }
}
