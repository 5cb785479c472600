using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Paseo.Host.Tests.Support;

/// <summary>
/// A raw application-protocol client over a real WebSocket: sends JSON text, and lets a test await the frames it wants
/// (by requestId, type or predicate) while remembering every frame it received. It parses nothing into our own types:
/// conformance is checked on the JSON itself.
/// </summary>
public sealed class ProtocolClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonObject> _frames = Channel.CreateUnbounded<JsonObject>();
    private readonly List<JsonObject> _pending = [];
    private readonly Task _receiving;

    private readonly List<JsonObject> _received = [];

    /// <summary>A copy of every frame received so far, in order (the receive loop keeps adding).</summary>
    public List<JsonObject> Received
    {
        get { lock (_received) return [.. _received]; }
    }
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseReason => _socket.CloseStatusDescription;
    public Task Closed => _receiving;

    private ProtocolClient(ClientWebSocket socket)
    {
        _socket = socket;
        _receiving = Task.Run(ReceiveLoopAsync);
    }

    public static async Task<ProtocolClient> ConnectAsync(InProcessDaemon daemon) => new(await daemon.ConnectAsync());

    /// <summary>Connects to a daemon running as a process (no password), by its TCP listen address.</summary>
    public static async Task<ProtocolClient> ConnectAsync(Uri webSocketUri)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(webSocketUri, CancellationToken.None);
        return new ProtocolClient(socket);
    }

    /// <summary>Connects and says hello; returns the server_info payload.</summary>
    public static async Task<(ProtocolClient Client, JsonObject ServerInfo)> ConnectWithHelloAsync(InProcessDaemon daemon, string? clientId = null, bool reasoningMerge = true,
        string clientType = "cli")
    {
        var client = await ConnectAsync(daemon);
        var info = await client.HelloAsync(clientId ?? "cid_" + Guid.NewGuid().ToString("N"), reasoningMerge, clientType);
        return (client, info);
    }

    public async Task<JsonObject> HelloAsync(string clientId, bool reasoningMerge = true, string clientType = "cli")
    {
        await SendAsync(new JsonObject
        {
            ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = clientType, ["protocolVersion"] = 1,
            ["appVersion"] = "0.1.65-beta.5", ["capabilities"] = new JsonObject { ["reasoning_merge_enum"] = reasoningMerge },
        });
        var frame = await ExpectAsync(f => Payload(f, "status") is { } p && p["status"]?.GetValue<string>() == "server_info");
        return Payload(frame, "status")!;
    }

    public Task SendAsync(JsonObject message) => SendTextAsync(message.ToJsonString());

    public Task SendTextAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Sends a binary WebSocket message (a terminal frame).</summary>
    public Task SendBinaryAsync(byte[] frame) => _socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>Sends `{"type":"session","message":{type, requestId, ...fields}}` and returns the requestId.</summary>
    public async Task<string> SendSessionAsync(string type, JsonObject? fields = null, string? requestId = null)
    {
        requestId ??= Guid.NewGuid().ToString("D");
        var message = new JsonObject { ["type"] = type, ["requestId"] = requestId };
        if (fields is not null) foreach (var (k, v) in fields) message[k] = v?.DeepClone();
        await SendAsync(new JsonObject { ["type"] = "session", ["message"] = message });
        return requestId;
    }

    /// <summary>Sends a request and returns the whole frame of the reply that carries its requestId.</summary>
    public async Task<JsonObject> RequestAsync(string type, JsonObject? fields = null)
    {
        var requestId = await SendSessionAsync(type, fields);
        return await ExpectAsync(f => f["message"]?["payload"]?["requestId"]?.GetValue<string>() == requestId);
    }

    /// <summary>The payload of a session frame of this message type, or null.</summary>
    public static JsonObject? Payload(JsonObject frame, string messageType) =>
        frame["type"]?.GetValue<string>() == "session" && frame["message"]?["type"]?.GetValue<string>() == messageType ? frame["message"]!["payload"] as JsonObject : null;

    public static string MessageType(JsonObject frame) => frame["message"]?["type"]?.GetValue<string>() ?? frame["type"]!.GetValue<string>();

    /// <summary>The next frame (in arrival order, skipping none already returned) matching the predicate.</summary>
    public async Task<JsonObject> ExpectAsync(Func<JsonObject, bool> predicate, TimeSpan? timeout = null)
    {
        var match = _pending.FirstOrDefault(predicate);
        if (match is not null)
        {
            _pending.Remove(match);
            return match;
        }
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            while (true)
            {
                var frame = await _frames.Reader.ReadAsync(cts.Token);
                if (predicate(frame)) return frame;
                _pending.Add(frame);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no matching frame; received: " + string.Join("\n", Received.TakeLast(10).Select(f => f.ToJsonString())));
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the socket closed ({CloseStatus} {CloseReason}) before a matching frame; received: " +
                                                string.Join("\n", Received.TakeLast(10).Select(f => f.ToJsonString())));
        }
    }

    private readonly System.Threading.Channels.Channel<byte[]> _binary = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();

    /// <summary>The next binary message from the daemon, in arrival order.</summary>
    public async Task<byte[]> NextBinaryAsync() => await _binary.Reader.ReadAsync().AsTask().WaitAsync(Timeout);

    public Task<JsonObject> ExpectSessionAsync(string messageType, Func<JsonObject, bool>? payloadPredicate = null, TimeSpan? timeout = null) =>
        ExpectAsync(f => Payload(f, messageType) is { } p && (payloadPredicate is null || payloadPredicate(p)), timeout);

    /// <summary>Waits for the server's close; returns its code and reason.</summary>
    public async Task<(int Code, string? Reason)> ExpectCloseAsync()
    {
        await _receiving.WaitAsync(Timeout);
        return ((int)_socket.CloseStatus!.Value, _socket.CloseStatusDescription);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Complete the close handshake, as a browser or Paseo's client does.
                    if (_socket.State == WebSocketState.CloseReceived)
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    // A binary frame (file transfer, terminal stream): kept apart from the JSON frames.
                    var bytes = message.ToArray();
                    message.SetLength(0);
                    await _binary.Writer.WriteAsync(bytes);
                    continue;
                }
                var frame = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(message.ToArray()))!;
                message.SetLength(0);
                lock (_received) _received.Add(frame);
                await _frames.Writer.WriteAsync(frame);
            }
        }
        catch (WebSocketException)
        {
            // Aborted by the peer.
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // Gone already.
            }
        }
        _socket.Dispose();
    }
}
