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
public sealed record TmuxTerminal(string Id, string PaneId, string Name, string Cwd, string? PresetTitle, string? PaneTitle, long Created);

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
        "#{?#{==:#{pane_title},#{host}},,#{pane_title}}", "#{session_created}");

    public TmuxServer(string directory, TerminalSettings settings)
    {
        Directory = directory;
        Settings = settings;
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

    /// <summary>The terminals the server holds (none when no server runs): sessions that carry Paseo's options, oldest first.</summary>
    public async Task<IReadOnlyList<TmuxTerminal>> ListAsync()
    {
        var result = await RunAsync(["list-sessions", "-F", ListFormat], quietWhenNoServer: true).ConfigureAwait(false);
        if (result is null) return [];
        var terminals = new List<TmuxTerminal>();
        foreach (var line in result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(Separator);
            if (f.Length < 7 || f[3].Length == 0) continue; // not one of ours
            terminals.Add(new TmuxTerminal(f[0], f[1], f[2], f[3], f[4].Length == 0 ? null : f[4], f[5].Length == 0 ? null : f[5], long.TryParse(f[6], out var c) ? c : 0));
        }
        return terminals.OrderBy(t => t.Created).ToList();
    }

    /// <summary>Starts a terminal: a session named <paramref name="id"/> running <paramref name="command"/> (argv, no shell) or the default shell.</summary>
    /// <returns>The pane id (`%N`).</returns>
    public async Task<string> CreateAsync(string id, string name, string cwd, IReadOnlyList<string>? command, string? presetTitle,
        IReadOnlyDictionary<string, string> environment, int cols, int rows)
    {
        List<string> args = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", id, "-x", cols.ToString(), "-y", rows.ToString(), "-c", cwd];
        foreach (var (key, value) in environment) args.AddRange(["-e", $"{key}={value}"]);
        // One argument would go through `sh -c`; `env --` runs the program itself, whatever its arguments.
        if (command is { Count: > 0 }) args.AddRange(["env", "--", .. command]);
        args.AddRange([";", "set-option", "-t", "=" + id + ":", "@paseo-name", name, ";", "set-option", "-t", "=" + id + ":", "@paseo-cwd", cwd]);
        if (presetTitle is not null) args.AddRange([";", "set-option", "-t", "=" + id + ":", "@paseo-title", presetTitle]);
        var output = await RunAsync(args, quietWhenNoServer: false).ConfigureAwait(false);
        var pane = output?.Split('\n')[0].Trim();
        return string.IsNullOrEmpty(pane) ? throw new TmuxException("tmux did not name the new pane") : pane;
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
