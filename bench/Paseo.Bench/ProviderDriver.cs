using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Paseo.Bench;

/// <summary>
/// Provider output throughput (issue #6): for each provider, the real daemon runs an agent whose CLI is the test stand-in
/// (tests/standins/fake-*.mjs, the provider's own protocol) flooding N text deltas as fast as it can; one subscribed client
/// counts the agent_stream timeline events it receives until turn_completed. Reports deltas/s through the daemon, events/s
/// reaching the client (the daemon coalesces deltas that queue up) and the daemon's CPU time per 1 000 deltas.
/// Options: --deltas N (default 100000) --providers claude,codex,acp,opencode.
/// </summary>
public static class ProviderDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var deltas = int.Parse(Arg("--deltas", "100000"));
        var providers = Arg("--providers", "claude,codex,acp,opencode").Split(',');
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Paseo.sln"))) root = root.Parent;
        var standins = Path.Combine(root!.FullName, "tests", "standins");
        var config = new JsonObject
        {
            ["version"] = 1,
            ["agents"] = new JsonObject
            {
                ["providers"] = new JsonObject
                {
                    ["claude"] = new JsonObject { ["command"] = new JsonArray("node", Path.Combine(standins, "fake-claude.mjs")) },
                    ["codex"] = new JsonObject { ["command"] = new JsonArray("node", Path.Combine(standins, "fake-codex.mjs")) },
                    ["opencode"] = new JsonObject { ["command"] = new JsonArray("node", Path.Combine(standins, "fake-opencode.mjs")) },
                    ["acp"] = new JsonObject { ["extends"] = "acp", ["label"] = "ACP stand-in", ["command"] = new JsonArray("node", Path.Combine(standins, "fake-acp.mjs")) },
                },
            },
        }.ToJsonString();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; {deltas} deltas per run");
        foreach (var provider in providers)
        {
            await using var daemon = await FanoutDriver.Daemon.StartAsync(config);
            // A warm-up turn, so process start and JIT are not in the numbers.
            await RunTurnAsync(daemon, provider, 1000);
            var cpuBefore = daemon.CpuTime();
            var (events, elapsed) = await RunTurnAsync(daemon, provider, deltas);
            var cpu = daemon.CpuTime() - cpuBefore;
            Console.WriteLine($"{provider,-9} {deltas / elapsed.TotalSeconds,9:0} deltas/s through the daemon; {events,7} timeline events to the client ({events / elapsed.TotalSeconds:0}/s); " +
                              $"daemon CPU {cpu.TotalMilliseconds / (deltas / 1000.0):0.0} ms per 1 000 deltas; turn {elapsed.TotalSeconds:0.00} s");
        }
        return 0;
    }

    /// <summary>Creates an agent whose prompt floods N deltas; counts its timeline events until turn_completed.</summary>
    private static async Task<(long Events, TimeSpan Elapsed)> RunTurnAsync(FanoutDriver.Daemon daemon, string provider, int deltas)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(daemon.WebSocketUri, CancellationToken.None);
        async Task Send(JsonObject message) => await socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        await Send(new JsonObject { ["type"] = "hello", ["clientId"] = $"cid_bench_{Guid.NewGuid():N}", ["clientType"] = "cli", ["protocolVersion"] = 1 });
        var clock = Stopwatch.StartNew();
        await Send(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "create_agent_request", ["requestId"] = "create",
                ["config"] = new JsonObject { ["provider"] = provider, ["cwd"] = daemon.Home },
                ["initialPrompt"] = $"[flood {deltas}]",
            },
        });
        var buffer = new byte[1 << 20];
        var message = new MemoryStream();
        long events = 0;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, deadline.Token);
            if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"the daemon closed the socket: {socket.CloseStatusDescription}");
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage) continue;
            var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
            message.SetLength(0);
            if (!text.Contains("\"agent_stream\"", StringComparison.Ordinal)) continue;
            if (text.Contains("\"type\":\"timeline\"", StringComparison.Ordinal)) events++;
            else if (text.Contains("\"turn_completed\"", StringComparison.Ordinal)) break;
            else if (text.Contains("\"turn_failed\"", StringComparison.Ordinal)) throw new InvalidOperationException($"{provider}: the turn failed: {text}");
        }
        return (events, clock.Elapsed);
    }
}
