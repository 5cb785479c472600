using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Client;

/// <summary>The daemon answered a request with an error (rpc_error, or an `error` field).</summary>
public sealed class DaemonRequestException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>The daemon cannot be reached or did not say hello back.</summary>
public sealed class DaemonUnreachableException(string message) : Exception(message);

/// <summary>
/// The CLI's connection to a daemon, directly (TCP, unix socket) or through a relay with end-to-end encryption: hello →
/// server_info, then requests answered by requestId. Uses only Paseo.Transport: no actor system, so the CLI starts fast.
/// </summary>
public sealed class DaemonClient : IAsyncDisposable
{
    private readonly Func<string, ValueTask> _send;
    private readonly ChannelReader<string> _incoming;
    private readonly Func<ValueTask> _close;
    private readonly List<JsonObject> _pushes = [];

    public JsonObject ServerInfo { get; private set; } = null!;

    private DaemonClient(Func<string, ValueTask> send, ChannelReader<string> incoming, Func<ValueTask> close)
    {
        _send = send;
        _incoming = incoming;
        _close = close;
    }

    public static async Task<DaemonClient> ConnectAsync(DaemonTarget target, string clientId, string appVersion, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        DaemonClient client;
        try
        {
            client = target switch
            {
                DaemonTarget.Relay relay => await ConnectRelayAsync(relay, deadline.Token),
                _ => await ConnectDirectAsync(target, deadline.Token),
            };
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or SocketException or OperationCanceledException or E2eeChannelException)
        {
            throw new DaemonUnreachableException($"cannot connect to the daemon at {target}: {e.GetBaseException().Message}");
        }
        await client._send(new JsonObject
        {
            ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = "cli", ["protocolVersion"] = 1,
            ["capabilities"] = new JsonObject { ["reasoning_merge_enum"] = true }, ["appVersion"] = appVersion,
        }.ToJsonString());
        try
        {
            var info = await client.NextAsync(f => f["message"]?["payload"]?["status"]?.GetValue<string>() == "server_info", deadline.Token);
            client.ServerInfo = (JsonObject)info["message"]!["payload"]!;
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException or E2eeChannelException)
        {
            await client.DisposeAsync();
            throw new DaemonUnreachableException($"the daemon at {target} did not answer the hello");
        }
        return client;
    }

    private static async Task<DaemonClient> ConnectDirectAsync(DaemonTarget target, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        Uri uri;
        HttpMessageInvoker? invoker = null;
        switch (target)
        {
            case DaemonTarget.Tcp tcp:
                uri = new Uri($"{(tcp.Tls ? "wss" : "ws")}://{tcp}/ws");
                if (tcp.Password is { Length: > 0 } password)
                {
                    socket.Options.AddSubProtocol($"paseo.bearer.{password}");
                    socket.Options.SetRequestHeader("Authorization", $"Bearer {password}");
                }
                break;
            case DaemonTarget.Unix unix:
                uri = new Uri("ws://localhost/ws");
                invoker = new HttpMessageInvoker(new SocketsHttpHandler
                {
                    ConnectCallback = async (_, ct) =>
                    {
                        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                        await s.ConnectAsync(new UnixDomainSocketEndPoint(unix.Path), ct);
                        return new NetworkStream(s, ownsSocket: true);
                    },
                });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(target));
        }
        await socket.ConnectAsync(uri, invoker, cancellationToken);
        var transport = new WebSocketFrameTransport(socket, 64 * 1024 * 1024, 256, 256);
        var incoming = Channel.CreateUnbounded<string>();
        _ = Task.Run(async () =>
        {
            await foreach (var frame in transport.Inbound.ReadAllAsync())
                if (frame is WireFrame.Text text) await incoming.Writer.WriteAsync(text.Value);
            incoming.Writer.TryComplete();
        });
        return new DaemonClient(
            async text => await transport.Outbound.WriteAsync(new WireFrame.Text(text)),
            incoming.Reader,
            async () =>
            {
                transport.Close(CloseCodes.Normal, "");
                await transport.DisposeAsync();
                invoker?.Dispose();
            });
    }

    private static async Task<DaemonClient> ConnectRelayAsync(DaemonTarget.Relay relay, CancellationToken cancellationToken)
    {
        var offer = relay.Offer;
        var tls = offer.RelayUseTls ?? offer.RelayEndpoint == "relay.paseo.sh:443";
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"{(tls ? "wss" : "ws")}://{offer.RelayEndpoint}/ws?serverId={Uri.EscapeDataString(offer.ServerId)}&role=client&v=2"), cancellationToken);
        var transport = new WebSocketFrameTransport(socket, 64 * 1024 * 1024, 256, 256);
        var channel = E2eeClientChannel.Start(transport, offer.DaemonPublicKeyB64);
        var incoming = Channel.CreateUnbounded<string>();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in channel.Messages.ReadAllAsync())
                    if (message.IsText) await incoming.Writer.WriteAsync(message.Text);
                incoming.Writer.TryComplete();
            }
            catch (E2eeChannelException e)
            {
                incoming.Writer.TryComplete(e);
            }
        });
        return new DaemonClient(text => channel.SendTextAsync(text), incoming.Reader, async () => await channel.DisposeAsync());
    }

    /// <summary>Sends a session request and returns the payload of the reply with its requestId; rpc_error throws.</summary>
    public async Task<JsonObject> RequestAsync(string type, JsonObject? fields, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var requestId = Guid.NewGuid().ToString("D");
        var message = new JsonObject { ["type"] = type, ["requestId"] = requestId };
        if (fields is not null) foreach (var (k, v) in fields) message[k] = v?.DeepClone();
        await _send(new JsonObject { ["type"] = "session", ["message"] = message }.ToJsonString());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        JsonObject reply;
        try
        {
            reply = await NextAsync(f => f["message"]?["payload"]?["requestId"] is JsonValue id && id.TryGetValue<string>(out var r) && r == requestId, deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new DaemonRequestException("TIMEOUT", $"the daemon did not answer {type} within {timeout.TotalSeconds:0} s");
        }
        var payload = (JsonObject)reply["message"]!["payload"]!;
        if (reply["message"]!["type"]!.GetValue<string>() == "rpc_error")
            throw new DaemonRequestException(WsInbound.Str(payload, "code") ?? "RPC_ERROR", WsInbound.Str(payload, "error") ?? "request failed");
        return payload;
    }

    private async Task<JsonObject> NextAsync(Func<JsonObject, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            var text = await _incoming.ReadAsync(cancellationToken);
            if (JsonNode.Parse(text) is not JsonObject frame) continue;
            if (predicate(frame)) return frame;
            _pushes.Add(frame);
            if (_pushes.Count > 1000) _pushes.RemoveAt(0);
        }
    }

    public ValueTask DisposeAsync() => _close();
}
