using Akka.Streams;
using Paseo.Actors.Streams;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Paseo.Actors.RelayServer;
using Paseo.Host.Hosting;
using Paseo.Transport.Channels;
using Paseo.Transport.Configuration;
using Paseo.Transport.Listen;
using Serilog;
using static Paseo.Actors.RelayServer.RelayRoomProtocol;

namespace Paseo.Host.RelayServer;

/// <summary>Registry key of the relay's rooms.</summary>
public sealed class RelayRoomsKey;

/// <summary>
/// `paseo relay start`: the relay server of relay-e2ee.md §1 on Kestrel, with the rooms as actors. HTTP surface:
/// `/health`, `/ws` with Paseo's query checks, statuses and plain-text bodies, the phone web client at `/`, 404 elsewhere. Optional TLS.
/// </summary>
public sealed class RelayServerHost : IAsyncDisposable
{
    public WebApplication App { get; }
    public TcpListenTarget Listen { get; private set; }

    private readonly bool _clustered;

    /// <summary>The actor system ended before anyone asked the relay to stop: this node was downed, or could not join.</summary>
    public bool RemovedFromCluster { get; private set; }

    private RelayServerHost(WebApplication app, TcpListenTarget listen, bool clustered)
    {
        App = app;
        Listen = listen;
        _clustered = clustered;
    }

