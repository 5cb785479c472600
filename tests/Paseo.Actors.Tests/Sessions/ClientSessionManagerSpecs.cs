using Akka.Actor;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions;
using Paseo.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Sessions;

/// <summary>The session manager keeps a socket's two actors together: a channel that ends takes its connection with it.</summary>
public sealed class ClientSessionManagerSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    [Fact]
    public void A_channel_that_ends_before_its_connection_heard_of_it_takes_the_connection_with_it()
    {
        var manager = Sys.ActorOf(ClientSessionManager.Props(CreateTestProbe().Ref, CreateTestProbe().Ref, new Dictionary<string, IAgentProvider>(), SessionSettings.Default));
        // A relay handshake that fails before the channel opens: its connection is never told anything.
        manager.Tell(new ClientSessionManager.Connect(_ => Props.Create(() => new EndsAtOnce())));
        var connected = ExpectMsg<ClientSessionManager.Connected>();
        Watch(connected.Connection);
        ExpectTerminated(connected.Connection);
    }

    private sealed class EndsAtOnce : ReceiveActor
    {
        protected override void PreStart() => Context.Stop(Self);
    }
}
