using System.Net;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;
using Paseo.Actors.RelayServer;
using Paseo.Actors.RelayServer.Cluster;
using Paseo.Transport.Configuration;

namespace Paseo.Host.RelayServer;

/// <summary>`paseo.relay-server.cluster` in paseo.hocon: a clustered relay's node address, seeds, roles, shards and timings.</summary>
public sealed record RelayClusterSettings(
    string Hostname,
    int Port,
    string? PublicHostname,
    IReadOnlyList<string> SeedNodes,
    IReadOnlyList<string> Roles,
    int Shards,
    TimeSpan StableAfter,
    TimeSpan AcceptableHeartbeatPause,
    RelaySocketSettings Flow);

/// <summary>What `paseo relay start --cluster …` said; each flag, when given, wins over paseo.hocon.</summary>
public sealed record RelayClusterOptions(string? Listen, IReadOnlyList<string> Seeds, string? TlsCert, string? TlsKey, bool AllowInsecure);

/// <summary>Registry key of the clustered relay's shard region of rooms.</summary>
public sealed class RelayRoomRegionKey;

/// <summary>Registry key of `relay-sockets`, the parent of this node's socket actors.</summary>
public sealed class RelaySocketsKey;

/// <summary>
/// The wiring of a clustered relay (issue #14) through Akka.Cluster.Hosting: Akka.Remote on the node's address (loopback
/// unless told otherwise; any other address needs TLS, pinned to the cluster's one certificate, or an explicit
/// --allow-insecure-cluster), cluster membership with the keep-majority split-brain resolver, the rooms' shard region
/// (DData state store, remember-entities off) and our serializer for everything that crosses nodes.
/// </summary>
public static class RelayCluster
{
    public const string SystemName = "paseo-relay";
    public const string RoomTypeName = "relay-room";

    /// <summary>A shutdown phase of our own: after the shards are handed over, before the node leaves the cluster.</summary>
    public const string CloseSocketsPhase = "close-relay-sockets";

    /// <summary>The effective settings: the flags over paseo.hocon. Throws <see cref="ConfigException"/> on anything unsafe or malformed.</summary>
    public static ResolvedCluster Resolve(RelayClusterSettings settings, RelayClusterOptions options, Action<string> warn)
    {
        var (host, port) = (settings.Hostname, settings.Port);
        if (options.Listen is { } listen) (host, port) = HostPort(listen, "--cluster-listen");
        var certificate = RelayServerHost.LoadPemCertificate(options.TlsCert, options.TlsKey, "--cluster-tls-cert", "--cluster-tls-key", "cluster certificate");
        if (!IsLoopback(host) && certificate is null)
        {
            if (!options.AllowInsecure)
                throw new ConfigException($"the cluster address {host}:{port} is not loopback: other nodes' traffic would be readable and forgeable on the network. " +
                                          "Give --cluster-tls-cert and --cluster-tls-key (every node the same certificate), or --allow-insecure-cluster on a network you trust");
            warn($"the cluster listens on {host}:{port} WITHOUT TLS (--allow-insecure-cluster): anyone who reaches that port can join the relay cluster and read or inject frames");
        }
        // With TLS, Akka.Remote's addresses are akka.ssl.tcp://.
        var protocol = certificate is null ? "akka.tcp" : "akka.ssl.tcp";
        var seeds = (options.Seeds.Count > 0 ? options.Seeds : settings.SeedNodes).Select(s => SeedAddress(s, protocol)).ToList();
        if (seeds.Count == 0 && port == 0)
            throw new ConfigException("a node that starts a cluster by itself (no --seed) needs a fixed port: --cluster-listen host:PORT");
        if (seeds.Count == 0) seeds.Add($"{protocol}://{SystemName}@{Bracketed(settings.PublicHostname ?? host)}:{port}");
        return new ResolvedCluster(host, port, settings.PublicHostname, seeds, settings.Roles, certificate, settings);
    }

