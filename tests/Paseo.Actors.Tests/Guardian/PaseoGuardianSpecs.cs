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
}
