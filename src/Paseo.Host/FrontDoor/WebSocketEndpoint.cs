using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Paseo.Transport.Security;

namespace Paseo.Host.FrontDoor;

/// <summary>
/// `/ws`: accepts the upgrade (echoing the `paseo.bearer.*` subprotocol entry, which browsers require when they
/// offered one), checks the password, then serves the socket. Until the session protocol lands (agents issue)
/// the socket answers the WS-level `{"type":"ping"}` with `{"type":"pong"}` and enforces the message size cap.
/// </summary>
public sealed class WebSocketEndpoint(FrontDoorPolicies policies, ILogger<WebSocketEndpoint> log)
{
    public const int PasswordFailureCloseCode = 4401;

    private static readonly byte[] Pong = "{\"type\":\"pong\"}"u8.ToArray();

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

    private async Task ServeAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var max = policies.Limits.WebSocket.MaxMessageBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var message = new ArrayBufferWriter<byte>();
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                message.Clear();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await CloseAsync(socket, WebSocketCloseStatus.NormalClosure, "");
                        return;
                    }
                    if (message.WrittenCount + result.Count > max)
                    {
                        await CloseAsync(socket, WebSocketCloseStatus.MessageTooBig, $"Message larger than {max} bytes");
                        return;
                    }
                    message.Write(buffer.AsSpan(0, result.Count));
                } while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Text && IsPing(message.WrittenSpan))
                    await socket.SendAsync(Pong, WebSocketMessageType.Text, true, cancellationToken);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            log.LogDebug("WebSocket ended: {Reason}", e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsPing(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length == 0 || utf8[0] != (byte)'{') return false;
        try
        {
            var reader = new Utf8JsonReader(utf8);
            using var doc = JsonDocument.ParseValue(ref reader);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                   && doc.RootElement.TryGetProperty("type", out var type)
                   && type.ValueKind == JsonValueKind.String && type.GetString() == "ping";
        }
        catch (JsonException)
        {
            return false;
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
