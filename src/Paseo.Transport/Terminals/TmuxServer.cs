using System.Text;
using CliWrap;

namespace Paseo.Transport.Terminals;

/// <summary>`paseo.terminals` in paseo.hocon.</summary>
/// <param name="MaxTerminals">Terminals the daemon keeps at once; one more is refused with the reason.</param>
/// <param name="Scrollback">Lines of history each terminal keeps (tmux's history-limit), and so the most a snapshot carries.</param>
/// <param name="MaxOutputFrameBytes">Output of one terminal coalesced into one Output frame at most; a fuller buffer is sent at once.</param>
/// <param name="CommandTimeout">How long one tmux command may take.</param>
/// <param name="MaxPendingCommands">Commands (keystrokes, resizes, captures) queued to one terminal's tmux; beyond it input is dropped with a warning.</param>
/// <param name="KeepOnStop">Whether `paseo daemon stop` leaves the terminals running (a restart always keeps them).</param>
public sealed record TerminalSettings(int MaxTerminals, int Scrollback, int MaxOutputFrameBytes, TimeSpan CommandTimeout, int MaxPendingCommands,
    bool KeepOnStop, string Program = "tmux")
{
    public static readonly TerminalSettings Default = new(64, 1000, 32 * 1024, TimeSpan.FromSeconds(10), 1024, false);
}

/// <summary>A terminal as tmux keeps it: its session (named by the terminal id), its pane, and what Paseo knows of it (tmux user options).</summary>
/// <param name="Script">The workspace script it runs, when it runs one.</param>
/// <param name="ExitCode">A script's terminal whose script has finished: its exit status (the terminal stays, showing what it printed).</param>
public sealed record TmuxTerminal(string Id, string PaneId, string Name, string Cwd, string? PresetTitle, string? PaneTitle, long Created,
    ScriptTag? Script = null, int? ExitCode = null);

/// <summary>Which workspace script a terminal runs, and the port a service was given (kept with the terminal, so a restarted daemon finds both).</summary>
public sealed record ScriptTag(string WorkspaceId, string ScriptName, int? Port)
{
    private const char Separator = '\u001e';

    public string Encode() => string.Join(Separator, WorkspaceId, ScriptName, Port?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "");

    /// <summary>
    /// A script's terminal runs this: the script in a login shell, then its exit status both kept with the terminal (the
    /// `@paseo-exit` option, for a daemon that attaches later) and written as an OSC 633 `D;&lt;status&gt;` mark (shell
    /// integration's "command finished", seen in the output stream at once); then the terminal stays, showing what the
    /// script printed, until it is killed or the script is started again.
    /// </summary>
    public static IReadOnlyList<string> Command(string script) =>
        ["/bin/sh", "-c", "/bin/bash -lc \"$1\"; s=$?; tmux set-option -q -t \"$TMUX_PANE\" @paseo-exit \"$s\" 2>/dev/null; printf '\\033]633;D;%s\\007' \"$s\"; exec sleep 2147483647",
            "paseo-script", script];

    public static ScriptTag? Decode(string value)
    {
        var parts = value.Split(Separator);
        return parts.Length == 3 && parts[0].Length > 0 && parts[1].Length > 0 ? new ScriptTag(parts[0], parts[1], int.TryParse(parts[2], out var port) ? port : null) : null;
    }
}

/// <summary>A tmux command that failed; the message is tmux's (or says it timed out).</summary>
public sealed class TmuxException(string message) : Exception(message);

/// <summary>
/// The daemon's own tmux server: one per $PASEO_HOME, on a private socket `terminals/tmux.sock` in a 0700 directory (tmux
/// makes the socket 0600), with its own configuration (`terminals/tmux.conf`, never the user's ~/.tmux.conf). Each
/// terminal is one tmux session named by its id, one window, one pane; Paseo's facts about it (name, cwd string, preset
/// title) are tmux user options, so they outlive the daemon with the terminal. tmux runs as a child process, never
/// through a shell; the server outlives the daemon (that is how terminals survive a restart) and exits by itself when
/// its last terminal ends.
/// </summary>
public sealed class TmuxServer
{
    private const char Separator = '\u001f';
    private static readonly string ListFormat = string.Join(Separator, "#{session_name}", "#{pane_id}", "#{@paseo-name}", "#{@paseo-cwd}", "#{@paseo-title}",
        "#{?#{==:#{pane_title},#{host}},,#{pane_title}}", "#{session_created}", "#{@paseo-script}", "#{@paseo-exit}");

    private readonly IReadOnlyDictionary<string, string?> _environment;

    /// <param name="environment">The daemon's environment, which the server (started by the first terminal) and so every terminal inherit.</param>
    public TmuxServer(string directory, TerminalSettings settings, IReadOnlyDictionary<string, string?>? environment = null)
    {
        Directory = directory;
        Settings = settings;
        _environment = environment ?? new Dictionary<string, string?>();
    }

