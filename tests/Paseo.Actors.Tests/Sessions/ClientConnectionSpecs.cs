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

    /// <summary>A connection past its hello, attached to a session probe.</summary>
    private (IActorRef Connection, TestProbe Session) CreateAttached()
    {
        var connection = Create();
        var session = CreateTestProbe();
        Receive(connection, Hello);
        _channel.ExpectMsg<MessageTaken>();
        _sessions.ExpectMsg<Attach>();
        connection.Tell(new Attached(session.Ref));
        return (connection, session);
    }

    private void Receive(IActorRef connection, string text) => connection.Tell(new MessageReceived(E2eeMessage.FromText(text)), _channel.Ref);

    [Fact]
    public void A_session_message_is_taken_only_when_the_session_has_taken_it()
    {
        var (connection, session) = CreateAttached();

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

    [Fact]
    public void Terminal_frames_are_told_from_json_by_their_first_byte_whatever_the_frame_type()
    {
        var (connection, session) = CreateAttached();

        // A binary Input frame goes to the session as a frame, and is taken only when the session has it.
        connection.Tell(new MessageReceived(E2eeMessage.FromBytes(new byte[] { 0x02, 0x00, (byte)'l', (byte)'s' })), _channel.Ref);
        Assert.Equal(new byte[] { 0x02, 0x00, (byte)'l', (byte)'s' }, session.ExpectMsg<SessionProtocol.InboundFrame>().Frame.ToArray());
        _channel.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        connection.Tell(InboundTaken.Instance, session.Ref);
        _channel.ExpectMsg<MessageTaken>();

        // The same bytes as text (a decrypted plaintext that is valid UTF-8) are a frame too, not invalid JSON.
        Receive(connection, "\u0003\u0000{\"rows\":4,\"cols\":5}");
        Assert.Equal(0x03, session.ExpectMsg<SessionProtocol.InboundFrame>().Frame.Span[0]);
        connection.Tell(InboundTaken.Instance, session.Ref);
        _channel.ExpectMsg<MessageTaken>();

        // Other bytes (a file frame from a client, which no client sends) are taken and dropped; JSON is still JSON.
        connection.Tell(new MessageReceived(E2eeMessage.FromBytes(new byte[] { 0x10, 0x01, 0x41 })), _channel.Ref);
        _channel.ExpectMsg<MessageTaken>();
        Receive(connection, Session("fetch_agents_request", "r2"));
        Assert.Equal("fetch_agents_request", session.ExpectMsg<Inbound>().Type);
    }

    [Fact]
    public void A_terminal_frame_before_hello_closes_4002_as_a_session_message()
    {
        var connection = Create();
        connection.Tell(new MessageReceived(E2eeMessage.FromBytes(new byte[] { 0x01, 0x00, 0x41 })), _channel.Ref);
        Assert.Equal(new CloseChannel(4002, "Session message before hello"), _channel.ExpectMsg<CloseChannel>());
    }
}
