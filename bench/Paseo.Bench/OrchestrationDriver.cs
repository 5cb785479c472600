using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace Paseo.Bench;

/// <summary>
/// Issue #18's measures (`./build.sh bench orchestration [--only schedules|chat]`), each on a fresh real daemon:
/// - schedules: 1 000 schedules with a 1-minute interval (created over a few seconds, so their slots spread the way a
///   user's would), left for two and a half minutes: how late each run started after its slot (p50/p99/max), the
///   daemon's CPU over the window and its RSS before and after. Their target agent does not exist, so each run ends at
///   once ("Agent not found"): what is measured is the timers and the bookkeeping, not an agent's turn;
/// - chat: 100 rooms with 10 waiting `chat/wait`s each (100 clients, one per room), 10 rounds of one post per room: the
///   time from a post's send to each of its waiters' wake-up (p50/p99/max over 10 000 wake-ups).
/// </summary>
public static class OrchestrationDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        var only = Array.IndexOf(args, "--only") is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        if (only is null or "schedules") await SchedulesAsync(1000, TimeSpan.FromSeconds(150));
        if (only is null or "chat") await ChatAsync(100, 10, 10);
        return 0;
    }

    private static async Task SchedulesAsync(int count, TimeSpan window)
    {
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        await using var client = await Client.ConnectAsync(daemon.WebSocketUri, "cid_schedules");
        await Task.Delay(TimeSpan.FromSeconds(2));
        var rss0 = daemon.RssKiB();
        var ids = new List<string>();
        for (var n = 0; n < count; n++)
        {
            var reply = await client.RequestAsync("schedule/create", new JsonObject
            {
                ["prompt"] = $"tick {n}", ["cadence"] = new JsonObject { ["type"] = "every", ["everyMs"] = 60_000 },
                ["target"] = new JsonObject { ["type"] = "agent", ["agentId"] = "00000000-0000-4000-8000-000000000000" },
            });
            ids.Add(reply["schedule"]!["id"]!.GetValue<string>());
        }
        var cpu0 = daemon.CpuTime();
        var watch = Stopwatch.StartNew();
        await Task.Delay(window);
        var cpu = daemon.CpuTime() - cpu0;
        var elapsed = watch.Elapsed;
        var rss1 = daemon.RssKiB();
        var lateness = new List<double>();
        foreach (var id in ids)
        {
            var stored = await client.RequestAsync("schedule/inspect", new JsonObject { ["scheduleId"] = id });
            foreach (var run in stored["schedule"]!["runs"]!.AsArray())
                lateness.Add((Iso(run!["startedAt"]!) - Iso(run["scheduledFor"]!)).TotalMilliseconds);
        }
        lateness.Sort();
        Console.WriteLine($"schedules: {count} every minute, {elapsed.TotalSeconds:0} s: {lateness.Count} runs; start after the slot p50 {P(lateness, 0.5):0} ms, " +
                          $"p99 {P(lateness, 0.99):0} ms, max {lateness.LastOrDefault():0} ms; daemon CPU {cpu.TotalMilliseconds / elapsed.TotalMilliseconds * 100:0.00} % of a core; " +
                          $"RSS {rss0 / 1024} → {rss1 / 1024} MiB");
    }

    private static async Task ChatAsync(int rooms, int waitersPerRoom, int rounds)
    {
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        await using var poster = await Client.ConnectAsync(daemon.WebSocketUri, "cid_poster");
        var cursors = new string[rooms];
        for (var r = 0; r < rooms; r++)
        {
            await poster.RequestAsync("chat/create", new JsonObject { ["name"] = $"room-{r}" });
            cursors[r] = (await poster.RequestAsync("chat/post", new JsonObject { ["room"] = $"room-{r}", ["body"] = "start" }))["message"]!["id"]!.GetValue<string>();
        }
        var waiters = new List<Client>();
        for (var r = 0; r < rooms; r++) waiters.Add(await Client.ConnectAsync(daemon.WebSocketUri, $"cid_waiter_{r}"));
        var latencies = new ConcurrentBag<double>();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                // Every waiter waits after the room's newest message: a wait that reaches the room after the post is answered at once.
                var waits = new List<(int Room, Task<JsonObject> Reply)>();
                for (var r = 0; r < rooms; r++)
                    for (var w = 0; w < waitersPerRoom; w++)
                        waits.Add((r, waiters[r].RequestAsync("chat/wait", new JsonObject { ["room"] = $"room-{r}", ["afterMessageId"] = cursors[r], ["timeoutMs"] = 60_000 })));
                await Task.Delay(TimeSpan.FromSeconds(1)); // let the waits reach their rooms (a measurement, not a test)
                var sent = new long[rooms];
                for (var r = 0; r < rooms; r++)
                {
                    sent[r] = Stopwatch.GetTimestamp();
                    var posted = await poster.RequestAsync("chat/post", new JsonObject { ["room"] = $"room-{r}", ["body"] = $"round {round}" });
                    cursors[r] = posted["message"]!["id"]!.GetValue<string>();
                }
                foreach (var (room, reply) in waits)
                {
                    var answer = await reply;
                    var received = Client.AnsweredAt(answer);
                    latencies.Add(Stopwatch.GetElapsedTime(sent[room], received).TotalMilliseconds);
                }
            }
        }
        finally
        {
            foreach (var waiter in waiters) await waiter.DisposeAsync();
        }
        var sorted = latencies.Order().ToList();
        Console.WriteLine($"chat: {rooms} rooms × {waitersPerRoom} waiters, {rounds} rounds: post-to-wake p50 {P(sorted, 0.5):0.0} ms, p99 {P(sorted, 0.99):0.0} ms, " +
                          $"max {sorted.LastOrDefault():0.0} ms ({sorted.Count} wake-ups)");
    }

    private static DateTimeOffset Iso(JsonNode node) => DateTimeOffset.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture);

    private static double P(List<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    /// <summary>A WebSocket client with any number of requests in flight, each answered by requestId (its reply's receive time noted).</summary>
    private sealed class Client : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _pending = new();
        private static readonly ConditionalWeakTable<JsonObject, StrongBox<long>> Received = new();
        private Task _reader = Task.CompletedTask;

        public static long AnsweredAt(JsonObject payload) => Received.TryGetValue(payload, out var at) ? at.Value : Stopwatch.GetTimestamp();

        public static async Task<Client> ConnectAsync(Uri uri, string clientId)
        {
            var client = new Client();
            await client._socket.ConnectAsync(uri, CancellationToken.None);
            client._reader = Task.Run(client.ReadAsync);
            await client.SendAsync(new JsonObject { ["type"] = "hello", ["clientId"] = clientId, ["clientType"] = "cli", ["protocolVersion"] = 1 });
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
            _pending[requestId] = reply;
            await SendAsync(new JsonObject { ["type"] = "session", ["message"] = fields });
            return await reply.Task.WaitAsync(TimeSpan.FromSeconds(120));
        }

        private async Task ReadAsync()
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (true)
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
                    if (message?["payload"] is not JsonObject payload || payload["requestId"]?.GetValue<string>() is not { } requestId) continue;
                    if (!_pending.TryRemove(requestId, out var waiting)) continue;
                    Received.AddOrUpdate(payload, new StrongBox<long>(at));
                    if (message["type"]?.GetValue<string>() == "rpc_error") waiting.TrySetException(new InvalidOperationException(payload.ToJsonString()));
                    else waiting.TrySetResult(payload);
                }
            }
            catch (WebSocketException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
            catch (WebSocketException)
            {
            }
            await _reader;
            _socket.Dispose();
        }
    }
}
