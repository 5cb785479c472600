using Akka.Streams;
using Paseo.Actors.Streams;
using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Paseo.Actors.Guardian;
using Paseo.Actors.Hosting;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Relay;
using Paseo.Transport.Channels;
using Paseo.Host.FrontDoor;
using Paseo.Host.Hosting;
using Paseo.Transport.Configuration;
using Paseo.Transport.Files;
using Paseo.Transport.Identity;
using Paseo.Transport.Listen;
using Paseo.Transport.Security;
using Paseo.Transport.Workspaces;
using Serilog;

namespace Paseo.Host.Daemon;

/// <summary>
/// Composes the daemon: Kestrel on the listen target, the front door's access rules and routes, and the actor
/// system (Akka.Hosting) in the same host.
/// </summary>
public sealed class DaemonServer : IAsyncDisposable
{
    public WebApplication App { get; }
    public DaemonConfig Config { get; }
    public DaemonIdentity Identity { get; private set; }

    /// <summary>Set when a client asked the daemon to shut down or restart (the host is then stopping).</summary>
    public DaemonExitRequest ExitRequest { get; private set; }
    public PasswordGate Password { get; }
    private readonly IReadOnlyDictionary<string, string?> _env;
    private readonly Serilog.ILogger _logger;

    /// <summary>The address actually bound (a port of 0 replaced by the real one); set by <see cref="StartAsync"/>.</summary>
    public ListenTarget BoundListen { get; private set; }

    private DaemonServer(WebApplication app, DaemonConfig config, DaemonIdentity identity, PasswordGate password, IReadOnlyDictionary<string, string?> env, Serilog.ILogger logger)
    {
        App = app;
        Config = config;
        Identity = identity;
        Password = password;
        _env = env;
        _logger = logger;
        BoundListen = config.Listen;
    }

