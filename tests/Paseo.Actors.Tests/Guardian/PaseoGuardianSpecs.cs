using Akka.Actor;
using Paseo.Actors.Guardian;
using Paseo.Transport.Identity;
using Xunit.Abstractions;
using static Paseo.Actors.Guardian.PaseoGuardianProtocol;

namespace Paseo.Actors.Tests.Guardian;

public sealed class PaseoGuardianSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("akka.loglevel = WARNING", output)
{
    private static readonly ServerInfo Info = new(ServerId.From("srv_test"), "host", "1.2.3", "127.0.0.1:0", DateTimeOffset.UnixEpoch);

    [Fact]
    public void Answers_server_info()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info));
        guardian.Tell(GetServerInfo.Instance);
        ExpectMsg(Info);
    }

    [Fact]
    public void Reports_the_address_actually_bound()
    {
        var guardian = Sys.ActorOf(PaseoGuardian.Props(Info));
        guardian.Tell(new ListenerBound("127.0.0.1:40123"));
        guardian.Tell(GetServerInfo.Instance);
        var info = ExpectMsg<ServerInfo>();
        Assert.Equal("127.0.0.1:40123", info.Listen);
        Assert.Equal(Info.ServerId, info.ServerId);
    }
}
