using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using static Paseo.Host.Tests.Support.TerminalSupport;

namespace Paseo.Host.Tests.Terminals;

/// <summary>Terminals outlive the daemon: a restart finds them again; a stop ends them unless the user keeps them.</summary>
public sealed class TerminalLifecycleTests : IDisposable
{
    private readonly TestHome _home = new();

    private string Socket => Path.Combine(_home.Home.TerminalsDir, "tmux.sock");

    public void Dispose() => _home.Dispose();

    [SkippableFact]
    public async Task A_terminal_survives_a_daemon_restart_with_its_scrollback_and_its_process()
    {
        Require();
        var cwd = _home.PathIn("work");
        Directory.CreateDirectory(cwd);
        string id;
        await using (var first = await InProcessDaemon.StartAsync(existingHome: _home))
        {
            var (client, _) = await ProtocolClient.ConnectWithHelloAsync(first);
            await using var _ = client;
            id = (await CreateAsync(client, cwd, "long job", "sh", "-c", "seq 1 500; exec sleep 1000"))["id"]!.GetValue<string>();
            await Eventually.HoldsAsync(async () => (await CaptureAsync(client, id)).Contains("500"), "the 500 lines to be written");
            Assert.True(File.Exists(Socket));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_home.Home.TerminalsDir));
        }

        // The daemon is gone; the terminal is not.
        var pane = Tmux(Socket, "list-panes", "-a", "-F", "#{session_name} #{pane_pid}")!.Trim().Split(' ');
        Assert.Equal(id, pane[0]);
        var pid = int.Parse(pane[1]);
        Assert.Equal("sleep", File.ReadAllText($"/proc/{pid}/comm").Trim());

        await using var second = await InProcessDaemon.StartAsync(existingHome: _home);
        var (again, _) = await ProtocolClient.ConnectWithHelloAsync(second);
        await using var __ = again;
        var listed = ProtocolClient.Payload(await again.RequestAsync("list_terminals_request"), "list_terminals_response")!["terminals"]!.AsArray();
        var terminal = Assert.Single(listed);
        Assert.Equal((id, "long job"), (terminal!["id"]!.GetValue<string>(), terminal["name"]!.GetValue<string>()));
        var lines = await CaptureAsync(again, id);
        Assert.Equal(Enumerable.Range(1, 500).Select(n => n.ToString()), lines.Take(500));
        Assert.True(Directory.Exists($"/proc/{pid}"), "the terminal's process is still alive");

        // And it streams again: a snapshot of its screen after subscribing.
        var (_, snapshot) = await SubscribeAsync(again, id);
        Assert.Contains("500", snapshot["grid"]!.AsArray().Select(r => RowText(r!).TrimEnd()));
        Assert.True(snapshot["scrollback"]!.AsArray().Count >= 500 - 24);
    }

    [SkippableFact]
    public async Task The_paseo_cli_drives_terminals_a_restart_keeps_them_and_a_forced_stop_ends_them()
    {
        Require();
        var env = PaseoBinary.CleanEnvironment(_home);
        var cwd = _home.PathIn("cli-work");
        Directory.CreateDirectory(cwd);
        var started = await PaseoBinary.RunAsync(env, "daemon", "start", "--port", "0");
        Assert.True(started.ExitCode == 0, started.StdErr + started.StdOut);
        await RunningDaemon.WaitHealthyAsync(_home.Home);

        var created = await PaseoBinary.RunAsync(env, "terminal", "create", "--cwd", cwd, "--name", "build", "--json", "--", "sh", "-c", "echo ready; exec sleep 1000");
        Assert.True(created.ExitCode == 0, created.StdErr + created.StdOut);
        var kept = JsonNode.Parse(created.StdOut)!["id"]!.GetValue<string>();
        var shell = JsonNode.Parse((await PaseoBinary.RunAsync(env, "terminal", "create", "--cwd", cwd, "--json")).StdOut)!["id"]!.GetValue<string>();

        var typed = await PaseoBinary.RunAsync(env, "terminal", "send-keys", shell[..8], "echo $((6*7))", "--enter");
        Assert.True(typed.ExitCode == 0, typed.StdErr);
        await Eventually.HoldsAsync(async () => (await PaseoBinary.RunAsync(env, "terminal", "capture", shell)).StdOut.Split('\n').Contains("42"), "42 in the capture");
        var ls = await PaseoBinary.RunAsync(env, "terminal", "ls", "--json");
        Assert.Equal(new[] { kept, shell }.Order(), JsonNode.Parse(ls.StdOut)!.AsArray().Select(t => t!["id"]!.GetValue<string>()).Order());
        Assert.Equal(0, (await PaseoBinary.RunAsync(env, "terminal", "kill", shell)).ExitCode);
        var unknown = await PaseoBinary.RunAsync(env, "terminal", "kill", "no-such-terminal");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("no terminal no-such-terminal", unknown.StdErr + unknown.StdOut);

        var restarted = await PaseoBinary.RunAsync(env, "daemon", "restart", "--port", "0");
        Assert.True(restarted.ExitCode == 0, restarted.StdErr + restarted.StdOut);
        await RunningDaemon.WaitHealthyAsync(_home.Home);
        var afterRestart = await PaseoBinary.RunAsync(env, "terminal", "ls", "--json");
        Assert.Equal([kept], JsonNode.Parse(afterRestart.StdOut)!.AsArray().Select(t => t!["id"]!.GetValue<string>()));
        Assert.Contains("ready", (await PaseoBinary.RunAsync(env, "terminal", "capture", kept)).StdOut);

        var stopped = await PaseoBinary.RunAsync(env, "daemon", "stop", "--force");
        Assert.True(stopped.ExitCode == 0, stopped.StdErr);
        Assert.Null(Tmux(Socket, "list-sessions"));
    }

    private static async Task<List<string>> CaptureAsync(ProtocolClient client, string id) =>
        ProtocolClient.Payload(await client.RequestAsync("capture_terminal_request", new JsonObject { ["terminalId"] = id }), "capture_terminal_response")!["lines"]!
            .AsArray().Select(l => l!.GetValue<string>()).ToList();
}