    public static string Version => typeof(DaemonServer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static DaemonServer Build(DaemonConfig config, PaseoSettings settings, Serilog.ILogger logger, IReadOnlyDictionary<string, string?> env, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        config.Home.EnsureExists();
        // A corrupt keypair file throws IdentityFileException: the daemon stops rather than change who it is.
        var identity = DaemonIdentity.LoadOrCreate(config.Home, env);
        // The client keys of earlier relay connections (replay protection across restarts); a damaged file stops the daemon too.
        var clientKeys = ClientKeyLedger.Open(config.Home.ClientKeyLedgerFile, identity.KeyPair.PublicKey, settings.E2ee.RememberedClientKeys,
            notice => logger.Warning("{Notice}", notice));
        if (clientKeys.IsFull)
            logger.Error("The client key ledger {Path} is full ({Count} keys): relay connections are refused until `paseo daemon pair --rotate`",
                clientKeys.Path, clientKeys.Count);

        var hash = config.PasswordHash;
        if (config.PlaintextPasswordFromEnv is { } plaintext)
        {
            // PASEO_PASSWORD wins over the stored hash; it is hashed in memory and never written anywhere.
            hash = PasswordHasher.Hash(plaintext, settings.BcryptCost);
            logger.Information("Using the password from PASEO_PASSWORD (bcrypt cost {Cost})", settings.BcryptCost);
        }
        var password = new PasswordGate(hash, settings.Auth);

        if (config.Listen is UnixListenTarget unix) UnixSocketGuard.PrepareToBind(unix.Path);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Production",
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger, dispose: false);
        builder.Services.AddSingleton(time);
        // One materializer for every socket's graphs (ActorSystem.Materializer() makes a new one per call).
        builder.Services.AddSingleton<IMaterializer>(sp => sp.GetRequiredService<ActorSystem>().Materializer(namePrefix: "sockets"));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Daemon.ShutdownTimeout);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = settings.FrontDoor.MaxConcurrentConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = settings.FrontDoor.MaxConcurrentConnections;
            kestrel.Limits.MaxRequestHeadersTotalSize = settings.FrontDoor.MaxRequestHeaderBytes;
            kestrel.Limits.MaxRequestBodySize = settings.FrontDoor.MaxRequestBodyBytes;
            switch (config.Listen)
            {
                case UnixListenTarget u:
                    kestrel.ListenUnixSocket(u.Path);
                    break;
                case TcpListenTarget t:
                    foreach (var address in Resolve(t)) kestrel.Listen(address, t.Port);
                    break;
            }
        });

        // Download tokens: issued by sessions (file_download_token_request), redeemed by GET /api/files/download.
        var downloads = new DownloadTokens(settings.Files, time);
        // Workspace services' routes: filled by the scripts actor, read by the front door.
        var scriptRoutes = new ScriptRoutes { Loopback = config.Listen is not TcpListenTarget tcpListen || ListenIsLoopback(tcpListen) };
        var info = new PaseoGuardianProtocol.ServerInfo(identity.ServerId, Environment.MachineName, Version, config.Listen.ToString(), time.GetUtcNow());
        builder.Services.AddAkka("paseo", (akka, services) =>
        {
            settings.ConfigureAkka(akka);
            akka.WithPaseoActors(new PaseoActorsOptions(
                info, identity, clientKeys, config.Home.AgentsDir,
                AgentProviders.From(config.Providers, settings.Providers),
                settings.Agents, settings.Sessions, time,
                new WorkspaceSettings(config.Home.ProjectsDir, config.Home.WorktreesDir, settings.Suggestions, settings.CheckoutWatch, PaseoHome.ExpandTilde("~", env),
                    config.Home.ConfigJson, settings.WorktreeScripts, scriptRoutes, settings.Files, downloads),
                new TerminalHosting(new Paseo.Transport.Terminals.TmuxServer(config.Home.TerminalsDir, settings.Terminals, env),
                    env.TryGetValue("SHELL", out var shell) && !string.IsNullOrWhiteSpace(shell) ? shell : "/bin/sh"),
                new ChatHosting(config.Home.ChatRoomsFile, settings.Chat),
                new ScheduleHosting(config.Home.SchedulesDir, settings.Schedules),
                new LoopHosting(config.Home.LoopsDir, settings.Loops),
                new McpHosting(config.McpEnabled, config.McpInjectIntoAgents, settings.Mcp.MaxSessions, settings.Mcp.MaxCallsPerSession, config.McpInjectForbidden)));
            // Only a relay the user named (relay-e2ee.md §1.2; architecture.md: never one they did not).
            if (config.Relay is { Enabled: true, Endpoint: { } endpoint })
                akka.WithRelayTunnel(RelayTunnelSettings.For(endpoint) with { MaxDataSockets = settings.Sessions.MaxSessions },
                    new WebSocketConnector(new WebSocketConnectorOptions(settings.E2ee.MaxFrameBytes, settings.FrontDoor.WebSocket.InboundQueue,
                        settings.FrontDoor.WebSocket.OutboundQueue, settings.FrontDoor.WebSocket.KeepAliveInterval, TimeSpan.FromSeconds(10)),
                        // Resolved at connect time: the actor system exists by then.
                        (socket, o) => new StreamedWebSocketTransport(socket, services.GetRequiredService<IMaterializer>(),
                            o.MaxMessageBytes, o.InboundCapacity, o.OutboundCapacity)),
                    settings.E2ee, time);
        });

        var policies = new FrontDoorPolicies(config.Listen, new HostAllowlist(config.Hostnames), config.CorsOrigins, password, settings.FrontDoor);
        builder.Services.AddSingleton(policies);
        builder.Services.AddSingleton<WebSocketEndpoint>();
        builder.Services.AddSingleton(scriptRoutes);
        builder.Services.AddSingleton(new McpAccess(config.McpEnabled, settings.Mcp));
        if (config.McpEnabled) Mcp.McpEndpoint.AddPaseoMcp(builder.Services, settings.Mcp, Environment.CurrentDirectory, PaseoHome.ExpandTilde("~", env));
        builder.Services.AddHttpForwarder();

        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = settings.FrontDoor.WebSocket.KeepAliveInterval });
        app.UseMiddleware<AccessRulesMiddleware>();
        app.UseMiddleware<ServiceProxyMiddleware>();
        app.MapGet(AccessRulesMiddleware.HealthPath, (TimeProvider clock) =>
            Results.Json(new HealthBody("ok", IsoTime.Format(clock.GetUtcNow()))));
        app.MapGet("/api/status", async (IRequiredActor<PaseoGuardianKey> guardian, HttpContext http) =>
        {
            var current = await guardian.ActorRef.Ask<PaseoGuardianProtocol.ServerInfo>(
                PaseoGuardianProtocol.GetServerInfo.Instance, TimeSpan.FromSeconds(5), http.RequestAborted);
            return Results.Json(new StatusBody("server_info", current.ServerId.Value, current.Hostname, current.Version, current.Listen));
        });
        app.Map(AccessRulesMiddleware.WebSocketPath, (HttpContext http, WebSocketEndpoint endpoint) => endpoint.HandleAsync(http));
        app.MapGet(FileDownloads.Path, (HttpContext http) => FileDownloads.ServeAsync(http, downloads));
        if (config.McpEnabled) Mcp.McpEndpoint.MapPaseoMcp(app);
        // The phone web client, for a direct connection on a LAN or a tailnet (behind the Host and CORS rules above).
        Web.WebClientAssets.Embedded.MapTo(app);
        app.MapFallback((HttpContext http) => JsonResponses.Error(http, StatusCodes.Status404NotFound, "Not found"));

        return new DaemonServer(app, config, identity, password, env, logger);
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await App.StartAsync(cancellationToken);
        if (Config.Listen is UnixListenTarget unix && !OperatingSystem.IsWindows())
        {
            // The process umask (077) already made it 0700; 0600 is what a socket needs and all anyone should get.
            File.SetUnixFileMode(unix.Path, PrivateFiles.FileMode600);
        }
        else if (Config.Listen is TcpListenTarget { Port: 0 } tcp)
        {
            var addresses = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            var port = new Uri(addresses.First()).Port;
            BoundListen = tcp.WithPort(port);
        }
        App.Services.GetRequiredService<FrontDoorPolicies>().ListenerBound(BoundListen);
        if (BoundListen is TcpListenTarget bound) App.Services.GetRequiredService<ScriptRoutes>().DaemonPort = bound.Port;
        // What agents are given to reach the MCP server (§4.2): a wildcard bind is reached on loopback; a unix socket gives none.
        Paseo.Actors.Mcp.DaemonMcp.Get(App.Services.GetRequiredService<ActorSystem>()).ListenerBound(BoundListen is TcpListenTarget tcpBound
            ? $"http://{(tcpBound.Host is "0.0.0.0" ? "127.0.0.1" : tcpBound.Host is "::" ? "[::1]" : tcpBound.UrlHost)}:{tcpBound.Port}{Mcp.McpEndpoint.Path}"
            : null);
        var lifetime = App.Services.GetRequiredService<IHostApplicationLifetime>();
        var guardian = App.Services.GetRequiredService<IRequiredActor<PaseoGuardianKey>>().ActorRef;
        await guardian.Ask<IActorRef>(new PaseoGuardianProtocol.StartSubsystem(DaemonControlListener.Props((request, reason) =>
        {
            if (ExitRequest != DaemonExitRequest.None) return;
            ExitRequest = request;
            _logger.Information("A client asked the daemon to {Request}{Reason}", request == DaemonExitRequest.Restart ? "restart" : "shut down",
                string.IsNullOrWhiteSpace(reason) ? "" : $" ({reason})");
            lifetime.StopApplication();
        }), "daemon-control"), TimeSpan.FromSeconds(30));
        guardian.Tell(new PaseoGuardianProtocol.ListenerBound(BoundListen.ToString()));
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => App.StopAsync(cancellationToken);

    private static bool ListenIsLoopback(TcpListenTarget target) =>
        target.Host is "localhost" || (IPAddress.TryParse(target.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    /// <summary>
    /// Reads the identity files again (SIGHUP, sent by `paseo daemon pair --rotate`) and hands them to the guardian.
    /// A missing or damaged file is never replaced here: the running identity stays and the log says why.
    /// </summary>
    public async Task<bool> ReloadIdentityAsync()
    {
        try
        {
            var identity = DaemonIdentity.Load(Config.Home, _env);
            var guardian = App.Services.GetRequiredService<IRequiredActor<PaseoGuardianKey>>().ActorRef;
            await guardian.Ask<PaseoGuardianProtocol.IdentityReloaded>(new PaseoGuardianProtocol.ReloadIdentity(identity), TimeSpan.FromSeconds(5));
            Identity = identity;
            _logger.Information("Identity reloaded: server id {ServerId}", identity.ServerId);
            return true;
        }
        catch (Exception e) when (e is IdentityFileException or AskTimeoutException or ArgumentException)
        {
            _logger.Error("Identity reload failed, still using server id {ServerId}: {Message}", Identity.ServerId, e.Message);
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        Password.Dispose();
    }

    private static IEnumerable<IPAddress> Resolve(TcpListenTarget target)
    {
        if (target.IsLocalhostName) return target.Port == 0 ? [IPAddress.Loopback] : [IPAddress.Loopback, IPAddress.IPv6Loopback];
        if (IPAddress.TryParse(target.Host, out var ip)) return [ip];
        var resolved = Dns.GetHostAddresses(target.Host);
        if (resolved.Length == 0) throw new ConfigException($"cannot listen on {target}: the name {target.Host} does not resolve");
        return resolved.Take(1);
    }

    private sealed record HealthBody(
        [property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status,
        [property: System.Text.Json.Serialization.JsonPropertyName("timestamp")] string Timestamp);

    private sealed record StatusBody(
        [property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status,
        [property: System.Text.Json.Serialization.JsonPropertyName("serverId")] string ServerId,
        [property: System.Text.Json.Serialization.JsonPropertyName("hostname")] string Hostname,
        [property: System.Text.Json.Serialization.JsonPropertyName("version")] string Version,
        [property: System.Text.Json.Serialization.JsonPropertyName("listen")] string Listen);
}
