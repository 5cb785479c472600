using System.Net;
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

/// <summary>The daemon closed the WebSocket (with its close code and reason).</summary>
public sealed class DaemonClosedException(int code, string reason) : Exception($"closed by the daemon: {code} {reason}")
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
}

/// <summary>The daemon cannot be reached or did not say hello back.</summary>
public sealed class DaemonUnreachableException(string message, string code = "DAEMON_NOT_RUNNING") : Exception(message)
{
    /// <summary>DAEMON_NOT_RUNNING; UNAUTHORIZED / FORBIDDEN when a daemon answered but refused the upgrade; TLS_ERROR.</summary>
    public string Code { get; } = code;
}

/// <summary>
/// The CLI's connection to a daemon, directly (TCP, unix socket) or through a relay with end-to-end encryption: hello →
/// server_info, then requests answered by requestId. Uses only Paseo.Transport: no actor system, so the CLI starts fast.
/// </summary>
public sealed class DaemonClient : IAsyncDisposable
{
    private readonly Func<string, ValueTask> _send;
    private readonly ChannelReader<string> _incoming;
    private readonly Func<ValueTask> _close;
    private readonly Dictionary<string, (TaskCompletionSource<JsonObject> Reply, string? ResponseType)> _waiting = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<JsonObject> _serverInfo = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<JsonObject> _pushes = Channel.CreateBounded<JsonObject>(new BoundedChannelOptions(PushBacklog)
    {
        FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true,
    });
    private const int PushBacklog = 4096;
    // Frames read off the socket but not yet dispatched; a full queue stops reading the socket (back-pressure, not loss).
    private const int IncomingBacklog = 1024;

    public JsonObject ServerInfo { get; private set; } = null!;

