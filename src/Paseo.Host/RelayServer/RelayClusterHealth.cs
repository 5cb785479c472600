using Akka.Actor;
using Paseo.Actors.RelayServer.Cluster;

namespace Paseo.Host.RelayServer;

/// <summary>
/// `/health` of a clustered relay node: this node's cluster address and status, the members it sees and the rooms it
/// holds (a count: never a serverId). 200 with `status: "ok"` only while the node is Up; joining, leaving or removed it
/// answers 503, so a load balancer's plain HTTP check sends no new socket to a node that cannot serve it. The cluster's
/// addresses (node, members, unreachable) are told to callers on loopback only: on the public port they would map the
/// cluster's internal network for anyone.
/// </summary>
public static class RelayClusterHealth
{
    public static IResult Of(ActorSystem system, LocalRoomCount rooms, HttpContext http)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var up = cluster.SelfMember.Status == Akka.Cluster.MemberStatus.Up && !system.WhenTerminated.IsCompleted;
        var status = up ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        var statusText = up ? "ok" : cluster.SelfMember.Status.ToString().ToLowerInvariant();
        if (http.Connection.RemoteIpAddress is not { } caller || !System.Net.IPAddress.IsLoopback(caller))
            return Results.Json(new { status = statusText, memberStatus = cluster.SelfMember.Status.ToString(), rooms = rooms.Value }, statusCode: status);
        return Results.Json(new
        {
            status = statusText,
            node = cluster.SelfAddress.ToString(),
            memberStatus = cluster.SelfMember.Status.ToString(),
            members = state.Members.Select(m => new { address = m.Address.ToString(), status = m.Status.ToString() }).ToArray(),
            unreachable = state.Unreachable.Select(m => m.Address.ToString()).ToArray(),
            rooms = rooms.Value,
        }, statusCode: status);
    }
}
