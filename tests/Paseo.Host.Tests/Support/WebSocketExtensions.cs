using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Paseo.Host.Tests.Support;

public static class WebSocketExtensions
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static Task SendTextAsync(this WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Receives one whole message, or the close frame (returned as null with the socket's CloseStatus set).</summary>
    public static async Task<string?> ReceiveTextAsync(this WebSocket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(message.ToArray());
        }
    }

    /// <summary>The socket is open and served: the WS-level ping gets its pong.</summary>
    public static async Task AssertAnswersPingAsync(this WebSocket socket)
    {
        await socket.SendTextAsync("{\"type\":\"ping\"}");
        Xunit.Assert.Equal("{\"type\":\"pong\"}", await socket.ReceiveTextAsync());
    }

    /// <summary>Waits for the server's close frame and returns its code and reason.</summary>
    public static async Task<(int Code, string? Reason)> ReceiveCloseAsync(this WebSocket socket)
    {
        while (await socket.ReceiveTextAsync() is not null) { }
        return ((int)socket.CloseStatus!.Value, socket.CloseStatusDescription);
    }
}

/// <summary>Raw HTTP/1.x over a TCP socket, for requests HttpClient will not send (no Host header, a forged Host on an upgrade).</summary>
public static class RawHttp
{
    public static async Task<(int Status, string Head, string Body)> SendAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            int n;
            try
            {
                n = await stream.ReadAsync(buffer, cts.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                break;
            }
            if (n == 0) break;
            response.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(response.ToArray());
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd < 0) continue;
            var head = text[..headEnd];
            var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (length is not null && text.Length - headEnd - 4 >= int.Parse(length.Split(':')[1].Trim())) break;
            if (head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) break;
        }
        var all = Encoding.UTF8.GetString(response.ToArray());
        var split = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headText = split >= 0 ? all[..split] : all;
        var status = int.Parse(headText.Split(' ')[1]);
        return (status, headText, split >= 0 ? all[(split + 4)..] : "");
    }

    public static string Upgrade(string host, string? origin = null, string path = "/ws") =>
        $"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{(origin is null ? "" : $"Origin: {origin}\r\n")}\r\n";
}
