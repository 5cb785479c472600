using Akka.Actor;
using Paseo.Actors.RelayServer.Cluster;

namespace Paseo.Host.RelayServer;

/// <summary>
/// `/health` of a clustered relay node: this node's cluster address and status, the members it sees and the rooms it
/// holds (a count: never a serverId). A load balancer's health check can keep `status: "ok"`; operators and tests read
/// the rest.
/// </summary>
public static class RelayClusterHealth
{
    public static object Of(ActorSystem system, LocalRoomCount rooms)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        return new
        {
            status = "ok",
            node = cluster.SelfAddress.ToString(),
            memberStatus = cluster.SelfMember.Status.ToString(),
            members = state.Members.Select(m => new { address = m.Address.ToString(), status = m.Status.ToString() }).ToArray(),
            unreachable = state.Unreachable.Select(m => m.Address.ToString()).ToArray(),
            rooms = rooms.Value,
        };
    }
}
