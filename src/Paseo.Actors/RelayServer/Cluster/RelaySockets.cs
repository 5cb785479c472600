using Akka.Actor;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.RelayRoomProtocol;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>
/// `relay-sockets`: the parent of this node's <see cref="RelaySocketActor"/>s in a clustered relay, one per accepted
/// socket. A socket actor that throws is stopped (its socket closes, its room sees it go); the others are untouched.
/// </summary>
public sealed class RelaySockets : ReceiveActor
{
    /// <summary>A socket that passed the query checks of relay-e2ee.md §1.1; from here on it belongs to its actor.</summary>
    public sealed record Open(RelayRoomId Room, Role Role, string? ConnectionId, IFrameTransport Transport) : INoSerializationVerificationNeeded;

    public RelaySockets(IActorRef region, RelayLimits limits, RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap)
    {
        Receive<Open>(open => Context.ActorOf(RelaySocketActor.Props(open.Room, open.Role, open.ConnectionId, open.Transport, region, limits, flow, time, tap)));
        Receive<GetSocketCount>(_ => Sender.Tell(Context.GetChildren().Count()));
    }

    public static Props Props(IActorRef region, RelayLimits limits, RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap = null) =>
        Akka.Actor.Props.Create(() => new RelaySockets(region, limits, flow, time, tap));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    public sealed record GetSocketCount
    {
        public static readonly GetSocketCount Instance = new();
    }
}
