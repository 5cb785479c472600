using Akka.Streams;
using Paseo.Actors.Streams;
using System.Net.WebSockets;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Http;
using Paseo.Actors.Hosting;
using Paseo.Actors.Sessions;
using Paseo.Transport.Channels;
using Paseo.Transport.Security;

namespace Paseo.Host.FrontDoor;

/// <summary>
/// `/ws`: accepts the upgrade (echoing the `paseo.bearer.*` subprotocol entry, which browsers require when they
/// offered one), checks the password, then hands the socket to the client sessions subsystem, which speaks the
/// application protocol (hello, session messages, ping/pong) on it.
/// </summary>
public sealed class WebSocketEndpoint(FrontDoorPolicies policies, IRequiredActor<ClientSessionManagerKey> sessions, IMaterializer materializer, IHostApplicationLifetime lifetime, ILogger<WebSocketEndpoint> log)
{
    public const int PasswordFailureCloseCode = Paseo.Transport.Channels.CloseCodes.Unauthorized;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await JsonResponses.Error(context, StatusCodes.Status426UpgradeRequired, "Expected a WebSocket upgrade");
            return;
        }

        var bearer = BearerCredentials.FromSubprotocols(context.WebSockets.WebSocketRequestedProtocols);
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = bearer?.Entry,
            KeepAliveInterval = policies.Limits.WebSocket.KeepAliveInterval,
            KeepAliveTimeout = policies.Limits.WebSocket.KeepAliveTimeout,
        });

        var check = await policies.Password.CheckAsync(bearer?.Token is { Length: > 0 } t ? t : null, context.RequestAborted);
        switch (check)
        {
            case PasswordCheck.Missing:
                await CloseAsync(socket, (WebSocketCloseStatus)PasswordFailureCloseCode, "Password required");
                return;
            case PasswordCheck.Incorrect:
                await CloseAsync(socket, (WebSocketCloseStatus)PasswordFailureCloseCode, "Incorrect password");
                return;
            case PasswordCheck.Busy:
                await CloseAsync(socket, (WebSocketCloseStatus)1013, "Try again later");
                return;
        }

        await ServeAsync(socket, context.RequestAborted);
    }

    /// <summary>
    /// Hands the socket, as a bounded frame transport, to the sessions subsystem (a client connection and its plain
    /// channel), and stays until the socket ends: Kestrel closes a WebSocket when this delegate returns.
    /// </summary>
    private async Task ServeAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var limits = policies.Limits.WebSocket;
        await using var transport = new StreamedWebSocketTransport(socket, materializer, limits.MaxMessageBytes, limits.InboundQueue, limits.OutboundQueue,
            closeTimeout: limits.CloseTimeout, oversizeReason: $"Message larger than {limits.MaxMessageBytes} bytes");
        // Kestrel waits for open connections when the daemon stops: close the socket at once, with a reason.
        using var stopping = lifetime.ApplicationStopping.Register(() => transport.Close(CloseCodes.GoingAway, "Server shutting down"));
        try
        {
            await sessions.ActorRef.Ask<ClientSessionManager.Connected>(
                new ClientSessionManager.Connect(connection => PlainSocketChannel.Props(transport, connection)), TimeSpan.FromSeconds(10), cancellationToken);
            await transport.Closed.WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or AskTimeoutException)
        {
            log.LogDebug("WebSocket ended: {Reason}", e.Message);
        }
    }

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseAsync(status, reason, CancellationToken.None);
        }
        catch (WebSocketException)
        {
            // The peer went away first; nothing left to tell it.
        }
    }
}
