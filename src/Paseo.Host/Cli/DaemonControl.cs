using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Paseo.Host.Daemon;
using Paseo.Host.Hosting;
using Paseo.Host.Native;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Identity;
using Paseo.Transport.Listen;
using Paseo.Transport.Security;

namespace Paseo.Host.Cli;

/// <summary>
/// `paseo daemon start|stop|status|restart|set-password|pair`: manages a daemon through its pid file and its health
/// endpoint. Starts no actor system.
/// </summary>
public sealed partial class DaemonControl(IReadOnlyDictionary<string, string?> env, TextWriter stdout, TextWriter stderr)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Starts the daemon as a detached background process and waits until it answers /api/health.</summary>
    public async Task<int> StartDetachedAsync(DaemonFlags flags, IReadOnlyList<string> forwardedArgs, bool json)
    {
        DaemonConfig config;
        PaseoSettings settings;
        try
        {
            // Validate here first, so that a bad configuration is reported by this command, not lost in a log.
            (config, settings) = PaseoSettings.ResolveDaemon(flags, env);
        }
        catch (ConfigException e)
        {
            return Fail(json, "INVALID_CONFIG", e.Message, ConfigException.ExitCode);
        }
        try
        {
            // Same for the identity files: a corrupt keypair or client key ledger is reported here (the daemon would refuse them too).
            DaemonIdentity.LoadOrCreate(config.Home, env);
            ClientKeyLedger.Check(config.Home.ClientKeyLedgerFile);
        }
        catch (IdentityFileException e)
        {
            return Fail(json, "INVALID_IDENTITY", e.Message, IdentityFileException.ExitCode);
        }
        if (config.NetworkExposureRefusal() is { } refusal) return Fail(json, "UNPROTECTED_NETWORK_LISTEN", refusal, ConfigException.ExitCode);
        if (PidFile.ReadRunning(config.Home.PidFile) is { } existing)
            return Fail(json, "DAEMON_ALREADY_RUNNING", $"a daemon is already running (pid {existing.Pid}, listening on {existing.Listen})", 1);

        var psi = SelfInvocation(["daemon", "start", "--foreground", .. forwardedArgs]);
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = config.Home.Root;
        foreach (var (key, value) in env) psi.Environment[key] = value;
        psi.Environment[DaemonRunner.DetachedVariable] = "1";

        using var child = Process.Start(psi) ?? throw new InvalidOperationException("could not start the daemon process");
        child.StandardInput.Close();
        var errors = new StringBuilder();
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.AppendLine(e.Data); };
        child.OutputDataReceived += (_, _) => { };
        child.BeginErrorReadLine();
        child.BeginOutputReadLine();

        using var deadline = new CancellationTokenSource(settings.Daemon.StartTimeout);
        using var ticks = new PeriodicTimer(PollInterval);
        try
        {
            while (await ticks.WaitForNextTickAsync(deadline.Token))
            {
                if (child.HasExited)
                {
                    await child.WaitForExitAsync(CancellationToken.None);
                    string text;
                    lock (errors) text = errors.ToString().Trim();
                    return Fail(json, "DAEMON_START_FAILED", text.Length > 0 ? StripPrefix(text) : $"the daemon exited with code {child.ExitCode}", child.ExitCode == 0 ? 1 : child.ExitCode);
                }
                if (PidFile.Read(config.Home.PidFile) is { } record && record.Pid == child.Id
                    && ListenTarget.Parse(record.Listen) is var listen && !(listen is TcpListenTarget { Port: 0 })
                    && await DaemonProbe.IsHealthyAsync(listen, TimeSpan.FromSeconds(2), deadline.Token))
                {
                    if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { started = true, pid = child.Id, listen = record.Listen, home = config.Home.Root }));
                    else await stdout.WriteLineAsync($"Daemon started (pid {child.Id}), listening on {record.Listen}. Logs: {config.Log.FilePath}");
                    return 0;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        Libc.Kill(child.Id, Libc.SIGTERM);
        return Fail(json, "DAEMON_START_TIMEOUT", $"the daemon did not become healthy within {settings.Daemon.StartTimeout.TotalSeconds:0} s; see {config.Log.FilePath}", 1);
    }

    /// <param name="restarting">A restart: the terminals stay for the next daemon. A stop ends them unless paseo.terminals.keep-on-stop.</param>
    public async Task<int> StopAsync(string? homeFlag, TimeSpan? timeout, bool force, TimeSpan? killTimeout, bool json, bool restarting = false)
    {
        var home = PaseoHome.Resolve(homeFlag, env);
        var settings = SettingsOrDefault(home);
        var record = PidFile.ReadRunning(home.PidFile);
        if (record is null)
        {
            if (File.Exists(home.PidFile)) File.Delete(home.PidFile); // stale: its daemon is gone
            if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { stopped = false, running = false }));
            else await stdout.WriteLineAsync("The daemon is not running.");
            return 0;
        }

        Libc.Kill(record.Pid, Libc.SIGTERM);
        if (await WaitForExitAsync(record.Pid, timeout ?? settings.Daemon.StopTimeout))
        {
            if (!restarting) await Paseo.Transport.Terminals.TmuxServer.EndOnStopAsync(home.TerminalsDir, settings.Terminals);
            if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { stopped = true, pid = record.Pid, forced = false }));
            else await stdout.WriteLineAsync($"Daemon stopped (pid {record.Pid}).");
            return 0;
        }
        if (!force)
            return Fail(json, "DAEMON_STOP_TIMEOUT", $"the daemon (pid {record.Pid}) did not stop within {(timeout ?? settings.Daemon.StopTimeout).TotalSeconds:0} s; use --force to kill it", 1);

        // The detached daemon leads its own process group: kill the group, so agent processes go with it.
        if (Libc.Kill(-record.Pid, Libc.SIGKILL) != 0) Libc.Kill(record.Pid, Libc.SIGKILL);
        if (!await WaitForExitAsync(record.Pid, killTimeout ?? TimeSpan.FromSeconds(5)))
            return Fail(json, "DAEMON_KILL_FAILED", $"the daemon (pid {record.Pid}) survived SIGKILL", 1);
        PidFile.Release(home.PidFile, record.Pid);
        if (!restarting) await Paseo.Transport.Terminals.TmuxServer.EndOnStopAsync(home.TerminalsDir, settings.Terminals);
        if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { stopped = true, pid = record.Pid, forced = true }));
        else await stdout.WriteLineAsync($"Daemon killed (pid {record.Pid}).");
        return 0;
    }

    public async Task<int> StatusAsync(string? homeFlag, bool json)
    {
        var home = PaseoHome.Resolve(homeFlag, env);
        var record = PidFile.ReadRunning(home.PidFile);
        if (record is null)
        {
            if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { running = false, home = home.Root }));
            else await stdout.WriteLineAsync($"Status:  not running\nHome:    {home.Root}");
            return 1;
        }

        var healthy = ListenTarget.Parse(record.Listen) is var listen && await DaemonProbe.IsHealthyAsync(listen, TimeSpan.FromSeconds(3));
        var started = DateTimeOffset.TryParse(record.StartedAt, out var s) ? s : (DateTimeOffset?)null;
        var uptime = started is { } st ? DateTimeOffset.UtcNow - st : (TimeSpan?)null;
        var (keys, capacity) = ClientKeyUsage(home);
        var keysFull = keys is { } k && capacity is { } c && k >= c;
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(new
            {
                running = true,
                pid = record.Pid,
                listen = record.Listen,
                startedAt = record.StartedAt,
                uptimeSeconds = uptime is { } u ? (long)u.TotalSeconds : (long?)null,
                healthy,
                home = home.Root,
                relayClientKeys = new { remembered = keys ?? 0, capacity, full = keysFull },
            }));
        }
        else
        {
            await stdout.WriteLineAsync(
                $"Status:  running\nPID:     {record.Pid}\nListen:  {record.Listen}\nUptime:  {(uptime is { } u ? FormatUptime(u) : "unknown")}\n" +
                $"Health:  {(healthy ? "ok" : "not answering")}\nHome:    {home.Root}\n" +
                $"Relay:   {keys ?? 0} of {(capacity is { } cap ? cap.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")} client keys remembered" +
                (keysFull ? " (FULL: new relay connections are refused; run `paseo daemon pair --rotate` and pair your devices again)" : ""));
        }
        return healthy ? 0 : 1;
    }

    /// <summary>Relay connections remembered for replay protection (the ledger file), and how many it may hold (paseo.hocon).</summary>
    private static (long? Count, long? Capacity) ClientKeyUsage(PaseoHome home)
    {
        long? capacity;
        try
        {
            capacity = PaseoSettings.Load(home).E2ee.RememberedClientKeys;
        }
        catch (ConfigException)
        {
            capacity = null;
        }
        return (ClientKeyLedger.CountIn(home.ClientKeyLedgerFile), capacity);
    }

    public async Task<int> SetPasswordAsync(string? homeFlag, bool fromStdin, TextReader stdin, bool json)
    {
        var home = PaseoHome.Resolve(homeFlag, env);
        string? password;
        if (fromStdin)
        {
            password = await stdin.ReadLineAsync();
        }
        else
        {
            if (Console.IsInputRedirected)
                return Fail(json, "NO_TERMINAL", "no terminal to read the password from; pipe it with --stdin", 1);
            password = ReadHidden("New password: ");
            var again = ReadHidden("Repeat it: ");
            if (password != again) return Fail(json, "PASSWORD_MISMATCH", "the two passwords differ; nothing was changed", 1);
        }
        if (string.IsNullOrEmpty(password)) return Fail(json, "EMPTY_PASSWORD", "the password is empty; nothing was changed", 1);
        if (!IsHttpToken(password))
            return Fail(json, "UNUSABLE_PASSWORD",
                "the password contains a character that cannot travel in an HTTP Bearer token or a WebSocket subprotocol " +
                "(spaces, commas, quotes, slashes, '=', non-ASCII...); use letters, digits and !#$%&'*+-.^_`|~; nothing was changed", 1);

        try
        {
            var settings = PaseoSettings.Load(home.EnsureExists());
            ConfigFile.SetPasswordHash(home, PasswordHasher.Hash(password, settings.BcryptCost));
        }
        catch (ConfigException e)
        {
            return Fail(json, "INVALID_CONFIG", e.Message, ConfigException.ExitCode);
        }
        var running = PidFile.ReadRunning(home.PidFile) is not null;
        if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(new { passwordSet = true, config = home.ConfigJson, restartNeeded = running }));
        else await stdout.WriteLineAsync($"Password hash stored in {home.ConfigJson}." + (running ? " Restart the daemon (paseo daemon restart) to use it." : ""));
        return 0;
    }

    /// <summary>RFC 9110 token characters: what both the Bearer header and a subprotocol name can carry.</summary>
    internal static bool IsHttpToken(string text) =>
        text.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c));

    private static string ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (text.Length > 0) text.Length--; continue; }
            if (!char.IsControl(key.KeyChar)) text.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return text.ToString();
    }

    internal static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var ticks = new PeriodicTimer(PollInterval);
        try
        {
            while (ProcessLiveness.IsAlive(pid)) await ticks.WaitForNextTickAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return !ProcessLiveness.IsAlive(pid);
        }
    }

    private static PaseoSettings SettingsOrDefault(PaseoHome home)
    {
        try
        {
            return PaseoSettings.Load(home);
        }
        catch (ConfigException)
        {
            return PaseoSettings.Load(null);
        }
    }

    /// <summary>How to run this same `paseo` binary again: the apphost, or `dotnet paseo.dll`.</summary>
    public static ProcessStartInfo SelfInvocation(IEnumerable<string> args)
    {
        var processPath = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(processPath) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet") psi.ArgumentList.Add(typeof(DaemonControl).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private int Fail(bool json, string code, string message, int exitCode)
    {
        if (json) stdout.WriteLine(JsonSerializer.Serialize(new { error = new { code, message } }));
        else stderr.WriteLine($"paseo: {message}");
        return exitCode;
    }

    private static string StripPrefix(string text) => text.StartsWith("paseo: ", StringComparison.Ordinal) ? text["paseo: ".Length..] : text;

    private static string FormatUptime(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h {t.Minutes}m" : t.TotalHours >= 1 ? $"{t.Hours}h {t.Minutes}m {t.Seconds}s" : $"{t.Minutes}m {t.Seconds}s";
}