    /// <param name="tap">Sees every frame the rooms forward; for tests that check the relay only ever carries ciphertext.</param>
    /// <param name="cluster">A clustered relay (`--cluster`); null runs the one-node relay, exactly as before clustering existed.</param>
    public static RelayServerHost Build(TcpListenTarget listen, string? tlsCert, string? tlsKey, PaseoSettings settings, Serilog.ILogger logger, TimeProvider? time = null,
        Action<WireFrame>? tap = null, ResolvedCluster? cluster = null)
    {
        time ??= TimeProvider.System;
        var certificate = LoadPemCertificate(tlsCert, tlsKey, "--tls-cert", "--tls-key", "TLS certificate");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory, EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger, dispose: false);
        builder.Services.AddSingleton(time);
        // One materializer for every socket's graphs (ActorSystem.Materializer() makes a new one per call).
        builder.Services.AddSingleton<IMaterializer>(sp => sp.GetRequiredService<ActorSystem>().Materializer(namePrefix: "sockets"));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Two sockets per phone (its own and the daemon's data socket), plus one control per daemon.
            kestrel.Limits.MaxConcurrentConnections = settings.RelayServer.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = settings.RelayServer.MaxConnections;
            kestrel.Limits.MaxRequestHeadersTotalSize = settings.FrontDoor.MaxRequestHeaderBytes;
            foreach (var address in Addresses(listen))
                kestrel.Listen(address, listen.Port, options => { if (certificate is not null) options.UseHttps(certificate); });
        });
        var localRooms = new Paseo.Actors.RelayServer.Cluster.LocalRoomCount();
        builder.Services.AddSingleton(localRooms);
        builder.Services.AddAkka(RelayCluster.SystemName, (akka, _) =>
        {
            settings.ConfigureAkka(akka);
            if (cluster is not null) RelayCluster.Configure(akka, cluster, settings.RelayServer.Limits, localRooms);
            akka.WithActors((system, registry) =>
            {
                // The relay server's own root guardian parents its rooms, or in a cluster this node's sockets (docs/architecture.md).
                var guardian = system.ActorOf(RelayServerGuardian.Props(), "relay-server");
                if (cluster is null)
                    registry.Register<RelayRoomsKey>(guardian.Ask<IActorRef>(new Paseo.Actors.Guardian.PaseoGuardianProtocol.StartSubsystem(
                        RelayRooms.Props(settings.RelayServer.Limits, time, tap), "relay-rooms"), TimeSpan.FromSeconds(30)).GetAwaiter().GetResult());
                else
                {
                    var sockets = guardian.Ask<IActorRef>(new Paseo.Actors.Guardian.PaseoGuardianProtocol.StartSubsystem(
                        Paseo.Actors.RelayServer.Cluster.RelaySockets.Props(registry.Get<RelayRoomRegionKey>(), settings.RelayServer.Limits, cluster.Settings.Flow, time, tap),
                        "relay-sockets"), TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
                    registry.Register<RelaySocketsKey>(sockets);
                    // Sockets close after the rooms were handed over and before the node leaves (RelayCluster's phase
                    // close-relay-sockets): their peers on other nodes still hear of each close (DeathWatch), which a node that
                    // has left could no longer tell them.
                    CoordinatedShutdown.Get(system).AddTask(RelayCluster.CloseSocketsPhase, "close-relay-sockets", async () =>
                    {
                        try
                        {
                            await sockets.Ask<Paseo.Actors.RelayServer.Cluster.RelaySockets.Closed>(Paseo.Actors.RelayServer.Cluster.RelaySockets.CloseAll.Instance, TimeSpan.FromSeconds(8));
                        }
                        catch (AskTimeoutException)
                        {
                            // Whatever is still open closes when its actor stops with the system.
                        }
                        return Akka.Done.Instance;
                    });
                }
            });
        });

        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = settings.RelayServer.KeepAliveInterval, KeepAliveTimeout = settings.RelayServer.KeepAliveInterval });
        if (cluster is null)
        {
            app.Map("/health", () => Results.Json(new { status = "ok" }));
            app.Map("/ws", (HttpContext http, IRequiredActor<RelayRoomsKey> rooms, IMaterializer materializer, IHostApplicationLifetime lifetime) =>
                ServeAsync(http, new OneNodeRooms(rooms.ActorRef), materializer, settings.RelayServer, lifetime));
        }
        else
        {
            app.Map("/health", (ActorSystem system, HttpContext http) => RelayClusterHealth.Of(system, localRooms, http));
            app.Map("/ws", (HttpContext http, IRequiredActor<RelaySocketsKey> sockets, ActorSystem system, IMaterializer materializer, IHostApplicationLifetime lifetime) =>
                ServeAsync(http, new ClusterSockets(sockets.ActorRef, system), materializer, settings.RelayServer, lifetime));
        }
        // The phone web client: a phone opens the pairing link here and talks to its daemon through this relay.
        Web.WebClientAssets.Embedded.MapTo(app);
        app.MapFallback(() => Results.Text("Not found", "text/plain", statusCode: StatusCodes.Status404NotFound));
        return new RelayServerHost(app, listen, cluster is not null);
    }

    /// <summary>`/ws`: the checks of §1.1 in Paseo's order, then the socket joins its room until it closes.</summary>
    private static async Task ServeAsync(HttpContext http, ISocketHome home, IMaterializer materializer, RelayServerSettings settings, IHostApplicationLifetime lifetime)
    {
        // Exactly `/ws`, as Paseo's relay (ASP.NET routing would also take `/ws/` and `/WS`).
        if (http.Request.Path.Value != "/ws")
        {
            await PlainAsync(http, 404, "Not found");
            return;
        }
        var query = RelayQuery.Parse(http.Request.QueryString.Value);
        if (!query.TryGetValue("serverId", out var serverId) || serverId.Length == 0)
        {
            await PlainAsync(http, 400, "Missing serverId parameter");
            return;
        }
        if (RelayQuery.Version(query) is not { } version)
        {
            await PlainAsync(http, 400, "Invalid v parameter (expected 1 or 2)");
            return;
        }
        var role = query.GetValueOrDefault("role") switch { "server" => Role.Server, "client" => Role.Client, _ => (Role?)null };
        if (role is null)
        {
            await PlainAsync(http, 400, "Missing or invalid role parameter");
            return;
        }
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await PlainAsync(http, 426, "Expected WebSocket upgrade");
            return;
        }
        var connectionId = query.GetValueOrDefault("connectionId")?.Trim();
        if (string.IsNullOrEmpty(connectionId)) connectionId = null;

        if ((lifetime.ApplicationStopping.IsCancellationRequested ? "Relay stopping" : home.NotServing) is { } notServing)
        {
            await PlainAsync(http, 503, notServing);
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        StreamedWebSocketTransport created;
        try
        {
            created = new StreamedWebSocketTransport(socket, materializer, settings.Limits.MaxFrameBytes, inboundCapacity: 16, settings.OutboundQueue);
        }
        catch (Akka.Pattern.IllegalStateException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // Accepted in the last moments of a stop, after the streams ended: dropped, the peer reconnects elsewhere.
            socket.Abort();
            return;
        }
        try
        {
            await home.ServeAsync(new RelayRoomId(serverId, int.Parse(version)), role.Value, connectionId, created, lifetime);
        }
        finally
        {
            // Once the actor system has ended, so have the socket's streams: their completion may never come, so the wait
            // ends with the system (else a stopping node's Kestrel would wait its whole shutdown timeout for this request).
            if (home.Ended.IsCompleted) socket.Abort();
            else if (await Task.WhenAny(created.DisposeAsync().AsTask(), home.Ended) == home.Ended) socket.Abort();
        }
    }

    /// <summary>Where an accepted socket goes: the one-node rooms, or this node's socket actors in a cluster.</summary>
    private interface ISocketHome
    {
        /// <summary>Why no new socket is taken now (the node is stopping, or not yet a member), or null.</summary>
        string? NotServing { get; }

        /// <summary>Completes when the actor system (and with it the streams of the sockets) has ended.</summary>
        Task Ended { get; }

        /// <summary>Hands the socket over and returns once it is closed.</summary>
        Task ServeAsync(RelayRoomId room, Role role, string? connectionId, IFrameTransport transport, IHostApplicationLifetime lifetime);
    }

    private sealed class OneNodeRooms(IActorRef rooms) : ISocketHome
    {
        public string? NotServing => null;
        // The one-node relay closes its sockets at ApplicationStopping, long before its actor system ends.
        public Task Ended { get; } = new TaskCompletionSource().Task;

        public async Task ServeAsync(RelayRoomId room, Role role, string? connectionId, IFrameTransport transport, IHostApplicationLifetime lifetime)
        {
            using var stopping = lifetime.ApplicationStopping.Register(() => transport.Close(CloseCodes.GoingAway, "Relay stopping"));
            var answer = await rooms.Ask<object>(new Join(room, role, connectionId, transport), TimeSpan.FromSeconds(10));
            if (answer is Refused refused) transport.Close(refused.Code, refused.Reason);
            await transport.Closed;
        }
    }

    /// <summary>
    /// In a cluster the socket's actor owns it. On a stop the node first hands its rooms over (coordinated shutdown), then
    /// closes its sockets (the phase `close-relay-sockets`), then leaves the cluster, so peers elsewhere see the same close
    /// codes as on one node and rooms are not lost with this node.
    /// </summary>
    private sealed class ClusterSockets(IActorRef sockets, ActorSystem system) : ISocketHome
    {
        // A node takes sockets only while it is an Up member: a joining node could not place their rooms yet, and a
        // stopping one is handing its rooms over (Kestrel still accepts then: the host stops Akka's service first).
        // Refused with 503, the peer reconnects through the balancer to a node that serves.
        public string? NotServing =>
            CoordinatedShutdown.Get(system).ShutdownReason is not null ? "Relay stopping"
            : Akka.Cluster.Cluster.Get(system).SelfMember.Status != Akka.Cluster.MemberStatus.Up ? "Relay not ready (joining the cluster)"
            : null;
        public Task Ended => system.WhenTerminated;

        public async Task ServeAsync(RelayRoomId room, Role role, string? connectionId, IFrameTransport transport, IHostApplicationLifetime lifetime)
        {
            sockets.Tell(new Paseo.Actors.RelayServer.Cluster.RelaySockets.Open(room, role, connectionId, transport));
            // A socket that slipped in as the system ended has no actor to close it: it ends with the system.
            await Task.WhenAny(transport.Closed, system.WhenTerminated);
        }
    }

    /// <summary>A PEM certificate and its key, both named or neither (null); anything else is a <see cref="ConfigException"/>.</summary>
    internal static X509Certificate2? LoadPemCertificate(string? cert, string? key, string certFlag, string keyFlag, string what)
    {
        if (cert is null && key is null) return null;
        if (cert is null || key is null) throw new ConfigException($"{certFlag} and {keyFlag} go together");
        try
        {
            return X509Certificate2.CreateFromPemFile(cert, key);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            throw new ConfigException($"cannot load the {what} {cert} with key {key}: {e.Message}");
        }
    }

    private static Task PlainAsync(HttpContext http, int status, string body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(body);
    }

    public async Task StartAsync()
    {
        await App.StartAsync();
        if (_clustered)
        {
            var system = App.Services.GetRequiredService<ActorSystem>();
            var lifetime = App.Services.GetRequiredService<IHostApplicationLifetime>();
            // A stop hands this node's rooms over and leaves the cluster before the sockets close (see ClusterSockets).
            lifetime.ApplicationStopping.Register(() => _ = CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance));
            // A node the split-brain resolver downs ends its actor system: the process exits too, for its supervisor to
            // restart it, instead of accepting sockets it can no longer serve.
            _ = system.WhenTerminated.ContinueWith(_ =>
            {
                if (!lifetime.ApplicationStopping.IsCancellationRequested) RemovedFromCluster = true;
                lifetime.StopApplication();
            }, TaskScheduler.Default);
        }
        if (Listen.Port == 0)
        {
            var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Listen = Listen.WithPort(new Uri(address).Port);
        }
    }

    private static IEnumerable<IPAddress> Addresses(TcpListenTarget target)
    {
        if (target.IsLocalhostName) return [IPAddress.Loopback];
        if (IPAddress.TryParse(target.Host, out var ip)) return [ip];
        return Dns.GetHostAddresses(target.Host).Take(1);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
