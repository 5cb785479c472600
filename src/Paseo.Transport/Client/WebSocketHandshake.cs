using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Paseo.Transport.Client;

/// <summary>The daemon (or relay) refused the WebSocket upgrade: its HTTP status line, e.g. 401 for a wrong password.</summary>
public sealed class WebSocketUpgradeException(int status, string statusLine) : Exception($"the server answered {statusLine}")
{
    public int Status { get; } = status;
}

/// <summary>
/// The client side of the RFC 6455 opening handshake over a plain socket (TCP or unix), then
/// <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>. The CLI connects once per command, and
/// <see cref="ClientWebSocket"/>'s HTTP stack cost ~45 ms of each command's start-up on this machine; this costs ~2.
/// </summary>
public static class WebSocketHandshake
{
    private const int MaxResponseHeaderBytes = 16 * 1024;

    public static async Task<WebSocket> ConnectAsync(EndPoint endPoint, string host, string pathAndQuery, bool tls,
        IReadOnlyList<(string Name, string Value)> headers, string? subProtocol, CancellationToken cancellationToken)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream stream;
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = HostName(host) }, cancellationToken);
                stream = ssl;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        try
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = new StringBuilder()
                .Append("GET ").Append(pathAndQuery).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(host).Append("\r\n")
                .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
                .Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n")
                .Append("Sec-WebSocket-Version: 13\r\n");
            if (subProtocol is not null) request.Append("Sec-WebSocket-Protocol: ").Append(subProtocol).Append("\r\n");
            foreach (var (name, value) in headers) request.Append(name).Append(": ").Append(value).Append("\r\n");
            request.Append("\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken);

            var response = await ReadHeadersAsync(stream, cancellationToken);
            var lines = response.Split("\r\n");
            var statusParts = lines[0].Split(' ', 3);
            if (statusParts.Length < 2 || !int.TryParse(statusParts[1], out var status)) throw new WebSocketException($"not an HTTP response: {lines[0]}");
            if (status != 101) throw new WebSocketUpgradeException(status, lines[0]);
            var accept = Header(lines, "Sec-WebSocket-Accept");
            var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            if (accept != expected) throw new WebSocketException("the server's Sec-WebSocket-Accept does not match the key");
            return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = false,
                SubProtocol = Header(lines, "Sec-WebSocket-Protocol"),
                KeepAliveInterval = TimeSpan.FromSeconds(30),
            });
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    private static string HostName(string host) =>
        host.StartsWith('[') ? host[1..host.IndexOf(']')] : host.LastIndexOf(':') is var colon and > 0 ? host[..colon] : host;

    private static string? Header(string[] lines, string name)
    {
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    /// <summary>Reads byte by byte up to the blank line, so not one byte of the first WebSocket frame is consumed.</summary>
    private static async Task<string> ReadHeadersAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxResponseHeaderBytes];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length) throw new WebSocketException("the server's upgrade response headers are too long");
            var read = await stream.ReadAsync(buffer.AsMemory(length, 1), cancellationToken);
            if (read == 0) throw new WebSocketException("the server closed the connection during the upgrade");
            length++;
            if (length >= 4 && buffer[length - 4] == '\r' && buffer[length - 3] == '\n' && buffer[length - 2] == '\r' && buffer[length - 1] == '\n')
                return Encoding.ASCII.GetString(buffer, 0, length - 4);
        }
    }
}
