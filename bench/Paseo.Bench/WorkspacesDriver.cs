using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Paseo.Bench;

/// <summary>
/// Workspaces load driver (issue #15): the real `paseo` daemon on loopback, a fresh home, real git repositories.
/// 1. fetch_workspaces with 200 workspaces (half git) answered while 10 mock agents stream: reply time p50/p99.
/// 2. checkout_status of a 50 000-file repository: first read, repeated reads, and with one file changed.
/// 3. memory per watched repository: the daemon's RSS before and after sessions watch 100 repositories (shallow: listed;
///    deep: a workspace screen open). Options: --workspaces N (200) --fetches N (300) --files N (50000) --rate R (200).
/// </summary>
public static class WorkspacesDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        var workspaces = Arg("--workspaces", 200);
        var fetches = Arg("--fetches", 300);
        var files = Arg("--files", 50_000);
        var rate = Arg("--rate", 200);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, {Git("--version", Environment.CurrentDirectory).Trim()}");
        await using var daemon = await FanoutDriver.Daemon.StartAsync();
        var work = Path.Combine(daemon.Home, "work");
        Directory.CreateDirectory(work);
        await using var phone = await BenchClient.ConnectAsync(daemon.WebSocketUri, "bench-phone", "mobile");

        // 1. 200 workspaces, half git, and 10 streaming agents.
        var directories = new List<string>();
        for (var i = 0; i < workspaces; i++)
        {
            var dir = Path.Combine(work, $"project-{i:D3}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "README.md"), $"project {i}\n");
            if (i % 2 == 0) InitRepo(dir);
            directories.Add(dir);
        }
        foreach (var dir in directories) await phone.RequestAsync("open_project_request", new JsonObject { ["cwd"] = dir });
        // 3 first, while nothing else runs: memory per watched repository, shallow (the listed git workspaces are observed
        // once a session subscribes) and deep (a workspace screen open: the working tree watched too).
        await Task.Delay(3000);
        var rssBefore = daemon.RssKiB();
        await phone.RequestAsync("fetch_workspaces_request", new JsonObject { ["subscribe"] = new JsonObject(), ["page"] = new JsonObject { ["limit"] = 200 } });
        await Task.Delay(5000);
        var rssShallow = daemon.RssKiB();
        var gitDirs = directories.Where((_, i) => i % 2 == 0).ToList();
        foreach (var dir in gitDirs) await phone.RequestAsync("checkout_status_request", new JsonObject { ["cwd"] = dir });
        await Task.Delay(5000);
        var rssDeep = daemon.RssKiB();
        Console.WriteLine($"memory: RSS {rssBefore / 1024.0:0.0} MiB with {workspaces} workspaces registered; {rssShallow / 1024.0:0.0} MiB once {gitDirs.Count} repositories are observed " +
                          $"(+{(rssShallow - rssBefore) / (double)gitDirs.Count:0} KiB each); {rssDeep / 1024.0:0.0} MiB with their working trees watched too " +
                          $"(+{(rssDeep - rssShallow) / (double)gitDirs.Count:0} KiB each)");

        for (var i = 0; i < 10; i++)
            await phone.RequestAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = directories[i] },
                ["initialPrompt"] = $"[stream {rate} 120] load {i}",
            });
        var times = new List<double>();
        for (var i = 0; i < fetches; i++)
        {
            var clock = Stopwatch.StartNew();
            var reply = await phone.RequestAsync("fetch_workspaces_request", new JsonObject
            {
                ["sort"] = new JsonArray(new JsonObject { ["key"] = "activity_at", ["direction"] = "desc" }), ["page"] = new JsonObject { ["limit"] = 200 },
            });
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (reply["entries"]!.AsArray().Count != Math.Min(200, workspaces)) throw new InvalidOperationException("a page is missing workspaces");
        }
        times.Sort();
        Console.WriteLine($"fetch_workspaces: {workspaces} workspaces ({workspaces / 2} git, observed), 10 agents streaming {rate} events/s each, {fetches} fetches of 200");
        Console.WriteLine($"  reply p50 {Percentile(times, 0.50):0.0} ms, p99 {Percentile(times, 0.99):0.0} ms, max {times[^1]:0.0} ms; frames pushed to the phone meanwhile: {phone.Pushes}");

        // 2. A 50 000-file repository.
        var big = Path.Combine(work, "big");
        Directory.CreateDirectory(big);
        for (var d = 0; d < files / 100; d++)
        {
            var sub = Path.Combine(big, $"dir-{d:D4}");
            Directory.CreateDirectory(sub);
            for (var f = 0; f < 100; f++) File.WriteAllText(Path.Combine(sub, $"file-{f:D3}.txt"), $"{d}/{f}\n");
        }
        var setup = Stopwatch.StartNew();
        InitRepo(big);
        Console.WriteLine($"checkout_status of a {files}-file repository (made and committed in {setup.Elapsed.TotalSeconds:0.0} s):");
        var first = Stopwatch.StartNew();
        var status = await phone.RequestAsync("checkout_status_request", new JsonObject { ["cwd"] = big });
        Console.WriteLine($"  first read {first.Elapsed.TotalMilliseconds:0} ms (isGit {status["isGit"]}, dirty {status["isDirty"]})");
        var repeated = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            var clock = Stopwatch.StartNew();
            await phone.RequestAsync("checkout_status_request", new JsonObject { ["cwd"] = big });
            repeated.Add(clock.Elapsed.TotalMilliseconds);
        }
        repeated.Sort();
        File.AppendAllText(Path.Combine(big, "dir-0000", "file-000.txt"), "changed\n");
        var dirty = Stopwatch.StartNew();
        var changed = await phone.RequestAsync("checkout_status_request", new JsonObject { ["cwd"] = big });
        Console.WriteLine($"  repeated reads p50 {Percentile(repeated, 0.5):0} ms, max {repeated[^1]:0} ms; after a change {dirty.Elapsed.TotalMilliseconds:0} ms (dirty {changed["isDirty"]})");
        Console.WriteLine($"  daemon RSS at the end {daemon.RssKiB() / 1024.0:0.0} MiB");
        return 0;
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static void InitRepo(string dir)
    {
        Git("init -q -b main", dir);
        Git("add -A", dir);
        Git("-c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false commit -q -m first", dir);
    }

    private static string Git(string args, string cwd)
    {
        var psi = new ProcessStartInfo("git", args) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"git {args}: {process.StandardError.ReadToEnd()}");
        return output;
    }
}
