using Paseo.Actors.Providers;
using Akka.Configuration;
using Akka.Hosting;
using Paseo.Actors.Agents;
using Paseo.Actors.Relay.Handshake;
using Paseo.Actors.RelayServer;
using Paseo.Actors.Sessions;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Workspaces;
using Paseo.Transport.Configuration;
using Paseo.Transport.Security;

namespace Paseo.Host.Hosting;

/// <param name="CloseTimeout">After the daemon closes a socket, how long its queued frames and the close handshake may take before it is aborted (a peer that stopped reading cannot hold it).</param>
public sealed record WebSocketLimits(TimeSpan KeepAliveInterval, TimeSpan KeepAliveTimeout, int MaxMessageBytes, int InboundQueue, int OutboundQueue, TimeSpan? CloseTimeout = null);

public sealed record FrontDoorLimits(int MaxConcurrentConnections, int MaxRequestHeaderBytes, long MaxRequestBodyBytes, WebSocketLimits WebSocket);

public sealed record DaemonProcessSettings(TimeSpan StartTimeout, TimeSpan StopTimeout, TimeSpan ShutdownTimeout);

/// <summary>`paseo.relay-server`: the rooms' limits and the relay sockets' queues.</summary>
public sealed record RelayServerSettings(RelayLimits Limits, int OutboundQueue, TimeSpan KeepAliveInterval, int MaxConnections, RelayServer.RelayClusterSettings Cluster);

