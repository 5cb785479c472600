using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Paseo.Bench;

/// <summary>
/// A raw WebSocket client of the daemon for the load drivers: any number of requests in flight, each reply matched by
/// its requestId (an rpc_error throws), the time each reply arrived, and every other frame counted as a push.
/// </summary>
internal sealed class BenchClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _waiting = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly ConditionalWeakTable<JsonObject, StrongBox<long>> Received = new();
    private Task _reader = Task.CompletedTask;
    private long _pushes;

    public long Pushes => Interlocked.Read(ref _pushes);

    /// <summary>When the reply <paramref name="payload"/> arrived (a <see cref="Stopwatch"/> timestamp).</summary>
    public static long AnsweredAt(JsonObject payload) => Received.TryGetValue(payload, out var at) ? at.Value : Stopwatch.GetTimestamp();

    /// <summary>Connects, says hello as <paramref name="clientType"/> and returns once server_info came.</summary>
    public static async Task<BenchClient> ConnectAsync(Uri uri, string clientId, string clientType = "cli")
    {
        var client = new BenchClient();
        await client._socket.ConnectAsync(uri, CancellationToken.None);
        client._reader = Task.Run(client.ReceiveAsync);
        await client.SendAsync(new JsonObject
        {
            ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = clientType, ["protocolVersion"] = 1, ["appVersion"] = "0.1.65",
        });
        await client._ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return client;
    }

    private Task SendAsync(JsonObject message) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);

    public async Task<JsonObject> RequestAsync(string type, JsonObject fields)
    {
        var requestId = Guid.NewGuid().ToString("N");
        fields["type"] = type;
        fields["requestId"] = requestId;
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[requestId] = reply;
        await SendAsync(new JsonObject { ["type"] = "session", ["message"] = fields });
        return await reply.Task.WaitAsync(TimeSpan.FromSeconds(120));
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4 << 20];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    count += result.Count;
                } while (!result.EndOfMessage);
                var at = Stopwatch.GetTimestamp();
                var message = JsonNode.Parse(buffer.AsSpan(0, count))?["message"];
                var payload = message?["payload"] as JsonObject;
                if (payload?["status"]?.GetValue<string>() == "server_info")
                {
                    _ready.TrySetResult();
                    continue;
                }
                var type = message?["type"]?.GetValue<string>();
                // agent_deleted carries the requestId of the archive that deleted the agent: a push, not the reply.
                if (payload?["requestId"]?.GetValue<string>() is { } id && type != "agent_deleted" && _waiting.TryRemove(id, out var waiting))
                {
                    Received.AddOrUpdate(payload, new StrongBox<long>(at));
                    if (type == "rpc_error") waiting.TrySetException(new InvalidOperationException(payload.ToJsonString()));
                    else waiting.TrySetResult(payload);
                }
                else Interlocked.Increment(ref _pushes);
            }
        }
        catch (WebSocketException)
        {
            // The daemon went away: the requests still waiting time out.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        await _reader;
        _socket.Dispose();
    }
}
