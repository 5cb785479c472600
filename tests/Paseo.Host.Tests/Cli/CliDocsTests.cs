using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Paseo.Host.Tests.Support;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// docs/cli.md is a walk-through: every line of its ```sh blocks runs here, in order, through /bin/sh with the built `paseo` on
/// PATH, against the daemon and relay the walk-through itself starts. `# exit 1` lines must fail with 1, `# until Ctrl-C` lines
/// must print and then exit 0 on SIGINT, `# background` lines run until the end. `name=$(…)` lines keep their output for later lines.
/// </summary>
public sealed partial class CliDocsTests(ITestOutputHelper log)
{
    private static readonly string[] OwnVariables = ["PASEO_HOME", "PASEO_LISTEN", "PASEO_RELAY_ENDPOINT"];

    [GeneratedRegex(@"^(?<command>.*?)\s+#\s*(?<marker>exit 1|until Ctrl-C|background)\s*$")]
    private static partial Regex Marker();

    [GeneratedRegex(@"^(?<name>[A-Za-z_][A-Za-z0-9_]*)=\$\((?<command>.*)\)$")]
    private static partial Regex Capture();

    private static string DocsPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "docs", "cli.md");
    }

    private static IEnumerable<string> ExampleLines()
    {
        var inBlock = false;
        foreach (var raw in File.ReadAllLines(DocsPath()))
        {
            if (raw.StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock && raw.Trim() == "```sh";
                continue;
            }
            if (inBlock && raw.Trim() is { Length: > 0 } line && !line.StartsWith('#')) yield return line;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [SkippableFact]
    public async Task Every_example_in_docs_cli_md_runs_as_documented()
    {
        // The walk-through makes worktrees (git) and terminals (tmux).
        GitRepos.Require();
        TerminalSupport.Require();
        using var home = new TestHome();
        var env = PaseoBinary.CleanEnvironment(home);
        env["PATH"] = Path.GetDirectoryName(PaseoBinary.Path) + ":" + env["PATH"];
        env["PASEO_LISTEN"] = $"127.0.0.1:{FreePort()}";
        env["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{FreePort()}";
        var work = home.PathIn("work");
        Directory.CreateDirectory(work);
        var background = new List<Process>();
        var commandsSeen = new HashSet<string>();
        try
        {
            foreach (var line in ExampleLines())
            {
                var export = Regex.Match(line, @"^export (\w+)=(.*)$");
                if (export.Success)
                {
                    if (!OwnVariables.Contains(export.Groups[1].Value)) env[export.Groups[1].Value] = export.Groups[2].Value.Trim('"', '\'');
                    continue;
                }
                var marked = Marker().Match(line);
                var command = marked.Success ? marked.Groups["command"].Value : line;
                var marker = marked.Success ? marked.Groups["marker"].Value : null;
                var words = Regex.Matches(command, @"paseo ((agent|daemon|relay|permit|provider|terminal|chat|schedule|loop) )?([a-z-]+)").Select(m => m.Value);
                foreach (var word in words) commandsSeen.Add(word);
                log.WriteLine($"$ {line}");

                if (marker is "until Ctrl-C" or "background")
                {
                    var process = Start(env, work, "exec " + command);
                    await FirstOutputAsync(process, line);
                    if (marker == "background")
                    {
                        background.Add(process);
                        continue;
                    }
                    Signals.Send(process.Id, 2);
                    await WaitAsync(process, line);
                    Assert.True(process.ExitCode == 0, $"{line}: exit {process.ExitCode} after Ctrl-C");
                    continue;
                }

                var capture = Capture().Match(command);
                var (exitCode, stdout, stderr) = await RunAsync(env, work, capture.Success ? capture.Groups["command"].Value : command);
                log.WriteLine(stdout + stderr);
                var expected = marker == "exit 1" ? 1 : 0;
                Assert.True(exitCode == expected, $"{line}: exit {exitCode}, expected {expected}\n{stdout}{stderr}");
                if (capture.Success) env[capture.Groups["name"].Value] = stdout.Trim();
            }

            // The page shows every command of the CLI.
            string[] every =
            [
                "paseo relay start", "paseo daemon start", "paseo daemon status", "paseo status", "paseo daemon pair", "paseo daemon restart",
                "paseo daemon set-password", "paseo daemon stop", "paseo provider ls", "paseo provider models", "paseo run", "paseo ls",
                "paseo agent ls", "paseo inspect", "paseo logs", "paseo send", "paseo wait", "paseo attach", "paseo stop", "paseo archive",
                "paseo delete", "paseo permit ls", "paseo permit allow", "paseo permit deny", "paseo agent mode",
                "paseo terminal create", "paseo terminal ls", "paseo terminal send-keys", "paseo terminal capture", "paseo terminal kill",
                "paseo chat create", "paseo chat post", "paseo chat read", "paseo chat ls", "paseo chat inspect", "paseo chat wait", "paseo chat delete",
                "paseo schedule create", "paseo schedule ls", "paseo schedule inspect", "paseo schedule pause", "paseo schedule resume",
                "paseo schedule logs", "paseo schedule delete",
                "paseo loop run", "paseo loop logs", "paseo loop ls", "paseo loop inspect", "paseo loop stop",
            ];
            Assert.Empty(every.Except(commandsSeen));
        }
        finally
        {
            foreach (var process in background)
            {
                if (!process.HasExited) Signals.Send(process.Id, 2);
                await WaitAsync(process, "a background example");
                process.Dispose();
            }
            await PaseoBinary.RunAsync(env, "daemon", "stop", "--force", "--timeout", "5");
        }
    }

    private static Process Start(Dictionary<string, string?> env, string work, string script)
    {
        var psi = PaseoBinary.StartInfo(["-c", script], env, program: "/bin/sh");
        psi.WorkingDirectory = work;
        var process = Process.Start(psi)!;
        process.StandardInput.Close();
        return process;
    }

    private static async Task<(int, string, string)> RunAsync(Dictionary<string, string?> env, string work, string script)
    {
        using var process = Start(env, work, script);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await WaitAsync(process, script);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static async Task WaitAsync(Process process, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{what} did not finish within 60 s");
        }
    }

    /// <summary>A long-running example is live once it printed its first line (stdout or stderr); both streams keep draining.</summary>
    private static async Task FirstOutputAsync(Process process, string what)
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Drain(StreamReader reader)
        {
            while (await reader.ReadLineAsync() is not null) first.TrySetResult();
        }
        var drains = Task.WhenAll(Drain(process.StandardOutput), Drain(process.StandardError));
        var done = await Task.WhenAny(first.Task, drains).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(done == first.Task, $"{what} ended without printing");
    }
}