    private DaemonClient(Func<string, ValueTask> send, ChannelReader<string> incoming, Func<ValueTask> close)
    {
        _send = send;
        _incoming = incoming;
        _close = close;
        _ = DispatchAsync();
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
        catch (WebSocketUpgradeException e) when (e.Status is 401 or 403)
        {
            throw new DaemonUnreachableException(e.Status == 401
                ? $"the daemon at {target} refused the connection: wrong or missing password (tcp://host:port?password=…)"
                : $"the daemon at {target} refused the connection: {e.Message}", e.Status == 401 ? "UNAUTHORIZED" : "FORBIDDEN");
        }
        catch (System.Security.Authentication.AuthenticationException e)
        {
            throw new DaemonUnreachableException($"the TLS connection to {target} failed: {e.GetBaseException().Message}", "TLS_ERROR");
        }
        catch (Exception e) when (e is WebSocketException or WebSocketUpgradeException or IOException or FormatException or SocketException or OperationCanceledException or E2eeChannelException)
        {
            throw new DaemonUnreachableException($"cannot connect to the daemon at {target}: {e.GetBaseException().Message}");
        }
        try
        {
            await client._send(new JsonObject
            {
                ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = "cli", ["protocolVersion"] = 1,
                ["capabilities"] = new JsonObject { ["reasoning_merge_enum"] = true }, ["appVersion"] = appVersion,
            }.ToJsonString());
            client.ServerInfo = await client._serverInfo.Task.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException or E2eeChannelException)
        {
            var cause = e.InnerException;
            if (cause is not DaemonClosedException)
            {
                // The hello's send can fail before the reader has seen the close frame: the reader's verdict says why.
                try
                {
                    await client._serverInfo.Task.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None);
                }
                catch (Exception late)
                {
                    cause = late.InnerException ?? cause;
                }
            }
            await client.DisposeAsync();
            // A password-protected daemon accepts the upgrade and then closes with 4401 when the password is wrong or missing.
            if (cause is DaemonClosedException { Code: CloseCodes.Unauthorized })
                throw new DaemonUnreachableException($"the daemon at {target} refused the connection: wrong or missing password (tcp://host:port?password=…)", "UNAUTHORIZED");
            var why = cause is DaemonClosedException closed ? $": it closed the connection ({closed.Code} {closed.Reason})" : "";
            throw new DaemonUnreachableException($"the daemon at {target} did not answer the hello{why}");
        }
        return client;
    }

    private static async Task<DaemonClient> ConnectDirectAsync(DaemonTarget target, CancellationToken cancellationToken)
    {
        WebSocket socket;
        switch (target)
        {
            case DaemonTarget.Tcp tcp:
                var headers = new List<(string, string)>();
                string? subProtocol = null;
                if (tcp.Password is { Length: > 0 } password)
                {
                    subProtocol = $"paseo.bearer.{password}";
                    headers.Add(("Authorization", $"Bearer {password}"));
                }
                socket = await WebSocketHandshake.ConnectAsync(EndPointOf(tcp.Host, tcp.Port), tcp.ToString(), "/ws", tcp.Tls, headers, subProtocol, cancellationToken);
                break;
            case DaemonTarget.Unix unix:
                socket = await WebSocketHandshake.ConnectAsync(new UnixDomainSocketEndPoint(unix.Path), "localhost", "/ws", false, [], null, cancellationToken);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(target));
        }
        var transport = new WebSocketFrameTransport(socket, 64 * 1024 * 1024, 256, 256);
        var incoming = Channel.CreateBounded<string>(IncomingBacklog);
        _ = Task.Run(async () =>
        {
            await foreach (var frame in transport.Inbound.ReadAllAsync())
                if (frame is WireFrame.Text text) await incoming.Writer.WriteAsync(text.Value);
            var closure = await transport.Closed;
            incoming.Writer.TryComplete(closure.ByPeer ? new DaemonClosedException(closure.Code, closure.Reason) : null);
        });
        return new DaemonClient(
            async text => await transport.Outbound.WriteAsync(new WireFrame.Text(text)),
            incoming.Reader,
            async () =>
            {
                transport.Close(CloseCodes.Normal, "");
                await transport.DisposeAsync();
            });
    }

    private static async Task<DaemonClient> ConnectRelayAsync(DaemonTarget.Relay relay, CancellationToken cancellationToken)
    {
        var offer = relay.Offer;
        // The same rule as the daemon's tunnel: the offer's relay.useTls when present, else TLS on port 443.
        var tls = offer.RelayUseTls ?? offer.RelayEndpoint.EndsWith(":443", StringComparison.Ordinal);
        var (host, port) = SplitEndpoint(offer.RelayEndpoint);
        var socket = await WebSocketHandshake.ConnectAsync(EndPointOf(host, port), offer.RelayEndpoint,
            $"/ws?serverId={Uri.EscapeDataString(offer.ServerId)}&role=client&v=2", tls, [], null, cancellationToken);
        var transport = new WebSocketFrameTransport(socket, 64 * 1024 * 1024, 256, 256);
        var channel = E2eeClientChannel.Start(transport, offer.DaemonPublicKeyB64);
        var incoming = Channel.CreateBounded<string>(IncomingBacklog);
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

    private static EndPoint EndPointOf(string host, int port) =>
        IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);

    private static (string Host, int Port) SplitEndpoint(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], out var port)) throw new FormatException($"relay endpoint {endpoint}: expected host:port");
        return (endpoint[..colon].Trim('[', ']'), port);
    }

    /// <summary>
    /// Sends a session request and returns the payload of the first message that carries its requestId; rpc_error throws.
    /// <paramref name="requestId"/> is for messages whose id is not the client's (agent_permission_response uses the permission's).
    /// </summary>
    /// <para>
    /// <paramref name="responseType"/>: the reply's type when other messages carry the same requestId first (Paseo sends
    /// agent_deleted with the requestId of the worktree archive that deleted the agent); those go to <see cref="Pushes"/>.
    /// </para>
    public async Task<JsonObject> RequestAsync(string type, JsonObject? fields, TimeSpan timeout, CancellationToken cancellationToken = default, string? requestId = null,
        string? responseType = null)
    {
        requestId ??= Guid.NewGuid().ToString("D");
        var message = new JsonObject { ["type"] = type, ["requestId"] = requestId };
        if (fields is not null) foreach (var (k, v) in fields) message[k] = v?.DeepClone();
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiting) _waiting[requestId] = (reply, responseType);
        try
        {
            await _send(new JsonObject { ["type"] = "session", ["message"] = message }.ToJsonString());
            JsonObject frame;
            try
            {
                frame = await reply.Task.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new DaemonRequestException("TIMEOUT", $"the daemon did not answer {type} within {timeout.TotalSeconds:0} s");
            }
            catch (ChannelClosedException)
            {
                throw new DaemonRequestException("CONNECTION_LOST", $"the connection to the daemon closed before it answered {type}");
            }
            var payload = (JsonObject)frame["message"]!["payload"]!;
            if (frame["message"]!["type"]!.GetValue<string>() == "rpc_error")
                throw new DaemonRequestException(WsInbound.Str(payload, "code") ?? "RPC_ERROR", WsInbound.Str(payload, "error") ?? "request failed");
            return payload;
        }
        finally
        {
            lock (_waiting) _waiting.Remove(requestId);
        }
    }

    /// <summary>Sends a session message that has no reply (agent_permission_response).</summary>
    public ValueTask SendAsync(string type, JsonObject fields)
    {
        var message = new JsonObject { ["type"] = type };
        foreach (var (k, v) in fields) message[k] = v?.DeepClone();
        return _send(new JsonObject { ["type"] = "session", ["message"] = message }.ToJsonString());
    }

    /// <summary>
    /// Session messages nobody asked for (agent_stream, agent_update, ...), oldest first: `message` of each frame. Bounded: a
    /// reader that falls behind loses the oldest, which is fine for a CLI that only follows one agent's stream.
    /// </summary>
    public ChannelReader<JsonObject> Pushes => _pushes.Reader;

    /// <summary>The only reader of the connection: replies go to their request, server_info to the hello, the rest to <see cref="Pushes"/>.</summary>
    private async Task DispatchAsync()
    {
        Exception? failure = null;
        try
        {
            await foreach (var text in _incoming.ReadAllAsync())
            {
                JsonObject? frame;
                try
                {
                    frame = JsonNode.Parse(text) as JsonObject;
                }
                catch (System.Text.Json.JsonException)
                {
                    continue;
                }
                if (frame?["message"] is not JsonObject message) continue;
                if (message["payload"] is JsonObject payload)
                {
                    if (WsInbound.Str(payload, "requestId") is { } requestId)
                    {
                        (TaskCompletionSource<JsonObject> Reply, string? ResponseType) waiter;
                        bool waiting;
                        lock (_waiting) waiting = _waiting.TryGetValue(requestId, out waiter);
                        var messageType = WsInbound.Str(message, "type");
                        if (waiting && (waiter.ResponseType is null || messageType == waiter.ResponseType || messageType is "rpc_error" or "status"))
                        {
                            waiter.Reply.TrySetResult(frame);
                            continue;
                        }
                    }
                    if (WsInbound.Str(payload, "status") == "server_info")
                    {
                        _serverInfo.TrySetResult(payload);
                        continue;
                    }
                }
                _pushes.Writer.TryWrite(message);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        var closed = new ChannelClosedException("the connection to the daemon closed", failure);
        _serverInfo.TrySetException(closed);
        lock (_waiting) foreach (var waiter in _waiting.Values) waiter.Reply.TrySetException(closed);
        _pushes.Writer.TryComplete(failure);
    }

    public ValueTask DisposeAsync() => _close();
}
