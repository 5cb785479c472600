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

    private readonly Dictionary<IActorRef, IFrameTransport> _transports = [];

    public RelaySockets(IActorRef region, RelayLimits limits, RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap)
    {
        Receive<Open>(open =>
        {
            var socket = Context.ActorOf(RelaySocketActor.Props(open.Room, open.Role, open.ConnectionId, open.Transport, region, limits, flow, time, tap));
            Context.Watch(socket);
            _transports[socket] = open.Transport;
        });
        Receive<Terminated>(terminated => { _transports.Remove(terminated.ActorRef); });
        Receive<CloseAll>(_ =>
        {
            // A node's stop, after its rooms were handed over and before it leaves the cluster: every socket closes
            // (1001) while the streams that write the close frames still run, and the stop waits for the closes to finish
            // (each bounded by the transport's close timeout).
            var closing = _transports.Values.Select(t => t.Closed).ToList();
            foreach (var socket in _transports.Keys) socket.Tell(new RelayClusterProtocol.CloseSocket(CloseCodes.GoingAway, "Relay stopping"));
            Task.WhenAll(closing).PipeTo(Sender, success: () => Closed.Instance, failure: _ => Closed.Instance);
        });
    }

    public static Props Props(IActorRef region, RelayLimits limits, RelaySocketSettings flow, TimeProvider time, Action<WireFrame>? tap = null) =>
        Akka.Actor.Props.Create(() => new RelaySockets(region, limits, flow, time, tap));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    /// <summary>Closes every socket of this node; answered with <see cref="Closed"/> once their transports have closed.</summary>
    public sealed record CloseAll
    {
        public static readonly CloseAll Instance = new();
    }

    public sealed record Closed
    {
        public static readonly Closed Instance = new();
    }
}
