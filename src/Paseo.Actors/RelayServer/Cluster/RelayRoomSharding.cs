using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>
/// Rooms as sharded entities: the entity id is the room id (`relay-v&lt;v&gt;:&lt;serverId&gt;`, as Paseo names its Durable
/// Objects), hashed into a fixed number of shards (`paseo.relay-server.cluster.shards`, ten per node of the largest
/// cluster is the usual advice). Only <see cref="Register"/> is sent through the region: everything else goes to the
/// room's or a socket's own ref.
/// </summary>
public sealed class RelayRoomMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string? EntityId(object message) => message switch
    {
        Register register => register.Room.ToString(),
        _ => null,
    };

    public static RelayRoomId ParseEntityId(string entityId)
    {
        // "relay-v2:<serverId>": the serverId may itself hold ':'.
        var colon = entityId.IndexOf(':');
        if (!entityId.StartsWith("relay-v", StringComparison.Ordinal) || colon < 0 || !int.TryParse(entityId.AsSpan(7, colon - 7), out var version))
            throw new ArgumentException($"Not a relay room id: {entityId}", nameof(entityId));
        return new RelayRoomId(entityId[(colon + 1)..], version);
    }
}

/// <summary>
/// A new shard lives on the node that asked for it first. A room's first socket is nearly always its daemon's control
/// socket, so the first room of a shard sits beside its daemon and the `sync`/`connected` messages it sends stay on one
/// node; later rooms hashed into a placed shard live where that shard is. The load balancer spreads daemons, hence the
/// first requests for shards, over the nodes. No rebalancing: moving a live room costs every one of its sockets a
/// re-registration, so a node that joins later takes only shards not yet placed (and those of a lost or stopped node).
/// </summary>
public sealed class AllocateToRequester : IShardAllocationStrategy
{
    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
    {
        if (currentShardAllocations.ContainsKey(requester)) return Task.FromResult(requester);
        // The requester is not a region the coordinator may use (leaving, or a proxy): the least loaded one.
        var least = currentShardAllocations.OrderBy(a => a.Value.Count).ThenBy(a => a.Key.Path.ToString(), StringComparer.Ordinal).First().Key;
        return Task.FromResult(least);
    }

    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress) =>
        Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);
}