/// <summary>
/// The runtime knobs of paseo.hocon, read once: the shipped file next to the binary, overridden key by key by
/// $PASEO_HOME/paseo.hocon. The same two files are handed to Akka.Hosting for the actor system.
/// </summary>
public sealed record PaseoSettings(
    string ShippedHoconPath,
    string? OverrideHoconPath,
    Config Hocon,
    int BcryptCost,
    PasswordGateLimits Auth,
    FrontDoorLimits FrontDoor,
    DaemonProcessSettings Daemon,
    HandshakeSettings E2ee,
    AgentLimits Agents,
    SessionSettings Sessions,
    RelayServerSettings RelayServer,
    ProviderProcessSettings Providers,
    SuggestionLimits Suggestions,
    CheckoutWatchSettings CheckoutWatch,
    WorktreeScriptLimits WorktreeScripts,
    Paseo.Transport.Files.FileLimits Files,
    Paseo.Transport.Terminals.TerminalSettings Terminals,
    Paseo.Actors.Chat.ChatLimits Chat,
    Paseo.Actors.Schedules.ScheduleLimits Schedules,
    Paseo.Actors.Loops.LoopLimits Loops,
    Paseo.Host.Mcp.McpSettings Mcp)
{
    /// <summary>The daemon's whole configuration: config.json + env + flags, and paseo.hocon. Throws <see cref="ConfigException"/>.</summary>
    public static (DaemonConfig Config, PaseoSettings Settings) ResolveDaemon(DaemonFlags flags, IReadOnlyDictionary<string, string?> env)
    {
        var config = DaemonConfig.Resolve(flags, env);
        return (config, Load(config.Home));
    }

    public static string ShippedPath => Path.Combine(AppContext.BaseDirectory, "paseo.hocon");

    /// <summary>
    /// `akka.scheduler.implementation` names a type the actor system will build at start: one that does not load would
    /// stop the daemon with a bare "could not load file or assembly"; said here as the setting it is.
    /// </summary>
    private static void CheckScheduler(Config config, string file)
    {
        const string key = "akka.scheduler.implementation";
        if (!config.HasPath(key)) return;
        var name = config.GetString(key);
        Type? type = null;
        try
        {
            // (Akka also finds its own types by their full name alone)
            type = Type.GetType(name) ?? typeof(Akka.Actor.ActorSystem).Assembly.GetType(name);
        }
        catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
        {
            // Not loadable: said below.
        }
        if (type is null || !typeof(Akka.Actor.SchedulerBase).IsAssignableFrom(type))
            throw new ConfigException($"{file}: {key}: \"{name}\" is not a scheduler type that can be loaded " +
                                      "(the shipped one is \"Paseo.Actors.Hosting.DueTimeScheduler, Paseo.Actors\")");
    }

    /// <summary>The blocking-io dispatcher is built when its first actor starts (the agent store), too late for a clear error.</summary>
    private static void CheckBlockingIoThreads(Config config, string file)
    {
        const string key = "akka.actor.blocking-io-dispatcher.blocking-io-executor.thread-count";
        if (!config.HasPath(key)) return;
        int count;
        try
        {
            count = config.GetInt(key);
        }
        catch (Exception e) when (e is FormatException or OverflowException or Akka.Configuration.ConfigurationException)
        {
            throw new ConfigException($"{file}: {key}: expected a whole number of threads, got \"{config.GetString(key)}\"");
        }
        if (count < 1) throw new ConfigException($"{file}: {key}: expected at least 1 thread, got {count}");
    }

    public static PaseoSettings Load(PaseoHome? home)
    {
        var shipped = ShippedPath;
        if (!File.Exists(shipped)) throw new ConfigException($"{shipped}: missing; the paseo.hocon shipped with the binary is needed");
        var overridePath = home is not null && File.Exists(home.HoconOverride) ? home.HoconOverride : null;
        var config = Parse(shipped);
        if (overridePath is not null) config = Parse(overridePath).WithFallback(config);

        CheckScheduler(config, overridePath ?? shipped);
        CheckBlockingIoThreads(config, overridePath ?? shipped);
        try
        {
            var auth = config.GetConfig("paseo.auth");
            var door = config.GetConfig("paseo.front-door");
            var ws = door.GetConfig("websocket");
            var daemon = config.GetConfig("paseo.daemon");
            var cost = auth.GetInt("bcrypt-cost");
            // The shutdown waits for every agent CLI (SIGKILL after kill-grace) inside these phases: a shorter phase would
            // let a CLI that ignores SIGTERM outlive the daemon.
            var killGrace = config.GetTimeSpan("paseo.providers.kill-grace");
            var shutdown = daemon.GetTimeSpan("shutdown-timeout");
            if (shutdown < killGrace + TimeSpan.FromSeconds(2))
                throw new ConfigException($"{overridePath ?? shipped}: paseo.daemon.shutdown-timeout ({shutdown.TotalSeconds:0.#} s) must be at least " +
                                          $"paseo.providers.kill-grace + 2 s ({(killGrace + TimeSpan.FromSeconds(2)).TotalSeconds:0.#} s): the daemon waits for its agents' CLIs before it exits");
            var maxFile = config.GetByteSize("paseo.providers.max-file-bytes");
            if (maxFile > 1L << 30)
                throw new ConfigException($"{overridePath ?? shipped}: paseo.providers.max-file-bytes: at most 1g, got {maxFile}");
            Positive(config.GetConfig("paseo.git"), "concurrency");
            PositiveTime(config, "paseo.git.timeout");
            PositiveTime(config, "paseo.git.long-timeout");
            Bytes(config.GetConfig("paseo.git"), "max-output-bytes");
            Bytes(config.GetConfig("paseo.git"), "max-stderr-bytes");
            foreach (var phase in new[] { "service-stop", "before-actor-system-terminate" })
            {
                var key = $"akka.coordinated-shutdown.phases.{phase}.timeout";
                if (config.HasPath(key) && config.GetTimeSpan(key) < killGrace + TimeSpan.FromSeconds(2))
                    throw new ConfigException($"{overridePath ?? shipped}: {key} ({config.GetTimeSpan(key).TotalSeconds:0.#} s) must be at least " +
                                              $"paseo.providers.kill-grace + 2 s ({(killGrace + TimeSpan.FromSeconds(2)).TotalSeconds:0.#} s), or a CLI that ignores SIGTERM could outlive the daemon");
            }
            if (cost is < 4 or > 31) throw new ConfigException($"{overridePath ?? shipped}: paseo.auth.bcrypt-cost: expected a whole number from 4 to 31, got {cost}");
            return new PaseoSettings(
                shipped, overridePath, config, cost,
                new PasswordGateLimits(
                    Positive(auth, "verified-token-cache-size"),
                    Positive(auth, "max-concurrent-verifications"),
                    auth.GetInt("max-queued-verifications")),
                new FrontDoorLimits(
                    Positive(door, "max-concurrent-connections"),
                    (int)Bytes(door, "max-request-header-bytes"),
                    Bytes(door, "max-request-body-bytes"),
                    new WebSocketLimits(
                        ws.GetTimeSpan("keep-alive-interval"),
                        ws.GetTimeSpan("keep-alive-timeout"),
                        (int)Bytes(ws, "max-message-bytes"),
                        Positive(ws, "inbound-queue"),
                        Positive(ws, "outbound-queue"),
                        PositiveTime(config, "paseo.front-door.websocket.close-timeout"))),
                new DaemonProcessSettings(
                    daemon.GetTimeSpan("start-timeout"),
                    daemon.GetTimeSpan("stop-timeout"),
                    daemon.GetTimeSpan("shutdown-timeout")),
                HandshakeSettings.From(config.GetConfig("paseo.e2ee")),
                new AgentLimits(
                    Positive(config.GetConfig("paseo.agents"), "max-agents"),
                    Positive(config.GetConfig("paseo.agents"), "timeline-retained-rows"),
                    config.GetBoolean("paseo.agents.coalesce-stream-deltas"),
                    Positive(config.GetConfig("paseo.agents"), "timeline-memory-rows"),
                    Positive(config.GetConfig("paseo.agents"), "max-waiters-per-agent"),
                    Positive(config.GetConfig("paseo.agents"), "max-requests-while-loading"),
                    Positive(config.GetConfig("paseo.agents"), "max-concurrent-history-reads"),
                    NonNegativeTime(config, "paseo.agents.timeline-write-delay"),
                    NonNegativeTime(config, "paseo.agents.stream-merge-window")),
                new SessionSettings(
                    config.GetTimeSpan("paseo.sessions.hello-timeout"),
                    config.GetTimeSpan("paseo.sessions.reconnect-grace"),
                    Positive(config.GetConfig("paseo.sessions"), "max-sessions"),
                    Positive(config.GetConfig("paseo.sessions"), "max-requests-in-flight"),
                    Positive(config.GetConfig("paseo.sessions"), "max-ids-per-request"),
                    PositiveTime(config, "paseo.sessions.list-models-timeout")),
                ReadRelayServer(config.GetConfig("paseo.relay-server")),
                new ProviderProcessSettings(
                    (int)Bytes(config.GetConfig("paseo.providers"), "max-line-bytes"),
                    Positive(config.GetConfig("paseo.providers"), "output-backlog"),
                    config.GetTimeSpan("paseo.providers.kill-grace"),
                    config.GetTimeSpan("paseo.providers.interrupt-grace"),
                    config.GetTimeSpan("paseo.providers.version-timeout"),
                    Positive(config.GetConfig("paseo.providers"), "input-backlog"),
                    (int)Bytes(config.GetConfig("paseo.providers"), "max-stderr-line-bytes"),
                    config.GetTimeSpan("paseo.providers.recheck-availability-after"),
                    Bytes(config.GetConfig("paseo.providers"), "max-file-bytes")),
                new SuggestionLimits(
                    Positive(config.GetConfig("paseo.workspaces.suggestions"), "max-depth"),
                    Positive(config.GetConfig("paseo.workspaces.suggestions"), "max-directories"),
                    Positive(config.GetConfig("paseo.workspaces.suggestions"), "max-entries"),
                    PositiveTime(config, "paseo.workspaces.suggestions.time-budget")),
                new CheckoutWatchSettings(
                    PositiveTime(config, "paseo.git.watch-debounce"),
                    PositiveTime(config, "paseo.git.min-refresh-interval"),
                    PositiveTime(config, "paseo.git.self-heal-interval"),
                    PositiveTime(config, "paseo.git.poll-when-unwatched"),
                    PositiveTime(config, "paseo.git.fresh-for"),
                    config.GetTimeSpan("paseo.git.fetch-interval")),
                new WorktreeScriptLimits(
                    PositiveTime(config, "paseo.workspaces.setup.command-timeout"),
                    (int)Bytes(config.GetConfig("paseo.workspaces.setup"), "output-bytes")),
                new Paseo.Transport.Files.FileLimits(
                    Bytes(config.GetConfig("paseo.files"), "max-read-bytes"),
                    Positive(config.GetConfig("paseo.files"), "max-entries"),
                    PositiveTime(config, "paseo.files.download-token-lifetime"),
                    Positive(config.GetConfig("paseo.files"), "max-download-tokens")),
                new Paseo.Transport.Terminals.TerminalSettings(
                    Positive(config.GetConfig("paseo.terminals"), "max-terminals"),
                    Positive(config.GetConfig("paseo.terminals"), "scrollback"),
                    (int)Bytes(config.GetConfig("paseo.terminals"), "max-output-frame-bytes"),
                    PositiveTime(config, "paseo.terminals.command-timeout"),
                    Positive(config.GetConfig("paseo.terminals"), "max-pending-commands"),
                    config.GetBoolean("paseo.terminals.keep-on-stop")),
                new Paseo.Actors.Chat.ChatLimits(
                    Positive(config.GetConfig("paseo.chat"), "max-rooms"),
                    Positive(config.GetConfig("paseo.chat"), "max-messages-per-room"),
                    Positive(config.GetConfig("paseo.chat"), "max-body-chars"),
                    Positive(config.GetConfig("paseo.chat"), "max-waiters-per-room"),
                    PositiveTime(config, "paseo.chat.mention-wait")),
                new Paseo.Actors.Schedules.ScheduleLimits(
                    Positive(config.GetConfig("paseo.schedules"), "max-schedules"),
                    Positive(config.GetConfig("paseo.schedules"), "runs-kept"),
                    config.GetString("paseo.schedules.missed-runs") switch
                    {
                        "skip" => Paseo.Actors.Schedules.MissedRunPolicy.Skip,
                        "run-once" => Paseo.Actors.Schedules.MissedRunPolicy.RunOnce,
                        var other => throw new ConfigException($"paseo.hocon: paseo.schedules.missed-runs: expected skip or run-once, got \"{other}\""),
                    },
                    PositiveTime(config, "paseo.schedules.missed-run-grace")),
                new Paseo.Actors.Loops.LoopLimits(
                    Positive(config.GetConfig("paseo.loops"), "loops-kept"),
                    Positive(config.GetConfig("paseo.loops"), "max-running"),
                    Positive(config.GetConfig("paseo.loops"), "log-entries-kept"),
                    Positive(config.GetConfig("paseo.loops"), "log-text-chars"),
                    (int)Bytes(config.GetConfig("paseo.loops"), "check-output-bytes"),
                    PositiveTime(config, "paseo.loops.check-timeout"),
                    PositiveTime(config, "paseo.loops.write-delay"),
                    Positive(config.GetConfig("paseo.loops"), "iterations-kept"),
                    Positive(config.GetConfig("paseo.loops"), "log-chars-kept")),
                new Paseo.Host.Mcp.McpSettings(
                    Positive(config.GetConfig("paseo.mcp"), "max-sessions"),
                    Positive(config.GetConfig("paseo.mcp"), "max-calls-per-session"),
                    PositiveTime(config, "paseo.mcp.idle-timeout"),
                    Bytes(config.GetConfig("paseo.mcp"), "max-request-body-bytes")));
        }
        catch (ConfigException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ConfigException($"{overridePath ?? shipped}: invalid paseo settings: {e.Message}");
        }
    }

    /// <summary>The actor system's configuration in both processes (daemon, relay): shipped paseo.hocon, then the override, Serilog logging.</summary>
    public void ConfigureAkka(AkkaConfigurationBuilder akka)
    {
        akka.AddHoconFile(ShippedHoconPath, HoconAddMode.Append);
        if (OverrideHoconPath is { } overridePath) akka.AddHoconFile(overridePath, HoconAddMode.Prepend);
        akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        });
    }

    private static RelayServerSettings ReadRelayServer(Config relay) => new(
        new RelayLimits(
            Positive(relay, "buffer-frames"),
            Bytes(relay, "buffer-bytes"),
            (int)Bytes(relay, "max-frame-bytes"),
            Positive(relay, "max-clients-per-server"),
            Positive(relay, "max-rooms"),
            relay.GetTimeSpan("idle-room-timeout"),
            relay.GetTimeSpan("nudge-after"),
            relay.GetTimeSpan("control-unresponsive-after")),
        Positive(relay, "outbound-queue"),
        relay.GetTimeSpan("keep-alive-interval"),
        Positive(relay, "max-connections"),
        ReadRelayCluster(relay.GetConfig("cluster")));

    private static RelayServer.RelayClusterSettings ReadRelayCluster(Config cluster)
    {
        var flow = new Paseo.Actors.RelayServer.Cluster.RelaySocketSettings(
            Positive(cluster, "frame-window"), Bytes(cluster, "frame-window-bytes"), Positive(cluster, "ack-every"), Bytes(cluster, "ack-bytes"),
            Positive(cluster, "max-unacked-frames"), Bytes(cluster, "max-unacked-bytes"), PositiveTime(cluster, "ack-timeout"),
            PositiveTime(cluster, "register-retry"), PositiveTime(cluster, "register-timeout"));
        // An ack comes only after ack-every frames or ack-bytes: a sender that may have fewer in flight would wait forever.
        if (flow.AckEvery > flow.Window || flow.AckEvery > flow.MaxUnacked)
            throw new ConfigException($"paseo.relay-server.cluster.ack-every ({flow.AckEvery}) must not exceed frame-window ({flow.Window}) nor max-unacked-frames ({flow.MaxUnacked})");
        if (flow.AckBytes <= 0 || flow.AckBytes > flow.WindowBytes || flow.AckBytes > flow.MaxUnackedBytes)
            throw new ConfigException($"paseo.relay-server.cluster.ack-bytes ({flow.AckBytes}) must be positive and not exceed frame-window-bytes ({flow.WindowBytes}) nor max-unacked-bytes ({flow.MaxUnackedBytes})");
        var port = cluster.GetInt("port");
        if (port is < 0 or > 65535) throw new ConfigException($"paseo.relay-server.cluster.port must be 0–65535, not {port}");
        return new RelayServer.RelayClusterSettings(
            cluster.GetString("hostname"),
            port,
            cluster.GetString("public-hostname") is { Length: > 0 } publicHost ? publicHost : null,
            [.. cluster.GetStringList("seed-nodes")],
            [.. cluster.GetStringList("roles")],
            Positive(cluster, "shards"),
            PositiveTime(cluster, "stable-after"),
            PositiveTime(cluster, "acceptable-heartbeat-pause"),
            flow);
    }

    private static Config Parse(string path)
    {
        try
        {
            return ConfigurationFactory.ParseString(File.ReadAllText(path));
        }
        catch (Exception e)
        {
            throw new ConfigException($"{path}: invalid HOCON: {e.Message}");
        }
    }

    private static int Positive(Config c, string key)
    {
        var v = c.GetInt(key);
        return v > 0 ? v : throw new ConfigException($"paseo.hocon: {key}: expected a positive number, got {v}");
    }

    private static TimeSpan PositiveTime(Config c, string key)
    {
        var v = c.GetTimeSpan(key);
        return v > TimeSpan.Zero ? v : throw new ConfigException($"paseo.hocon: {key}: expected a positive duration such as 30s, got {v}");
    }

    private static TimeSpan NonNegativeTime(Config c, string key)
    {
        TimeSpan v;
        try
        {
            v = c.GetTimeSpan(key);
        }
        catch (FormatException)
        {
            // (Akka's HOCON reads no negative durations: "-1s" lands here)
            v = TimeSpan.MinValue;
        }
        return v >= TimeSpan.Zero ? v : throw new ConfigException($"paseo.hocon: {key}: expected a duration of 0s or more such as 100ms, got \"{c.GetString(key)}\"");
    }

    private static long Bytes(Config c, string key) =>
        c.GetByteSize(key) is { } v && v > 0 ? v : throw new ConfigException($"paseo.hocon: {key}: expected a size such as 16m");
}
