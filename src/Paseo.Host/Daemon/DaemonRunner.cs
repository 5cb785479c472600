using Paseo.Host.Hosting;
using Paseo.Host.Native;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Files;
using Paseo.Transport.Identity;
using Paseo.Transport.Listen;
using Serilog;
using System.Runtime.InteropServices;

namespace Paseo.Host.Daemon;

/// <summary>
/// Runs the daemon in this process until SIGTERM/SIGINT: resolves the configuration (exit 2 on any error,
/// touching no file), refuses an unprotected network listener, takes the pid file, serves, and cleans up.
/// </summary>
public static class DaemonRunner
{
    /// <summary>Set by `paseo daemon start` on the detached child it spawns.</summary>
    public const string DetachedVariable = "PASEO_DAEMON_DETACHED";

    /// <summary>
    /// restart_server_request: a detached daemon starts a new detached daemon with the same arguments once its own port
    /// and pid file are free; a foreground one (systemd, a terminal) exits 75 so that its supervisor starts it again.
    /// </summary>
    private static int Restart(DaemonConfig config, int pid, bool detached, Serilog.ILogger logger)
    {
        if (!detached)
        {
            logger.Information("Restart requested: exiting with code {Code} for the supervisor to start the daemon again", RestartExit.Code);
            return RestartExit.Code;
        }
        PidFile.Release(config.Home.PidFile, pid);
        var psi = Cli.DaemonControl.SelfInvocation(Environment.GetCommandLineArgs()[1..].Where(a => !a.EndsWith(".dll", StringComparison.Ordinal)).ToList());
        psi.RedirectStandardInput = psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var child = System.Diagnostics.Process.Start(psi);
        logger.Information("Restart requested: started the new daemon (pid {Pid})", child?.Id);
        return 0;
    }

    /// <summary>The embedded relay, or null when not asked for; a holder with no host when it could not start (reported).</summary>
    private static async Task<EmbeddedRelay?> StartEmbeddedRelayAsync(DaemonFlags flags, IReadOnlyDictionary<string, string?> env, TextWriter stderr)
    {
        if (flags.EmbeddedRelay is not { } listenText) return null;
        try
        {
            var settings = PaseoSettings.Load(PaseoHome.Resolve(flags.Home, env));
            var listen = ListenTarget.Parse(listenText) as TcpListenTarget ?? throw new ConfigException("--embedded-relay: the relay listens on TCP (host:port)");
            var logger = new Serilog.LoggerConfiguration().MinimumLevel.Warning()
                .WriteTo.Console(standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose).CreateLogger();
            var host = RelayServer.RelayServerHost.Build(listen, null, null, settings, logger);
            await host.StartAsync();
            await stderr.WriteLineAsync($"paseo: embedded relay listening on {host.Listen}");
            return new EmbeddedRelay(host);
        }
        catch (Exception e) when (e is ConfigException or FormatException or IOException)
        {
            await stderr.WriteLineAsync($"paseo: --embedded-relay: {e.Message}");
            return new EmbeddedRelay(null);
        }
    }

    /// <summary>The address the daemon dials its own embedded relay on: the listen host, or loopback for a wildcard.</summary>
    private static string DialHost(TcpListenTarget listen) => listen.Host switch
    {
        "0.0.0.0" or "" => "127.0.0.1",
        "::" or "[::]" => "[::1]",
        _ => listen.UrlHost,
    };

