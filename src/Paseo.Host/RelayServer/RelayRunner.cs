using Paseo.Host.Hosting;
using Paseo.Transport.Configuration;
using Paseo.Transport.Files;
using Paseo.Transport.Daemon;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.RelayServer;

/// <summary>`paseo relay start`: runs the relay server in the foreground until SIGTERM/SIGINT (systemd or a terminal).</summary>
public static class RelayRunner
{
    /// <summary>Removes the pid file when the relay ends, if it still names this process.</summary>
    private sealed class PidRelease(string? path) : IDisposable
    {
        public void Dispose()
        {
            if (path is not null) PidFile.Release(path, Environment.ProcessId);
        }
    }

    /// <summary>`paseo relay stop`: SIGTERM to the relay named by the pid file (a node of a cluster hands its rooms over and leaves first), then waits for it to exit.</summary>
    public static async Task<int> StopAsync(string? home, string? pidFile, TimeSpan timeout, TextWriter stdout, TextWriter stderr)
    {
        pidFile ??= home is null ? null : Path.Combine(Path.GetFullPath(home), "relay.pid");
        if (pidFile is null)
        {
            await stderr.WriteLineAsync("paseo: relay stop needs --home (the one the relay was started with) or --pid-file");
            return ConfigException.ExitCode;
        }
        if (PidFile.ReadRunning(pidFile) is not { } record)
        {
            await stdout.WriteLineAsync("The relay is not running.");
            return 0;
        }
        Native.Libc.Kill(record.Pid, Native.Libc.SIGTERM);
        if (await Cli.DaemonControl.WaitForExitAsync(record.Pid, timeout))
        {
            await stdout.WriteLineAsync($"Relay stopped (pid {record.Pid}).");
            return 0;
        }
        await stderr.WriteLineAsync($"paseo: the relay (pid {record.Pid}) did not stop within {timeout.TotalSeconds:0} s");
        return 1;
    }

    /// <summary>Loopback unless told otherwise, like the daemon: a public relay is an explicit `--listen 0.0.0.0:PORT`.</summary>
    public const string DefaultListen = "127.0.0.1:6868";

    /// <param name="home">A folder whose paseo.hocon overrides the shipped limits (the relay keeps no other file).</param>
    /// <param name="cluster">`--cluster` and its flags; null for the one-node relay.</param>
    /// <param name="pidFile">Where to write this relay's pid for `paseo relay stop` (default: relay.pid in <paramref name="home"/>, if given).</param>
    public static async Task<int> RunAsync(string? listenText, string? tlsCert, string? tlsKey, string? home, TextWriter stdout, TextWriter stderr,
        RelayClusterOptions? cluster = null, string? pidFile = null)
    {
        pidFile ??= home is null ? null : Path.Combine(Path.GetFullPath(home), "relay.pid");
        PaseoSettings settings;
        TcpListenTarget listen;
        ResolvedCluster? resolved = null;
        try
        {
            settings = PaseoSettings.Load(home is null ? null : new PaseoHome(Path.GetFullPath(home)));
            listen = ListenTarget.Parse(listenText ?? DefaultListen) as TcpListenTarget
                     ?? throw new ConfigException("--listen: the relay listens on TCP (host:port); use a reverse proxy for anything else");
            // The warning goes to stderr on every start, not only to the log.
            if (cluster is not null) resolved = RelayCluster.Resolve(settings.RelayServer.Cluster, cluster, warning => stderr.WriteLine($"paseo: warning: {warning}"));
        }
        catch (FormatException e)
        {
            await stderr.WriteLineAsync($"paseo: --listen: {e.Message}");
            return ConfigException.ExitCode;
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return ConfigException.ExitCode;
        }

        // ASP.NET Core's per-request lines (two per socket) stay out: a relay serving thousands of phones would log little else.
        using var logger = new LoggerConfiguration().MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
            .WriteTo.Console(standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose).CreateLogger();
        try
        {
            await using var relay = RelayServerHost.Build(listen, tlsCert, tlsKey, settings, logger, cluster: resolved);
            await relay.StartAsync();
            if (pidFile is not null)
            {
                try
                {
                    PidFile.Acquire(pidFile, new PidFileRecord(Environment.ProcessId, IsoTime.Format(DateTimeOffset.UtcNow), Environment.MachineName,
                        OperatingSystem.IsWindows() ? 0 : Native.Libc.GetUid(), relay.Listen.ToString()));
                }
                catch (DaemonAlreadyRunningException e)
                {
                    await stderr.WriteLineAsync($"paseo: another relay runs with the pid file {pidFile} (pid {e.Running.Pid}, {e.Running.Listen})");
                    return 1;
                }
            }
            using var releasePid = new PidRelease(pidFile);
            var scheme = tlsCert is null ? "ws" : "wss";
            logger.Information("Paseo.NET relay listening on {Listen} ({Scheme}://{Host}:{Port}/ws)", relay.Listen, scheme, relay.Listen.UrlHost, relay.Listen.Port);
            if (resolved is not null)
                await stdout.WriteLineAsync($"Cluster node {resolved.Host}:{resolved.Port}{(resolved.Certificate is null ? "" : " (TLS)")}, seeds: {(resolved.Seeds.Count == 0 ? "itself" : string.Join(", ", resolved.Seeds))}");
            await stdout.WriteLineAsync($"Relay listening on {relay.Listen}");
            await relay.App.WaitForShutdownAsync();
            if (relay.RemovedFromCluster)
            {
                // Not a stop anyone asked for: exit non-zero, so a supervisor (systemd Restart=on-failure) starts it again.
                await stderr.WriteLineAsync("paseo: this node was removed from the relay cluster (downed by the split-brain resolver, or it could not join); exiting");
                return 1;
            }
            return 0;
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return ConfigException.ExitCode;
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await stderr.WriteLineAsync($"paseo: cannot listen on {listen}: {e.Message}");
            return ConfigException.ExitCode;
        }
    }
}
