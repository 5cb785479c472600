using Akka.Actor;
using Paseo.Actors.Guardian;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;
using Xunit.Abstractions;
using static Paseo.Actors.Guardian.PaseoGuardianProtocol;

namespace Paseo.Actors.Tests.Guardian;

public sealed class PaseoGuardianSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = WARNING", output)
{
    private static readonly ServerInfo Info = new(ServerId.From("srv_test"), "host", "1.2.3", "127.0.0.1:0", DateTimeOffset.UnixEpoch);
    private static readonly DaemonIdentity Identity = new(ServerId.From("srv_test"), BoxKeyPair.Generate());

    [Fact]
    public void Answers_server_info()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info, Identity));
        guardian.Tell(GetServerInfo.Instance);
        ExpectMsg(Info);
    }

    [Fact]
    public void Reports_the_address_actually_bound()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info, Identity));
        guardian.Tell(new ListenerBound("127.0.0.1:40123"));
        guardian.Tell(GetServerInfo.Instance);
        var info = ExpectMsg<ServerInfo>();
        Assert.Equal("127.0.0.1:40123", info.Listen);
        Assert.Equal(Info.ServerId, info.ServerId);
    }

    [Fact]
    public void A_reloaded_identity_is_what_status_and_new_connections_get()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info, Identity));
        var rotated = new DaemonIdentity(ServerId.From("srv_rotated"), BoxKeyPair.Generate());

        guardian.Tell(new ReloadIdentity(rotated));
        Assert.Equal(rotated.ServerId, ExpectMsg<IdentityReloaded>().ServerId);

        guardian.Tell(GetServerInfo.Instance);
        Assert.Equal(rotated.ServerId, ExpectMsg<ServerInfo>().ServerId);
        guardian.Tell(GetIdentity.Instance);
        Assert.Same(rotated, ExpectMsg<DaemonIdentity>());
    }

    /// <summary>A subsystem stand-in: counts what it is told, throws on "boom", and has a child whose life shows whether it was restarted.</summary>
    private sealed class Counting : ReceiveActor
    {
        private int _count;

        public Counting(bool failToStart)
        {
            if (failToStart) throw new InvalidOperationException("cannot start");
            Receive<string>(m => m == "boom", _ => throw new InvalidOperationException("a bad message"));
            Receive<string>(m => m == "count", _ => Sender.Tell(++_count));
            Receive<string>(m => m == "child", _ => Sender.Tell(Context.Child("worker")));
        }

        protected override void PreStart() => Context.ActorOf(Akka.Actor.Props.Create(() => new Worker()), "worker");

        private sealed class Worker : ReceiveActor;
    }

    [Fact]
    public async Task A_subsystem_that_throws_keeps_its_state_and_children_and_one_that_cannot_start_stops_alone()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info, Identity));
        var agents = await guardian.Ask<IActorRef>(new PaseoGuardianProtocol.StartSubsystem(Akka.Actor.Props.Create(() => new Counting(false)), "agents"));
        var sessions = await guardian.Ask<IActorRef>(new PaseoGuardianProtocol.StartSubsystem(Akka.Actor.Props.Create(() => new Counting(false)), "sessions"));
        Assert.Equal(1, await agents.Ask<int>("count"));
        var worker = await agents.Ask<IActorRef>("child");

        // A fault: resumed, not restarted — its count goes on and its child (an agent, here) lives.
        agents.Tell("boom");
        Assert.Equal(2, await agents.Ask<int>("count"));
        Assert.Equal(worker, await agents.Ask<IActorRef>("child"));
        Assert.Equal(1, await sessions.Ask<int>("count"));

        // A subsystem that cannot start is stopped; the guardian and the others go on.
        var broken = await guardian.Ask<IActorRef>(new PaseoGuardianProtocol.StartSubsystem(Akka.Actor.Props.Create(() => new Counting(true)), "terminals"));
        Watch(broken);
        ExpectTerminated(broken);
        Assert.Equal(["agents", "sessions"], (await guardian.Ask<PaseoGuardianProtocol.Subsystems>(PaseoGuardianProtocol.GetSubsystems.Instance)).Names);
        Assert.Equal(3, await agents.Ask<int>("count"));
    }
}