    private sealed record EmbeddedRelay(RelayServer.RelayServerHost? Host) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (Host is not null) await Host.DisposeAsync();
        }
    }

    public static async Task<int> RunForegroundAsync(DaemonFlags flags, IReadOnlyDictionary<string, string?> env, TextWriter stderr)
    {
        var detached = env.GetValueOrDefault(DetachedVariable) == "1";
        if (!OperatingSystem.IsWindows())
        {
            // Leave the terminal's session so that closing it does not kill the daemon.
            if (detached) Libc.SetSid();
            // Everything the daemon creates (logs, sockets, agent files) is private to its user.
            Libc.Umask(0b000_111_111);
        }

        // --embedded-relay: the relay server runs in this process, and the daemon's tunnel points at it (a single VPS).
        await using var embeddedRelay = await StartEmbeddedRelayAsync(flags, env, stderr);
        if (embeddedRelay is { Host: null }) return ConfigException.ExitCode;
        if (embeddedRelay?.Host is { } relayHost)
            flags = flags with { RelayEndpoint = $"{DialHost(relayHost.Listen)}:{relayHost.Listen.Port}", NoRelay = false };

        DaemonConfig config;
        PaseoSettings settings;
        try
        {
            (config, settings) = PaseoSettings.ResolveDaemon(flags, env);
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return ConfigException.ExitCode;
        }

        if (config.NetworkExposureRefusal() is { } refusal)
        {
            await stderr.WriteLineAsync($"paseo: {refusal}");
            return ConfigException.ExitCode;
        }

        Serilog.Core.Logger logger;
        try
        {
            logger = DaemonLogging.Create(config.Log, console: !detached);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            await stderr.WriteLineAsync($"paseo: cannot write the log file {config.Log.FilePath}: {e.Message}");
            return ConfigException.ExitCode;
        }
        using var loggerScope = logger;
        if (config.ExposedWithoutPassword)
            logger.Warning("Listening on {Listen} without a password (--allow-unauthenticated-network): anyone who can reach this address can control this daemon's agents", config.Listen);

        // `paseo daemon pair --rotate` writes a new identity and sends SIGHUP. Handled from here on (SIGHUP's default
        // action would end the process): before the server is up the request waits, then the identity is read again.
        var reloads = new IdentityReloads(logger);
        using var reloadSignal = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            reloads.Request();
        });

        var pid = Environment.ProcessId;
        var record = new PidFileRecord(pid, IsoTime.Format(DateTimeOffset.UtcNow), Environment.MachineName,
            OperatingSystem.IsWindows() ? 0 : Libc.GetUid(), config.Listen.ToString(), config.Relay.Enabled ? config.Relay.Endpoint : null);
        try
        {
            PidFile.Acquire(config.Home.PidFile, record with { Starting = true });
        }
        catch (DaemonAlreadyRunningException e)
        {
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return 1;
        }

        try
        {
            await using var server = DaemonServer.Build(config, settings, logger, env);
            await server.StartAsync();
            // Accepting now: the CLI waits for this before it connects (and learns the port a ":0" listen got).
            PidFile.Update(config.Home.PidFile, record with { Listen = server.BoundListen.ToString() });
            logger.Information("Paseo.NET {Version} daemon (pid {Pid}) listening on {Listen}, home {Home}, server id {ServerId}",
                DaemonServer.Version, pid, server.BoundListen, config.Home.Root, server.Identity.ServerId);
            reloads.Attach(server);
            await server.App.WaitForShutdownAsync();
            logger.Information("Daemon stopped");
            if (server.ExitRequest == DaemonExitRequest.Restart) return Restart(config, pid, detached, logger);
            // A client's "stop the daemon" is a stop like `paseo daemon stop`: the terminals end too unless kept.
            if (server.ExitRequest == DaemonExitRequest.Shutdown)
                await Paseo.Transport.Terminals.TmuxServer.EndOnStopAsync(config.Home.TerminalsDir, settings.Terminals);
            return 0;
        }
        catch (IdentityFileException e)
        {
            logger.Error("{Message}", e.Message);
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return IdentityFileException.ExitCode;
        }
        catch (ConfigException e)
        {
            logger.Error("{Message}", e.Message);
            await stderr.WriteLineAsync($"paseo: {e.Message}");
            return ConfigException.ExitCode;
        }
        catch (IOException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase) || e.InnerException is System.Net.Sockets.SocketException)
        {
            var message = $"cannot listen on {config.Listen}: {e.Message}";
            logger.Error("{Message}", message);
            await stderr.WriteLineAsync($"paseo: {message}");
            return ConfigException.ExitCode;
        }
        catch (Exception e)
        {
            // An Akka setting that paseo.hocon got wrong surfaces while the actor system starts, wrapped in reflection
            // exceptions: report the real cause, as the configuration error it is.
            if (e.GetBaseException() is ArgumentException or FormatException or Akka.Configuration.ConfigurationException &&
                (e.ToString().Contains("akka.", StringComparison.Ordinal) || e.ToString().Contains("Akka.Actor.Internal.ActorSystemImpl", StringComparison.Ordinal)))
            {
                var message = $"{settings.OverrideHoconPath ?? settings.ShippedHoconPath}: invalid Akka setting: {e.GetBaseException().Message}";
                logger.Error("{Message}", message);
                await stderr.WriteLineAsync($"paseo: {message}");
                return ConfigException.ExitCode;
            }
            logger.Fatal(e, "The daemon failed");
            await stderr.WriteLineAsync($"paseo: the daemon failed: {e.GetBaseException().Message}");
            return 1;
        }
        finally
        {
            PidFile.Release(config.Home.PidFile, pid);
        }
    }
}

/// <summary>Exit code of a daemon that stopped for a client's restart request without being able to start itself again.</summary>
internal static class RestartExit
{
    /// <summary>EX_TEMPFAIL: under systemd (Restart=on-failure) the service comes back.</summary>
    public const int Code = 75;
}

/// <summary>SIGHUP requests, serialized: one reload at a time, and a request made before the server is up runs once it is.</summary>
internal sealed class IdentityReloads(Serilog.ILogger logger)
{
    private readonly Lock _gate = new();
    private DaemonServer? _server;
    private bool _pending;
    private Task _current = Task.CompletedTask;

    public void Attach(DaemonServer server)
    {
        bool pending;
        lock (_gate)
        {
            _server = server;
            pending = _pending;
            _pending = false;
        }
        if (pending) Request();
    }

    public void Request()
    {
        lock (_gate)
        {
            if (_server is not { } server)
            {
                _pending = true;
                return;
            }
            _current = _current.ContinueWith(async _ =>
            {
                try
                {
                    await server.ReloadIdentityAsync();
                }
                catch (Exception e)
                {
                    logger.Error(e, "Identity reload failed");
                }
            }, TaskScheduler.Default).Unwrap();
        }
    }
}
