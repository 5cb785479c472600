using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.Guardian;
using Paseo.Host.Hosting;
using Paseo.Host.RelayServer;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Hosting;

/// <summary>The tree docs/architecture.md draws (its list: docs/actor-tree.txt) is the tree the running daemon and relay server have.</summary>
public sealed class ActorTreeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static List<(string Path, bool WhenRelay)> Listed()
    {
        var file = Path.Combine(TestRepository.Root, "docs", "actor-tree.txt");
        return [.. File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.StartsWith('/'))
            .Select(l => (l.Split(' ')[0], l.EndsWith(" when-relay", StringComparison.Ordinal)))];
    }


    private static async Task AssertTreeAsync(ActorSystem system, string root, IEnumerable<string> expected)
    {
        var paths = expected.Where(p => p == root || p.StartsWith(root + "/", StringComparison.Ordinal)).ToList();
        foreach (var path in paths) await system.ActorSelection(path).ResolveOne(Wait); // each listed actor runs
        // ...and the root has no child the list leaves out.
        var guardian = await system.ActorSelection(root).ResolveOne(Wait);
        var children = await guardian.Ask<PaseoGuardianProtocol.Subsystems>(PaseoGuardianProtocol.GetSubsystems.Instance, Wait);
        Assert.Equal(paths.Where(p => p != root).Select(p => p[(root.Length + 1)..]).Where(p => !p.Contains('/')).Order(StringComparer.Ordinal), children.Names);
    }

    [Fact]
    public async Task A_daemon_without_the_relay_has_the_listed_tree()
    {
        await using var daemon = await InProcessDaemon.StartAsync();
        var system = daemon.Server.App.Services.GetRequiredService<ActorSystem>();
        await AssertTreeAsync(system, "/user/paseo", Listed().Where(l => !l.WhenRelay).Select(l => l.Path));
        // A socket's actors are named for it: the protocol side and the socket's one owner, beside its session.
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon, clientId: "tree-client");
        await using var _ = client;
        foreach (var path in new[] { "sessions/socket-1", "sessions/socket-1-direct", "sessions/session-tree-client", "sessions/session-tree-client/agents",
                     "sessions/session-tree-client/terminals" })
            await system.ActorSelection("/user/paseo/" + path).ResolveOne(Wait);
    }

    [Fact]
    public async Task A_daemon_with_the_relay_and_the_relay_server_have_the_listed_trees()
    {
        await using var relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
        await relay.StartAsync();
        await using var daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?>
        {
            ["PASEO_RELAY_ENABLED"] = "true",
            ["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{relay.Listen.Port}",
        });
        await AssertTreeAsync(daemon.Server.App.Services.GetRequiredService<ActorSystem>(), "/user/paseo", Listed().Select(l => l.Path));
        await AssertTreeAsync(relay.App.Services.GetRequiredService<ActorSystem>(), "/user/relay-server", Listed().Select(l => l.Path));
    }
}