    private static (string Host, int Port) HostPort(string text, string what)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
            throw new ConfigException($"{what}: expected host:port, not '{text}'");
        return (text[..colon].Trim('[', ']'), port);
    }

    private static string SeedAddress(string seed, string protocol)
    {
        if (seed.StartsWith("akka.", StringComparison.Ordinal)) return seed;
        var (host, port) = HostPort(seed, "--seed");
        if (port == 0) throw new ConfigException($"--seed: a seed needs its port, not '{seed}'");
        return $"{protocol}://{SystemName}@{Bracketed(host)}:{port}";
    }

    private static string Bracketed(string host) => host.Contains(':') ? $"[{host}]" : host;

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>Remoting, membership, the split-brain resolver, the serializer and the shard region of rooms.</summary>
    public static void Configure(AkkaConfigurationBuilder akka, ResolvedCluster cluster, RelayLimits limits, LocalRoomCount rooms)
    {
        var remote = new RemoteOptions
        {
            HostName = cluster.Host,
            Port = cluster.Port,
            PublicHostName = cluster.PublicHostname,
            // A relayed frame crosses nodes whole (up to max-frame-bytes), with room for the envelope; Akka.Remote's
            // default (128 000 bytes) would drop larger ones between nodes.
            MaxFrameSize = limits.MaxFrameBytes + 64 * 1024,
        };
        if (cluster.Certificate is { } certificate)
        {
            remote.EnableSsl = true;
            // One certificate for the whole cluster, pinned: a node that does not hold it cannot join or listen in.
            remote.Ssl = new SslOptions
            {
                X509Certificate = certificate,
                RequireMutualAuthentication = true,
                CustomValidator = CertificateValidation.PinnedCertificate(certificate.Thumbprint),
            };
        }
        akka.WithRemoting(remote);
        akka.WithClustering(new ClusterOptions
        {
            SeedNodes = [.. cluster.Seeds],
            Roles = [.. cluster.Roles],
            SplitBrainResolver = new KeepMajorityOption(),
        });
        var settings = cluster.Settings;
        akka.AddHocon($$"""
            akka.cluster {
              split-brain-resolver.stable-after = {{(int)settings.StableAfter.TotalMilliseconds}}ms
              failure-detector.acceptable-heartbeat-pause = {{(int)settings.AcceptableHeartbeatPause.TotalMilliseconds}}ms
              sharding {
                state-store-mode = ddata
                remember-entities = off
              }
            }
            # The host drives the stop (SIGTERM → ApplicationStopping → hand-over, leave, sockets closed, then exit 0);
            # Akka's own exit hook would race it and end the process on the signal (exit 143) with sockets still open.
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            # A stopping node closes its sockets between handing its rooms over and leaving: peers elsewhere learn of each
            # close while the node is still a member (after it has left, those notices would be lost and a phone could
            # keep sending to a socket that is gone).
            akka.coordinated-shutdown.phases {
              {{CloseSocketsPhase}} { depends-on = [cluster-sharding-shutdown-region], timeout = 10s }
              cluster-leave.depends-on = [{{CloseSocketsPhase}}]
            }
            akka.coordinated-shutdown.exit-clr = off
            # Latency over batching: Akka.Remote otherwise holds writes up to 40 ms to fill a batch, which a phone's
            # round trip would pay at every hop (bench/README.md, "Relay cluster").
            akka.remote.dot-netty.tcp.batching.enabled = false
            {{RelayClusterSerializer.Hocon}}
            """, HoconAddMode.Prepend);
        akka.WithActors((system, registry) =>
        {
            var region = ClusterSharding.Get(system).Start(RoomTypeName,
                entityId => RelayRoomEntity.Props(RelayRoomMessageExtractor.ParseEntityId(entityId), limits, rooms),
                ClusterShardingSettings.Create(system).WithRememberEntities(false),
                new RelayRoomMessageExtractor(settings.Shards), new AllocateToRequester(), PoisonPill.Instance);
            registry.Register<RelayRoomRegionKey>(region);
        });
    }
}

/// <summary>A clustered relay's settings once the flags are applied and checked.</summary>
public sealed record ResolvedCluster(string Host, int Port, string? PublicHostname, IReadOnlyList<string> Seeds, IReadOnlyList<string> Roles,
    X509Certificate2? Certificate, RelayClusterSettings Settings);
