using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Client;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>terminal ls|create|kill|capture|send-keys|attach (the daemon's terminals, app-workspaces.md §5).</summary>
public sealed partial class AgentCommands
{
    private static readonly TimeSpan TerminalTimeout = TimeSpan.FromSeconds(20);

    public Task<int> TerminalListAsync(CliContext context, string? cwd) => WithClient(context, async client =>
    {
        var fields = new JsonObject();
        if (cwd is not null) fields["cwd"] = RepoDirectory(cwd);
        var response = await client.RequestAsync("list_terminals_request", fields, TerminalTimeout);
        var rows = response["terminals"]!.AsArray().OfType<JsonObject>().Select(t => (JsonObject)t.DeepClone()).ToList();
        context.Output.List(rows,
        [
            new Column("ID", r => Str(r, "id")[..Math.Min(8, Str(r, "id").Length)]),
            new Column("NAME", r => Str(r, "name")),
            new Column("TITLE", r => Str(r, "title", "")),
        ], r => Str(r, "id"));
        return 0;
    });

    public Task<int> TerminalCreateAsync(CliContext context, string? cwd, string? name, IReadOnlyList<string> command) => WithClient(context, async client =>
    {
        var fields = new JsonObject { ["cwd"] = RepoDirectory(cwd) };
        if (name is not null) fields["name"] = name;
        if (command.Count > 0)
        {
            fields["command"] = command[0];
            fields["args"] = new JsonArray([.. command.Skip(1).Select(a => (JsonNode)a)]);
        }
        var response = await client.RequestAsync("create_terminal_request", fields, TerminalTimeout);
        if (response["terminal"] is not JsonObject terminal) throw new CliException("TERMINAL_CREATE_FAILED", WsInbound.Str(response, "error") ?? "the terminal was not created");
        var id = Str(terminal, "id");
        context.Output.Record((JsonObject)terminal.DeepClone(), [("Terminal", id), ("Name", Str(terminal, "name")), ("Cwd", Str(terminal, "cwd"))], id);
        return 0;
    });

    public Task<int> TerminalKillAsync(CliContext context, string target) => WithClient(context, async client =>
    {
        var id = await TerminalIdAsync(client, target);
        await client.RequestAsync("kill_terminal_request", new JsonObject { ["terminalId"] = id }, TerminalTimeout);
        context.Output.Record(new JsonObject { ["terminalId"] = id, ["killed"] = true }, [("Killed", id)], id);
        return 0;
    });

    public Task<int> TerminalCaptureAsync(CliContext context, string target, int? start, int? end, bool ansi) => WithClient(context, async client =>
    {
        var id = await TerminalIdAsync(client, target);
        var fields = new JsonObject { ["terminalId"] = id, ["stripAnsi"] = !ansi };
        if (start is not null) fields["start"] = start;
        if (end is not null) fields["end"] = end;
        var response = await client.RequestAsync("capture_terminal_request", fields, TerminalTimeout);
        if (context.Output.Structured)
        {
            context.Output.Record(new JsonObject { ["terminalId"] = id, ["lines"] = response["lines"]!.DeepClone(), ["totalLines"] = response["totalLines"]!.DeepClone() }, [], id);
            return 0;
        }
        foreach (var line in response["lines"]!.AsArray()) await context.Output.Out.WriteLineAsync(line!.GetValue<string>());
        return 0;
    });

    public Task<int> TerminalSendKeysAsync(CliContext context, string target, string keys, bool enter) => WithClient(context, async client =>
    {
        var id = await TerminalIdAsync(client, target);
        await client.SendAsync("terminal_input", new JsonObject { ["terminalId"] = id, ["message"] = new JsonObject { ["type"] = "input", ["data"] = enter ? keys + "\r" : keys } });
        // terminal_input has no reply: a request after it returns once the daemon has taken both, in order.
        await client.RequestAsync("list_terminals_request", new JsonObject(), TerminalTimeout);
        context.Output.Record(new JsonObject { ["terminalId"] = id, ["sent"] = true }, [("Sent", id)], id);
        return 0;
    });

    /// <summary>
    /// Attaches this TTY to a terminal with tmux itself (the daemon's own server, so only on the daemon's machine):
    /// detach with tmux's prefix (Ctrl-b d); the terminal goes on.
    /// </summary>
    public Task<int> TerminalAttachAsync(CliContext context, string target) => WithClient(context, async client =>
    {
        var id = await TerminalIdAsync(client, target);
        var socket = Path.Combine(Paseo.Transport.Configuration.PaseoHome.Resolve(context.Home, env).TerminalsDir, "tmux.sock");
        if (!File.Exists(socket))
            throw new CliException("TERMINAL_NOT_LOCAL", $"no terminal server at {socket}: attach works on the daemon's own machine and PASEO_HOME");
        if (Console.IsInputRedirected || Console.IsOutputRedirected)
            throw new CliException("NOT_A_TTY", "attach needs a terminal (stdin and stdout must be a TTY); use `paseo terminal capture` or `send-keys` from scripts");
        var start = new ProcessStartInfo("tmux") { UseShellExecute = false };
        foreach (var arg in (string[])["-S", socket, "attach-session", "-t", "=" + id]) start.ArgumentList.Add(arg);
        start.Environment.Remove("TMUX");
        using var tmux = Process.Start(start) ?? throw new CliException("TMUX_FAILED", "tmux could not be started");
        await tmux.WaitForExitAsync();
        return tmux.ExitCode;
    });

    /// <summary>A terminal id, or a unique prefix of one.</summary>
    private static async Task<string> TerminalIdAsync(DaemonClient client, string target)
    {
        var response = await client.RequestAsync("list_terminals_request", new JsonObject(), TerminalTimeout);
        var ids = response["terminals"]!.AsArray().OfType<JsonObject>().Select(t => Str(t, "id")).ToList();
        if (ids.Contains(target)) return target;
        var matches = ids.Where(i => i.StartsWith(target, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CliException("TERMINAL_NOT_FOUND", $"no terminal {target}"),
            _ => throw new CliException("AMBIGUOUS_TERMINAL", $"{target} matches {matches.Count} terminals; give more of the id"),
        };
    }
}