    public string Directory { get; }
    public TerminalSettings Settings { get; }
    public string SocketPath => Path.Combine(Directory, "tmux.sock");
    public string ConfigPath => Path.Combine(Directory, "tmux.conf");

    /// <summary>The tmux program, or null when it is not installed.</summary>
    public string? Program => Processes.ChildProcess.Which(Settings.Program);

    /// <summary>
    /// The arguments every tmux invocation starts with: UTF-8 whatever the daemon's locale (without `-u`, tmux in the C
    /// locale prints names, list fields and captured screens with every non-ASCII byte as `_`), our socket, our configuration.
    /// </summary>
    public IReadOnlyList<string> BaseArguments => ["-u", "-S", SocketPath, "-f", ConfigPath];

    /// <summary>
    /// Makes the directory (0700) and writes the configuration (0600) the server starts with; a server left running by an
    /// earlier daemon reads it again, so a changed scrollback applies to new terminals.
    /// </summary>
    public async Task PrepareAsync(string defaultShell)
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var config = new StringBuilder()
            .AppendLine("# Written by the Paseo.NET daemon at start; the server of its terminals reads only this file.")
            .AppendLine($"set -g history-limit {Settings.Scrollback}")
            .AppendLine("set -g status off")
            .AppendLine("set -g default-terminal xterm-256color")
            .AppendLine($"set -g default-shell {TmuxControlParser.Quote(defaultShell)}")
            .AppendLine("set -g escape-time 0")
            .AppendLine("set -g exit-empty on")
            .AppendLine("set -g remain-on-exit off")
            .AppendLine("set -g destroy-unattached off")
            .AppendLine("set -g detach-on-destroy on")
            .AppendLine("set -g mouse off")
            .AppendLine("set -g allow-rename off")
            .AppendLine("set -g automatic-rename off")
            .ToString();
        var temp = ConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, config).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, ConfigPath, overwrite: true);
        if (File.Exists(SocketPath)) await RunAsync(["source-file", ConfigPath], quietWhenNoServer: true).ConfigureAwait(false);
    }

    /// <summary>
    /// An argument as tmux should see it: tmux ends a command at any argument ending in `;` (so `find … \;` would be cut
    /// and `x;` `kill-server` would run a command of its own); such an argument gets its `;` escaped.
    /// </summary>
    public static string Arg(string value) => value.EndsWith(';') ? value[..^1] + "\\;" : value;

    /// <summary>A directory for `-c`, where tmux expands formats: `#` doubled so it stays a `#`.</summary>
    public static string DirectoryArg(string path) => Arg(path.Replace("#", "##"));

    /// <summary>The terminals the server holds (none when no server runs): sessions that carry Paseo's options, oldest first.</summary>
    public async Task<IReadOnlyList<TmuxTerminal>> ListAsync()
    {
        var result = await RunAsync(["list-sessions", "-F", ListFormat], quietWhenNoServer: true).ConfigureAwait(false);
        if (result is null) return [];
        var terminals = new List<TmuxTerminal>();
        foreach (var line in result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(Separator);
            if (f.Length < 9 || f[3].Length == 0) continue; // not one of ours
            terminals.Add(new TmuxTerminal(f[0], f[1], f[2], f[3], f[4].Length == 0 ? null : f[4], f[5].Length == 0 ? null : f[5], long.TryParse(f[6], out var c) ? c : 0,
                ScriptTag.Decode(f[7]), int.TryParse(f[8], out var code) ? code : null));
        }
        return terminals.OrderBy(t => t.Created).ToList();
    }

    /// <summary>Starts a terminal: a session named <paramref name="id"/> running <paramref name="command"/> (argv, no shell) or <paramref name="defaultShell"/>.</summary>
    /// <returns>The pane id (`%N`).</returns>
    /// <param name="script">A workspace script's terminal (its command is <see cref="ScriptTag.Command"/>).</param>
    public async Task<string> CreateAsync(string id, string name, string cwd, IReadOnlyList<string>? command, string? presetTitle,
        IReadOnlyDictionary<string, string> environment, int cols, int rows, ScriptTag? script = null, string defaultShell = "/bin/sh")
    {
        // The session starts with a placeholder that cannot exit, so Paseo's options are in place before the real program
        // runs (one that exits at once would otherwise race them); then the placeholder is replaced by the program.
        string target = "=" + id + ":";
        List<string> args = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", id, "-x", cols.ToString(), "-y", rows.ToString(), "-c", DirectoryArg(cwd),
            "sleep", "2147483647", ";", "set-option", "-t", target, "@paseo-name", Arg(name), ";", "set-option", "-t", target, "@paseo-cwd", Arg(cwd)];
        if (presetTitle is not null) args.AddRange([";", "set-option", "-t", target, "@paseo-title", Arg(presetTitle)]);
        if (script is not null) args.AddRange([";", "set-option", "-t", target, "@paseo-script", Arg(script.Encode())]);
        args.AddRange([";", "respawn-pane", "-k", "-t", target, "-c", DirectoryArg(cwd)]);
        foreach (var (key, value) in environment) args.AddRange(["-e", Arg($"{key}={value}")]);
        // argv as given (`env --`: one argument would otherwise go through `sh -c`), or the shell.
        args.AddRange(command is { Count: > 0 } ? ["env", "--", .. command.Select(Arg)] : ["env", "--", Arg(defaultShell)]);
        var output = await RunAsync(args, quietWhenNoServer: false).ConfigureAwait(false);
        var pane = output?.Split('\n')[0].Trim();
        return string.IsNullOrEmpty(pane) ? throw new TmuxException("tmux did not name the new pane") : pane;
    }

    /// <summary>Runs <paramref name="command"/> again in a script's terminal (a script started again), forgetting the last run's exit status.</summary>
    public async Task RespawnAsync(string id, string paneId, string cwd, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment)
    {
        List<string> args = ["set-option", "-u", "-t", "=" + id + ":", "@paseo-exit", ";", "respawn-pane", "-k", "-t", paneId, "-c", DirectoryArg(cwd)];
        foreach (var (key, value) in environment) args.AddRange(["-e", Arg($"{key}={value}")]);
        args.AddRange(["env", "--", .. command.Select(Arg)]);
        await RunAsync(args, quietWhenNoServer: false).ConfigureAwait(false);
    }

    /// <summary>Ends a terminal (its process gets SIGHUP); false when it was not there.</summary>
    public async Task<bool> KillAsync(string id)
    {
        try
        {
            return await RunAsync(["kill-session", "-t", "=" + id], quietWhenNoServer: true).ConfigureAwait(false) is not null;
        }
        catch (TmuxException)
        {
            return false;
        }
    }

    /// <summary>Ends every terminal and the server; false when no server ran.</summary>
    public async Task<bool> KillServerAsync()
    {
        try
        {
            return await RunAsync(["kill-server"], quietWhenNoServer: true).ConfigureAwait(false) is not null;
        }
        catch (TmuxException)
        {
            return false;
        }
    }

    /// <summary>
    /// What a stop of the daemon (`paseo daemon stop`, a client's shutdown request) does to the terminals of a home:
    /// ends them and the tmux server, unless the user keeps them (`paseo.terminals.keep-on-stop`). A restart never calls it.
    /// </summary>
    public static async Task EndOnStopAsync(string terminalsDirectory, TerminalSettings settings)
    {
        if (settings.KeepOnStop) return;
        await new TmuxServer(terminalsDirectory, settings).KillServerAsync().ConfigureAwait(false);
    }

    /// <summary>Runs one tmux command; its stdout, or null when no server runs and <paramref name="quietWhenNoServer"/>.</summary>
    public async Task<string?> RunAsync(IReadOnlyList<string> args, bool quietWhenNoServer)
    {
        await Task.Yield();
        var program = Program ?? throw new TmuxException($"{Settings.Program} is not installed: terminals need it (apt-get install tmux)");
        if (quietWhenNoServer && !File.Exists(SocketPath)) return null;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var timeout = new CancellationTokenSource(Settings.CommandTimeout);
        CommandResult result;
        try
        {
            result = await Cli.Wrap(program).WithArguments([.. BaseArguments, .. args])
                .WithValidation(CommandResultValidation.None)
                .WithEnvironmentVariables(env =>
                {
                    foreach (var (key, value) in _environment) env.Set(key, value);
                    // The first command starts the server, whose environment every terminal inherits: not the daemon's
                    // runtime-control keys (app-workspaces.md §4.2), and never a tmux the daemon itself runs inside.
                    foreach (var key in (string[])["TMUX", "TMUX_PANE", "PASEO_NODE_ENV", "PASEO_DESKTOP_MANAGED", "PASEO_SUPERVISED", "ELECTRON_RUN_AS_NODE", "ELECTRON_NO_ATTACH_CONSOLE"])
                        env.Set(key, null);
                })
                .WithStandardOutputPipe(PipeTarget.ToStringBuilder(stdout))
                .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
                .ExecuteAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TmuxException($"tmux {args[0]} timed out after {Settings.CommandTimeout.TotalSeconds:0} s");
        }
        if (result.ExitCode == 0) return stdout.ToString();
        var error = stderr.ToString().Trim();
        if (quietWhenNoServer && (error.StartsWith("no server running", StringComparison.Ordinal) || error.StartsWith("error connecting", StringComparison.Ordinal))) return null;
        throw new TmuxException(error.Length > 0 ? error : $"tmux {args[0]} exited with {result.ExitCode}");
    }
}
