using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
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
        await using var client = await BenchClient.ConnectAsync(daemon.WebSocketUri, "cid_schedules");
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
        await using var poster = await BenchClient.ConnectAsync(daemon.WebSocketUri, "cid_poster");
        var cursors = new string[rooms];
        for (var r = 0; r < rooms; r++)
        {
            await poster.RequestAsync("chat/create", new JsonObject { ["name"] = $"room-{r}" });
            cursors[r] = (await poster.RequestAsync("chat/post", new JsonObject { ["room"] = $"room-{r}", ["body"] = "start" }))["message"]!["id"]!.GetValue<string>();
        }
        var waiters = new List<BenchClient>();
        for (var r = 0; r < rooms; r++) waiters.Add(await BenchClient.ConnectAsync(daemon.WebSocketUri, $"cid_waiter_{r}"));
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
                    var received = BenchClient.AnsweredAt(answer);
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
}
