using System.Net.WebSockets;
using Paseo.Host.Daemon;
using Paseo.Host.Hosting;
using Paseo.Transport.Configuration;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Support;

/// <summary>The real daemon composition (Kestrel + actor system) started inside the test process on a loopback port or unix socket.</summary>
public sealed class InProcessDaemon : IAsyncDisposable
{
    public TestHome TestHome { get; }
    public DaemonServer Server { get; }
    public ListenTarget Listen => Server.BoundListen;
    public int Port => ((TcpListenTarget)Listen).Port;
    public Uri BaseUri => Listen is TcpListenTarget t ? new Uri($"http://{t.UrlHost}:{t.Port}/") : new Uri("http://localhost/");

    private readonly bool _ownsHome;

    private InProcessDaemon(TestHome home, DaemonServer server, bool ownsHome)
    {
        TestHome = home;
        Server = server;
        _ownsHome = ownsHome;
    }

    public static async Task<InProcessDaemon> StartAsync(
        string listen = "127.0.0.1:0", string? configJson = null, Dictionary<string, string?>? env = null, string? extraHocon = null, DaemonFlags? flags = null,
        TestHome? existingHome = null, TimeProvider? time = null)
    {
        var home = existingHome ?? new TestHome(configJson, extraHocon);
        env ??= [];
        env["PASEO_HOME"] = home.Home.Root;
        env["PASEO_LISTEN"] = listen;
        var config = DaemonConfig.Resolve(flags ?? new DaemonFlags(), env);
        var settings = PaseoSettings.Load(config.Home);
        var server = DaemonServer.Build(config, settings, new LoggerConfiguration().CreateLogger(), env, time);
        await server.StartAsync();
        return new InProcessDaemon(home, server, ownsHome: existingHome is null);
    }

    /// <summary>The relay tunnel's state, for a daemon started with the relay on.</summary>
    public Task<Paseo.Actors.Relay.RelayTunnelProtocol.TunnelState> RelayTunnelAsync() =>
        Akka.Actor.Futures.Ask<Paseo.Actors.Relay.RelayTunnelProtocol.TunnelState>(
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
                .GetRequiredService<Akka.Hosting.IRequiredActor<Paseo.Actors.Hosting.RelayTunnelKey>>(Server.App.Services).ActorRef,
            Paseo.Actors.Relay.RelayTunnelProtocol.GetTunnelState.Instance, TimeSpan.FromSeconds(10));

    /// <summary>Until the tunnel's control socket to the relay is up (after start, or after a new identity).</summary>
    public Task WaitForRelayControlAsync() =>
        Eventually.HoldsAsync(async () => (await RelayTunnelAsync()).ControlReady, "the daemon's control socket to the relay to be ready");

    public HttpClient Http()
    {
        var (client, baseUri) = Paseo.Host.Cli.DaemonProbe.ClientFor(Listen, TimeSpan.FromSeconds(10));
        client.BaseAddress = baseUri;
        return client;
    }

    public Uri WebSocketUri => Listen is TcpListenTarget t ? new Uri($"ws://{t.UrlHost}:{t.Port}/ws") : new Uri("ws://localhost/ws");

    /// <summary>Connects a real ClientWebSocket to /ws (over TCP or the unix socket).</summary>
    public async Task<ClientWebSocket> ConnectAsync(Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        if (Listen is UnixListenTarget)
        {
            using var invoker = new HttpMessageInvoker(UnixHandler(((UnixListenTarget)Listen).Path));
            await socket.ConnectAsync(WebSocketUri, invoker, CancellationToken.None);
        }
        else
        {
            await socket.ConnectAsync(WebSocketUri, CancellationToken.None);
        }
        return socket;
    }

    private static SocketsHttpHandler UnixHandler(string path) => new()
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path), ct);
            return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
        },
    };

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync();
        await Server.DisposeAsync();
        if (_ownsHome) TestHome.Dispose();
    }
}
