using System.Net.WebSockets;

namespace Paseo.Transport.Channels;

/// <summary>Opens outbound sockets as <see cref="IFrameTransport"/>s (the daemon's relay tunnel, the CLI).</summary>
public interface IFrameConnector
{
    Task<IFrameTransport> ConnectAsync(Uri uri, CancellationToken cancellationToken);
}

/// <summary>Options of outbound WebSockets: limits, and the keepalive pings Paseo's daemon does not send on relay sockets.</summary>
public sealed record WebSocketConnectorOptions(int MaxMessageBytes, int InboundCapacity, int OutboundCapacity, TimeSpan KeepAliveInterval, TimeSpan ConnectTimeout);

/// <summary>
/// Real WebSockets (ClientWebSocket) behind <see cref="IFrameConnector"/>. <paramref name="wrap"/> turns the open socket into a
/// transport (the daemon passes its Akka.Streams one); without it, <see cref="WebSocketFrameTransport"/>.
/// </summary>
public sealed class WebSocketConnector(WebSocketConnectorOptions options, Func<WebSocket, WebSocketConnectorOptions, IFrameTransport>? wrap = null) : IFrameConnector
{
    public async Task<IFrameTransport> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = options.KeepAliveInterval;
        // Pings that expect a pong: a dead peer is noticed (an interval alone only sends unsolicited pongs).
        socket.Options.KeepAliveTimeout = options.KeepAliveInterval;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return wrap is not null
            ? wrap(socket, options)
            : new WebSocketFrameTransport(socket, options.MaxMessageBytes, options.InboundCapacity, options.OutboundCapacity);
    }
}
