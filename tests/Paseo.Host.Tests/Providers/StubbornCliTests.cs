using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.Providers;

/// <summary>
/// A CLI that ignores SIGTERM (tests/standins/fake-claude.mjs with FAKE_CLAUDE_IGNORE_SIGTERM) is deleted while 20 other
/// agents stream: stopping it waits on no actor's thread, so their streams go on without a gap; it is SIGKILLed after
/// kill-grace; and one still running when the daemon stops does not outlive the daemon.
/// </summary>
public sealed class StubbornCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Streamers = 20;
    // Long enough that a `paseo delete` process (its own start-up included) on a loaded 2-core machine answers well within it.
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);
    // A chunk every 10 ms per agent: a gap of a second is a stalled stream.
    private static readonly TimeSpan GapBound = TimeSpan.FromSeconds(1);

    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-claude-stubborn-{Guid.NewGuid():N}.jsonl");
    private CliTarget _cli = null!;

    public async Task InitializeAsync() =>
        _cli = await CliTarget.StartAsync("tcp", ClaudeProviderTests.Config(
                ("stubborn", new JsonObject
                {
                    ["extends"] = "claude", ["label"] = "Ignores SIGTERM", ["command"] = new JsonArray("node", ClaudeProviderTests.StandIn),
                    ["env"] = new JsonObject { ["IS_SANDBOX"] = "1", ["FAKE_CLAUDE_IGNORE_SIGTERM"] = "1" },
                })),
            $"paseo.providers.kill-grace = {KillGrace.TotalSeconds}s\n",
            new Dictionary<string, string> { ["FAKE_CLAUDE_LOG"] = _log });

    public async Task DisposeAsync()
    {
        await _cli.DisposeAsync();
        File.Delete(_log);
    }

    private int PidOf(string agentId) => StandIns.Starts(_log).Single(s => s["agentId"]!.GetValue<string>() == agentId)["pid"]!.GetValue<int>();

    [Fact]
    public async Task A_cli_that_ignores_sigterm_is_deleted_while_20_agents_stream_without_a_gap_and_none_outlives_the_daemon()
    {
        // A watcher that notes when each streamed chunk arrives, per agent.
        var arrivals = new ConcurrentDictionary<string, ConcurrentQueue<DateTimeOffset>>();
        using var watcher = new ClientWebSocket();
        await watcher.ConnectAsync(new Uri($"ws://{_cli.Host}/ws"), CancellationToken.None);
        await watcher.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"hello\",\"clientId\":\"watcher\",\"clientType\":\"cli\",\"protocolVersion\":1}"),
            WebSocketMessageType.Text, true, CancellationToken.None);
        using var stopWatching = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            var buffer = new byte[1 << 16];
            var message = new MemoryStream();
            while (!stopWatching.IsCancellationRequested)
            {
                WebSocketReceiveResult result;
                try
                {
                    result = await watcher.ReceiveAsync(buffer, stopWatching.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                message.SetLength(0);
                if (!text.Contains("\"agent_stream\"", StringComparison.Ordinal) || !text.Contains("\"assistant_message\"", StringComparison.Ordinal)) continue;
                var payload = JsonNode.Parse(text)!["message"]!["payload"]!;
                arrivals.GetOrAdd(payload["agentId"]!.GetValue<string>(), _ => new()).Enqueue(DateTimeOffset.UtcNow);
            }
        });

        var stubborn = (await _cli.Json("run", "-d", "[hang]", "--provider", "stubborn", "--title", "stubborn", "--cwd", _cli.Work))["agentId"]!.GetValue<string>();
        var survivor = (await _cli.Json("run", "-d", "[hang]", "--provider", "stubborn", "--title", "survivor", "--cwd", _cli.Work))["agentId"]!.GetValue<string>();
        var streamers = new List<string>();
        for (var i = 0; i < Streamers; i++)
            streamers.Add((await _cli.Json("run", "-d", "[stream 100 180]", "--provider", "mock", "--title", $"s{i}", "--cwd", _cli.Work))["agentId"]!.GetValue<string>());
        await Eventually.HoldsAsync(() => streamers.All(arrivals.ContainsKey) && StandIns.Starts(_log).Count == 2, "every agent to stream and both stubborn CLIs to run");
        var stubbornPid = PidOf(stubborn);
        var survivorPid = PidOf(survivor);

        var deleting = DateTimeOffset.UtcNow;
        var took = Stopwatch.StartNew();
        await _cli.Ok("delete", "stubborn");
        took.Stop();
        // The CLI ignored SIGTERM: it is still there, and the delete did not wait for it.
        Assert.True(ProcessLiveness.IsAlive(stubbornPid), "the stand-in should ignore SIGTERM");
        Assert.True(took.Elapsed < KillGrace, $"paseo delete took {took.ElapsedMilliseconds} ms: it waited for the process");
        await Eventually.HoldsAsync(() => !ProcessLiveness.IsAlive(stubbornPid), "the stubborn CLI to be killed after kill-grace", KillGrace + TimeSpan.FromSeconds(5));
        var killed = DateTimeOffset.UtcNow;
        output.WriteLine($"delete answered in {took.ElapsedMilliseconds} ms; the CLI was gone {(killed - deleting).TotalMilliseconds:0} ms after the delete");
        Assert.True(killed - deleting >= KillGrace - TimeSpan.FromMilliseconds(200), "the CLI should have had its kill-grace after SIGTERM");

        // Every stream goes on past the kill: from just before the delete to after it, no gap above the bound.
        await Eventually.HoldsAsync(() => streamers.All(s => arrivals[s].Any(t => t > killed.AddMilliseconds(200))), "every stream to go on after the kill");
        await stopWatching.CancelAsync();
        await watching;
        foreach (var streamer in streamers)
        {
            var times = arrivals[streamer].Where(t => t >= deleting.AddMilliseconds(-500)).OrderBy(t => t).ToList();
            var gap = times.Zip(times.Skip(1), (a, b) => b - a).Max();
            Assert.True(gap < GapBound, $"agent {streamer}'s stream stalled for {gap.TotalMilliseconds:0} ms around the delete");
        }

        // The other stubborn CLI is still running when the daemon stops: the daemon's shutdown waits for it (SIGKILL).
        Assert.True(ProcessLiveness.IsAlive(survivorPid));
        await _cli.StopDaemonAsync();
        Assert.False(ProcessLiveness.IsAlive(survivorPid), $"the stubborn CLI {survivorPid} outlived the daemon");
    }
}
