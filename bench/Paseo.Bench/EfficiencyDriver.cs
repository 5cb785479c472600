using System.Diagnostics;

namespace Paseo.Bench;

/// <summary>
/// The rows of issue #19's table for our side (`./build.sh bench efficiency [--only idle|deltas|relay|agents]`), each on a fresh
/// real daemon (and relay) on loopback:
/// - idle: the daemon's CPU with 0 and with 100 connected idle clients (hello + subscribing fetch_agents, then nothing),
///   over six 10 s windows after a minute's settle: mean and p90 of the windows, in % of one core;
/// - deltas: the daemon's CPU per 1 000 emitted deltas, one mock agent streaming 1 000 deltas/s for 30 s to 10 and to
///   100 clients, with the fan-out latency p50/p99 of every delivered delta;
/// - relay: the relay's (and daemon's) CPU per 1 000 encrypted ~1 KiB pings forwarded both ways, 100 phones;
/// - agents: live heap (after a full GC) and RSS per idle agent, 1 000 agents.
/// CPU is /proc/&lt;pid&gt;/stat's user + system time (10 ms ticks).
/// </summary>
public static class EfficiencyDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        var only = Array.IndexOf(args, "--only") is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var hocon = Array.IndexOf(args, "--hocon") is var h and >= 0 && h + 1 < args.Length ? args[h + 1] : null;
        FanoutDriver.Daemon.ExtraHocon = hocon;
        if (hocon is not null) Console.WriteLine($"paseo.hocon overrides: {hocon}");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        if (only is null or "idle")
        {
            await IdleAsync(0);
            await IdleAsync(100);
        }
        if (only is null or "deltas")
        {
            // PASEO_BENCH_DELTA_CLIENTS="1 10": other client counts (the fixed cost per row shows with 1).
            var counts = Environment.GetEnvironmentVariable("PASEO_BENCH_DELTA_CLIENTS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse) ?? [10, 100];
            foreach (var count in counts) await DeltasAsync(count, 1000, 30);
        }
        if (only is null or "relay")
            await RelayDriver.RelayRunAsync(100, 1000, 10);
        if (only is null or "agents")
            await IdleAgentsAsync(1000);
        return 0;
    }

    /// <summary>
    /// Memory per idle agent (created, provider session started, no prompt): the growth of the live heap, measured after a
    /// full GC (`dotnet-gcdump`, which forces one; ./build.sh installs it under bench/.tools), and of the RSS the OS sees.
    /// </summary>
    private static async Task IdleAgentsAsync(int count)
    {
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        var client = await FanoutDriver.Receiver.ConnectAsync(daemon.WebSocketUri, "cid_agents");
        await client.CreateIdleAgentAsync(daemon.Home, "warmup"); // JIT and first-use allocations are not per agent
        await Task.Delay(TimeSpan.FromSeconds(5));
        var rss0 = daemon.RssKiB();
        var heap0 = await LiveHeapBytesAsync(daemon.Pid);
        for (var i = 0; i < count; i++) await client.CreateIdleAgentAsync(daemon.Home, $"idle-{i}");
        await Task.Delay(TimeSpan.FromSeconds(10)); // settle: the agents' files written, their sessions opened
        var rss1 = daemon.RssKiB();
        var heap1 = await LiveHeapBytesAsync(daemon.Pid);
        Console.WriteLine($"idle agents: {count}: live heap after a full GC {heap0 / 1024} → {heap1 / 1024} KiB = {(heap1 - heap0) / 1024.0 / count:0.00} KiB per agent; " +
                          $"RSS {rss0 / 1024} → {rss1 / 1024} MiB = {(rss1 - rss0) / (double)count:0.0} KiB per agent");
        await client.DisposeAsync();
    }

    /// <summary>The process's live managed heap: `dotnet-gcdump collect` (a full, blocking GC first), then its report's total.</summary>
    private static async Task<long> LiveHeapBytesAsync(int pid)
    {
        var tool = Environment.GetEnvironmentVariable("PASEO_GCDUMP") ?? Path.Combine(Repository.Root, "bench", ".tools", "dotnet-gcdump");
        var dump = Path.Combine(Path.GetTempPath(), $"paseo-bench-{pid}-{Environment.TickCount64}.gcdump");
        try
        {
            await RunAsync(tool, "collect", "-p", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", dump);
            var report = await RunAsync(tool, "report", dump);
            var line = report.Split('\n').First(l => l.Contains("GC Heap bytes", StringComparison.Ordinal));
            return long.Parse(line.Trim().Split(' ')[0].Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            File.Delete(dump);
        }
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)}: {await stderr}");
        return await stdout;
    }

    private static async Task IdleAsync(int clientCount)
    {
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        var clients = new List<FanoutDriver.Receiver>();
        for (var i = 0; i < clientCount; i++) clients.Add(await FanoutDriver.Receiver.ConnectAsync(daemon.WebSocketUri, $"cid_idle_{i}"));
        // Settle: start-up work (tiered JIT, the thread pool retiring its extra threads, first GCs) takes about a minute and
        // is not idle cost.
        await Task.Delay(TimeSpan.FromSeconds(60));
        var windows = new List<double>();
        for (var w = 0; w < 6; w++)
        {
            var cpu = daemon.CpuTime();
            var watch = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(10));
            windows.Add((daemon.CpuTime() - cpu).TotalMilliseconds / watch.Elapsed.TotalMilliseconds * 100);
        }
        var sorted = windows.Order().ToList();
        Console.WriteLine($"idle: {clientCount,3} clients: daemon CPU mean {windows.Average():0.00} % of a core, p90 {sorted[(int)Math.Ceiling(0.9 * sorted.Count) - 1]:0.00} % " +
                          $"(10 s windows: {string.Join(" ", windows.Select(x => x.ToString("0.00")))}); RSS {daemon.RssKiB() / 1024} MiB");
        foreach (var client in clients) await client.DisposeAsync();
    }

    private static async Task DeltasAsync(int clientCount, int rate, int seconds)
    {
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        var clients = new List<FanoutDriver.Receiver>();
        for (var i = 0; i < clientCount; i++) clients.Add(await FanoutDriver.Receiver.ConnectAsync(daemon.WebSocketUri, $"cid_deltas_{i}"));
        await Task.Delay(TimeSpan.FromSeconds(2)); // settle
        var cpuBefore = daemon.CpuTime();
        await clients[0].StartStreamingAgentAsync(daemon.Home, rate, seconds);
        var expected = (long)rate / 100 * 100 * seconds;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
        while (!deadline.IsCancellationRequested && clients.Any(c => !c.Closed && c.Events < expected))
            await Task.Delay(100, CancellationToken.None);
        var cpu = daemon.CpuTime() - cpuBefore;
        var histogram = new long[FanoutDriver.Receiver.Buckets];
        foreach (var client in clients) for (var b = 0; b < histogram.Length; b++) histogram[b] += client.Histogram[b];
        var delivered = histogram.Sum();
        Console.WriteLine($"deltas: {clientCount,3} clients, {rate}/s for {seconds} s: daemon CPU {cpu.TotalMilliseconds / (expected / 1000.0):0.0} ms per 1 000 deltas " +
                          $"({cpu.TotalMilliseconds:0} ms for {expected}); delivered {delivered / (double)(expected * clientCount):P1}; " +
                          $"latency p50 {FanoutDriver.Percentile(histogram, 0.5)} ms, p99 {FanoutDriver.Percentile(histogram, 0.99)} ms; " +
                          $"{clients.Average(c => c.EventFrames) / seconds:0} frames/s per client");
        foreach (var client in clients) await client.DisposeAsync();
    }
}
