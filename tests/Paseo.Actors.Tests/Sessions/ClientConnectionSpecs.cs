using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Sessions;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Crypto;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;
using static Paseo.Actors.Sessions.SessionProtocol;

namespace Paseo.Actors.Tests.Sessions;

/// <summary>
/// A client connection between a channel probe and a session-manager probe: what it answers by itself at once, and what
/// it lets the channel read next only once the session has taken it.
/// </summary>
public sealed class ClientConnectionSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private const string Hello = "{\"type\":\"hello\",\"clientId\":\"cid_1\",\"clientType\":\"cli\",\"protocolVersion\":1}";
    private static string Session(string type, string requestId) => $"{{\"type\":\"session\",\"message\":{{\"type\":\"{type}\",\"requestId\":\"{requestId}\"}}}}";

    private TestProbe _channel = null!;
    private TestProbe _sessions = null!;

    private IActorRef Create()
    {
        _channel = CreateTestProbe();
        _sessions = CreateTestProbe();
        var connection = Sys.ActorOf(ClientConnectionActor.Props(_sessions.Ref, SessionSettings.Default));
        connection.Tell(new ChannelOpened(_channel.Ref), _channel.Ref);
        return connection;
    }

    private void Receive(IActorRef connection, string text) => connection.Tell(new MessageReceived(E2eeMessage.FromText(text)), _channel.Ref);

    [Fact]
    public void A_session_message_is_taken_only_when_the_session_has_taken_it()
    {
        var connection = Create();
        var session = CreateTestProbe();
        Receive(connection, Hello);
        _channel.ExpectMsg<MessageTaken>();
        _sessions.ExpectMsg<Attach>();
        connection.Tell(new Attached(session.Ref));

        Receive(connection, Session("fetch_agents_request", "r1"));
        var inbound = session.ExpectMsg<Inbound>();
        Assert.Equal(("fetch_agents_request", "r1"), (inbound.Type, inbound.RequestId));
        _channel.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the socket stays unread while the session has it

        connection.Tell(InboundTaken.Instance, session.Ref);
        _channel.ExpectMsg<MessageTaken>();
    }

    [Fact]
    public void A_session_message_sent_right_after_hello_waits_for_the_session_and_keeps_its_place()
    {
        var connection = Create();
        var session = CreateTestProbe();
        Receive(connection, Hello);
        _channel.ExpectMsg<MessageTaken>();
        Receive(connection, Session("fetch_agent_request", "early"));
        _channel.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // held, not taken: the channel delivers nothing more

        connection.Tell(new Attached(session.Ref));
        Assert.Equal("early", session.ExpectMsg<Inbound>().RequestId);
        connection.Tell(InboundTaken.Instance, session.Ref);
        _channel.ExpectMsg<MessageTaken>();
    }

    [Fact]
    public void Pings_and_invalid_messages_are_answered_and_taken_at_once()
    {
        var connection = Create();
        Receive(connection, "{\"type\":\"ping\"}");
        Assert.Contains("pong", _channel.ExpectMsg<Send>().Message.Text);
        _channel.ExpectMsg<MessageTaken>();

        Receive(connection, Hello);
        _channel.ExpectMsg<MessageTaken>();
        connection.Tell(new Attached(CreateTestProbe().Ref));
        Receive(connection, "{\"type\":\"session\",\"message\":{\"requestId\":\"bad\"}}");
        Assert.Contains("\"requestId\":\"bad\"", _channel.ExpectMsg<Send>().Message.Text);
        _channel.ExpectMsg<MessageTaken>();
    }

    [Fact]
    public void A_session_message_before_hello_closes_4002()
    {
        var connection = Create();
        Receive(connection, Session("fetch_agents_request", "r1"));
        var close = _channel.ExpectMsg<CloseChannel>();
        Assert.Equal((4002, "Session message before hello"), (close.Code, close.Reason));
        _channel.ExpectMsg<MessageTaken>();
        _sessions.ExpectNoMsg(TimeSpan.Zero);
    }
}
