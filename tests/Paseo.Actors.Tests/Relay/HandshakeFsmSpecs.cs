using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Relay.Handshake;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Identity;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Xunit.Abstractions;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;

namespace Paseo.Actors.Tests.Relay;

/// <summary>
/// The daemon's handshake FSM between a socket probe, a session probe (which takes every message, as a session does) and
/// a real client key ledger. Every bad frame must end in its documented close, and the session probe must receive nothing
/// from it. The acknowledgements that pace the socket (FrameHandled, MessageTaken) have specs of their own below.
/// </summary>
public sealed class HandshakeFsmSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static readonly HandshakeSettings Settings = HandshakeSettings.Default with { HelloTimeout = TimeSpan.FromSeconds(30), MaxFrameBytes = 4096, MaxFramesPerDirection = 1000 };

    private readonly BoxKeyPair _daemon = BoxKeyPair.Generate();
    private readonly BoxKeyPair _client = BoxKeyPair.Generate();
    private IActorRef? _clientKeys;
    private TestProbe _socket = null!;
    private TestProbe _session = null!;

    private byte[] SharedKey => NaclBox.SharedKey(_daemon.PublicKey, _client.SecretKey);

    /// <summary>One ledger for every FSM of a test, as the daemon has one for all its connections.</summary>
    private IActorRef ClientKeys => _clientKeys ??= Sys.ActorOf(ClientKeyLedgerActor.Props(ClientKeyLedger.InMemory(100), _daemon.PublicKey));

    /// <param name="paced">Keep the acknowledgements: the session probe does not take messages by itself and FrameHandled reaches the socket probe.</param>
    private TestFSMRef<HandshakeFsm, HandshakeState, HandshakeData> Create(HandshakeSettings? settings = null, IActorRef? clientKeys = null, bool paced = false)
    {
        _socket = CreateTestProbe();
        _session = CreateTestProbe();
        if (!paced)
        {
            _socket.IgnoreMessages(m => m is FrameHandled);
            _session.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
            {
                if (message is MessageReceived) sender.Tell(MessageTaken.Instance);
                return AutoPilot.KeepRunning;
            }));
        }
        return ActorOfAsTestFSMRef<HandshakeFsm, HandshakeState, HandshakeData>(HandshakeFsm.Props(_daemon, clientKeys ?? ClientKeys, _socket.Ref, _session.Ref, settings ?? Settings));
    }

    private static void Deliver(IActorRef fsm, WireFrame frame) => fsm.Tell(new FrameReceived(frame));

    private static void DeliverText(IActorRef fsm, string text) => Deliver(fsm, new WireFrame.Text(text));

    /// <summary>Hello, ready, and a first message (`{"type":"first"}`) that the session got with the channel.</summary>
    private TestFSMRef<HandshakeFsm, HandshakeState, HandshakeData> CreateOpen(HandshakeSettings? settings = null)
    {
        var fsm = Create(settings);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        Assert.Equal(E2eeFrames.ReadyFrame, _socket.ExpectMsg<SendFrame>().Frame is WireFrame.Text t ? t.Value : null);
        DeliverText(fsm, Encrypt("{\"type\":\"first\"}"));
        Assert.Equal(fsm.Ref, _session.ExpectMsg<ChannelOpened>().Channel);
        Assert.Equal("{\"type\":\"first\"}", _session.ExpectMsg<MessageReceived>().Message.Text);
        AwaitAssert(() => Assert.Equal(HandshakeState.Open, fsm.StateName));
        return fsm;
    }

    private string Encrypt(string text) => E2eeFrames.Encrypt(Encoding.UTF8.GetBytes(text), SharedKey).Frame;

    /// <summary>The socket is told to close with exactly this code and reason, and the FSM is Closed.</summary>
    private void ExpectClosed(TestFSMRef<HandshakeFsm, HandshakeState, HandshakeData> fsm, int code, string reason)
    {
        var close = _socket.ExpectMsg<CloseSocket>();
        Assert.Equal((code, reason), (close.Code, close.Reason));
        AwaitAssert(() => Assert.Equal(HandshakeState.Closed, fsm.StateName));
    }

    // ---- pacing: one frame at a time from the socket to the session ------------------------------------------------

    [Fact]
    public void The_first_message_reaches_the_session_only_once_the_ledger_has_recorded_the_client_key()
    {
        var ledger = CreateTestProbe();
        var fsm = Create(clientKeys: ledger.Ref, paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        // Ready at once: the key proves nothing yet, so nothing is recorded for it and the session knows of nothing.
        Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value);
        _socket.ExpectMsg<FrameHandled>();
        Assert.Equal(HandshakeState.Keyed, fsm.StateName);
        ledger.ExpectNoMsg(TimeSpan.Zero);

        // The first frame that decrypts proves the peer holds the pairing offer: now its key is recorded.
        DeliverText(fsm, Encrypt("{\"type\":\"hello\",\"clientId\":\"c1\"}"));
        var claim = ledger.ExpectMsg<ClientKeyLedgerProtocol.ClaimClientKey>();
        Assert.Equal(_client.PublicKey, claim.ClientPublicKey);
        Assert.Equal(_daemon.PublicKey, claim.DaemonPublicKey);
        Assert.Equal(HandshakeState.ClaimingKey, fsm.StateName);
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the next frame is not read before the key is on disk
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        ledger.Reply(ClientKeyLedgerProtocol.ClientKeyClaimed.Instance);
        Assert.Equal(fsm.Ref, _session.ExpectMsg<ChannelOpened>().Channel);
        Assert.Contains("c1", _session.ExpectMsg<MessageReceived>().Message.Text);
        AwaitAssert(() => Assert.Equal(HandshakeState.Delivering, fsm.StateName));
    }

    [Fact]
    public void Repeating_frames_does_not_push_the_handshake_deadline_back()
    {
        var fsm = Create(Settings with { HelloTimeout = TimeSpan.FromMilliseconds(400) });
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        // A peer without the pairing offer keeps answering with hellos and readies, never an encrypted message.
        AwaitAssert(() =>
        {
            DeliverText(fsm, E2eeFrames.ReadyFrame);
            Assert.Equal(HandshakeState.Closed, fsm.StateName);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        Assert.Contains("no encrypted message after e2ee_ready within", ((HandshakeData.Ended)fsm.StateData).Detail);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Hellos_from_anyone_who_only_knows_the_server_id_record_nothing()
    {
        var ledger = CreateTestProbe();
        var fsm = Create(clientKeys: ledger.Ref, paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        _socket.ExpectMsg<SendFrame>();
        _socket.ExpectMsg<FrameHandled>();
        // Without the daemon's public key nothing it sends decrypts: the connection ends and the ledger never hears of it.
        DeliverText(fsm, E2eeFrames.Encrypt(Encoding.UTF8.GetBytes("{}"), NaclBox.SharedKey(BoxKeyPair.Generate().PublicKey, _client.SecretKey)).Frame);
        ExpectClosed(fsm, 1011, "Decryption failed");
        ledger.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_client_key_the_ledger_refuses_closes_the_connection_before_the_session_hears_of_it()
    {
        var ledger = CreateTestProbe();
        var fsm = Create(clientKeys: ledger.Ref, paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        DeliverText(fsm, Encrypt("{\"type\":\"hello\"}"));
        _socket.ExpectMsg<SendFrame>();
        _socket.ExpectMsg<FrameHandled>();
        ledger.ExpectMsg<ClientKeyLedgerProtocol.ClaimClientKey>();
        ledger.Reply(new ClientKeyLedgerProtocol.ClientKeyRefused("the client key ledger is full (100 keys, paseo.e2ee.remembered-client-keys)"));

        ExpectClosed(fsm, 1011, "E2EE handshake failed");
        Assert.Contains("ledger is full", ((HandshakeData.Ended)fsm.StateData).Detail);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_ledger_that_does_not_answer_fails_the_handshake_at_the_hello_timeout()
    {
        var ledger = CreateTestProbe();
        var fsm = Create(Settings with { HelloTimeout = TimeSpan.FromMilliseconds(300) }, ledger.Ref, paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        DeliverText(fsm, Encrypt("{\"type\":\"hello\"}"));
        ledger.ExpectMsg<ClientKeyLedgerProtocol.ClaimClientKey>();

        var close = _socket.FishForMessage<CloseSocket>(_ => true, TimeSpan.FromSeconds(10));
        Assert.Equal((1011, "E2EE handshake failed"), (close.Code, close.Reason));
        AwaitAssert(() => Assert.Contains("ledger did not answer", ((HandshakeData.Ended)fsm.StateData).Detail));
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_decrypted_message_is_handled_for_the_socket_only_once_the_session_took_it()
    {
        var fsm = Create(paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        _socket.ExpectMsg<SendFrame>();
        _socket.ExpectMsg<FrameHandled>();

        DeliverText(fsm, Encrypt("{\"type\":\"ping\"}"));
        _session.ExpectMsg<ChannelOpened>();
        Assert.Equal("{\"type\":\"ping\"}", _session.ExpectMsg<MessageReceived>().Message.Text);
        AwaitAssert(() => Assert.Equal(HandshakeState.Delivering, fsm.StateName));
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the socket owner reads nothing more meanwhile

        // While the message is with the session, the channel still sends and still closes.
        fsm.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")), _session.Ref);
        _socket.ExpectMsg<SendFrame>();

        fsm.Tell(MessageTaken.Instance, _session.Ref);
        _socket.ExpectMsg<FrameHandled>();
        AwaitAssert(() => Assert.Equal(HandshakeState.Open, fsm.StateName));

        DeliverText(fsm, Encrypt("{\"type\":\"second\"}"));
        Assert.Contains("second", _session.ExpectMsg<MessageReceived>().Message.Text);
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        fsm.Tell(MessageTaken.Instance, _session.Ref);
        _socket.ExpectMsg<FrameHandled>();
    }

    [Fact]
    public void Frames_that_give_the_session_nothing_are_handled_at_once()
    {
        var fsm = Create(paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        _socket.ExpectMsg<SendFrame>();
        _socket.ExpectMsg<FrameHandled>();

        DeliverText(fsm, E2eeFrames.ReadyFrame);
        _socket.ExpectMsg<FrameHandled>();
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        _socket.ExpectMsg<SendFrame>();
        _socket.ExpectMsg<FrameHandled>();
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void The_peer_closing_while_a_message_is_with_the_session_ends_the_channel()
    {
        var fsm = Create(paced: true);
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        DeliverText(fsm, Encrypt("{\"type\":\"ping\"}"));
        _session.ExpectMsg<ChannelOpened>();
        _session.ExpectMsg<MessageReceived>();

        fsm.Tell(new PeerClosed(1001, "Client disconnected"));

        var closed = _session.ExpectMsg<ChannelClosed>();
        Assert.Equal((1001, "Client disconnected"), (closed.Code, closed.Reason));
        AwaitAssert(() => Assert.Equal(HandshakeState.Closed, fsm.StateName));
        fsm.Tell(MessageTaken.Instance, _session.Ref); // late: nothing more happens
        _socket.FishForMessage(m => m is CloseSocket);
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    // ---- the handshake and the checks of every frame ---------------------------------------------------------------

    [Fact]
    public void A_valid_hello_opens_the_channel_and_frames_reach_the_session_decrypted()
    {
        var fsm = CreateOpen();
        DeliverText(fsm, Encrypt("{\"type\":\"hello\",\"clientId\":\"c1\"}"));
        Deliver(fsm, new WireFrame.Text(E2eeFrames.Encrypt([0x01, 0x00, 0xff], SharedKey).Frame));

        var text = _session.ExpectMsg<MessageReceived>().Message;
        Assert.True(text.IsText);
        Assert.Equal("{\"type\":\"hello\",\"clientId\":\"c1\"}", text.Text);
        var binary = _session.ExpectMsg<MessageReceived>().Message;
        Assert.False(binary.IsText);
        Assert.Equal(new byte[] { 0x01, 0x00, 0xff }, binary.Bytes.ToArray());
    }

    [Fact]
    public void Session_messages_go_out_encrypted_with_a_fresh_nonce_each()
    {
        var fsm = CreateOpen();
        fsm.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")), _session.Ref);
        fsm.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")), _session.Ref);

        var first = ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value;
        var second = ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value;
        Assert.NotEqual(first, second);
        var (plaintext, _, failure) = E2eeFrames.Decrypt(first, SharedKey);
        Assert.Equal(DecryptFailure.None, failure);
        Assert.Equal("{\"type\":\"pong\"}", Encoding.UTF8.GetString(plaintext!));
    }

    [Fact]
    public void Commands_before_the_handshake_never_reach_the_session()
    {
        var fsm = Create();
        // A well-formed encrypted command, but no hello came first.
        DeliverText(fsm, Encrypt("{\"type\":\"session\",\"message\":{\"type\":\"create_agent_request\"}}"));

        ExpectClosed(fsm, 1011, "E2EE handshake failed");
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        DeliverText(fsm, Encrypt("{\"type\":\"ping\"}"));
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Sends_from_the_session_before_the_handshake_are_dropped()
    {
        var fsm = Create();
        fsm.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")));
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value);
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void No_hello_within_the_timeout_closes_the_socket()
    {
        var fsm = Create(Settings with { HelloTimeout = TimeSpan.FromMilliseconds(300) });
        var close = _socket.ExpectMsg<CloseSocket>(TimeSpan.FromSeconds(10));
        Assert.Equal((1011, "E2EE handshake failed"), (close.Code, close.Reason));
        // The timeout runs on the scheduler's thread: the new state is committed just after CloseSocket is sent.
        AwaitAssert(() => Assert.Equal(HandshakeState.Closed, fsm.StateName));
        Assert.Contains("no e2ee_hello within", ((HandshakeData.Ended)fsm.StateData).Detail);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    public static TheoryData<string, string> BadFirstFrames()
    {
        var zero = new byte[32];
        var data = new TheoryData<string, string>
        {
            { "not json at all", "the first frame is not an e2ee_hello" },
            { "{\"type\":\"e2ee_hello\"", "the first frame is not an e2ee_hello" },
            { "{\"type\":\"hello\",\"clientId\":\"x\"}", "the first frame is not an e2ee_hello" },
            { "{\"type\":\"e2ee_ready\"}", "the first frame is not an e2ee_hello" },
            { "{\"type\":\"e2ee_hello\",\"key\":42}", "the first frame is not an e2ee_hello" },
            { "{\"type\":\"e2ee_hello\",\"key\":\"\"}", "not 32 bytes" },
            { "{\"type\":\"e2ee_hello\",\"key\":\"" + Convert.ToBase64String(new byte[31]) + "\"}", "not 32 bytes" },
            { "{\"type\":\"e2ee_hello\",\"key\":\"" + Convert.ToBase64String(new byte[33]) + "\"}", "not 32 bytes" },
            { "{\"type\":\"e2ee_hello\",\"key\":\"not base64 at all!!\"}", "not 32 bytes" },
            { E2eeFrames.HelloFrame(zero), "low-order" },
        };
        foreach (var lowOrder in new[]
                 {
                     "0100000000000000000000000000000000000000000000000000000000000000",
                     "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                     "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                     "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                 })
            data.Add(E2eeFrames.HelloFrame(Convert.FromHexString(lowOrder)), "low-order");
        return data;
    }

    [Theory]
    [MemberData(nameof(BadFirstFrames))]
    public void A_bad_first_frame_closes_1011_and_reaches_nobody(string frame, string detail)
    {
        var fsm = Create();
        DeliverText(fsm, frame);

        ExpectClosed(fsm, 1011, "E2EE handshake failed");
        Assert.Contains(detail, ((HandshakeData.Ended)fsm.StateData).Detail);
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_client_key_that_opened_an_earlier_connection_is_a_replayed_handshake()
    {
        // A relay recorded a whole session (hello + frames) and plays it on a new connection: the same client key would
        // give the same shared key, and a new connection starts with no nonces remembered.
        var recordedFrame = Encrypt("{\"type\":\"session\",\"message\":{\"type\":\"send_agent_message_request\"}}");
        var first = CreateOpen();
        DeliverText(first, recordedFrame);
        Assert.NotNull(_session.ExpectMsg<MessageReceived>());

        var replay = Create();
        DeliverText(replay, E2eeFrames.HelloFrame(_client.PublicKey));
        Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value);
        DeliverText(replay, recordedFrame);

        ExpectClosed(replay, 1011, "E2EE handshake failed");
        Assert.Contains("replayed handshake", ((HandshakeData.Ended)replay.StateData).Detail);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // not the recorded command, not even the channel
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_binary_first_frame_is_refused_even_if_it_holds_a_hello()
    {
        var fsm = Create();
        Deliver(fsm, new WireFrame.Binary(Encoding.UTF8.GetBytes(E2eeFrames.HelloFrame(_client.PublicKey))));

        ExpectClosed(fsm, 1011, "E2EE handshake failed");
        Assert.Contains("binary", ((HandshakeData.Ended)fsm.StateData).Detail);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_first_frame_over_the_hello_limit_closes_1009_before_it_is_parsed()
    {
        var fsm = Create();
        // Far below the frame limit of an open channel (4096 here), far above any real hello.
        DeliverText(fsm, "{\"type\":\"e2ee_hello\",\"key\":\"" + new string('A', 2000) + "\"}");
        ExpectClosed(fsm, 1009, "Frame too large");
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    public static TheoryData<string> BadOpenFrames => new() { "tampered", "truncated-nonce", "truncated-tag", "bad-base64", "oversize", "plaintext-json", "replayed", "reflected", "other-key-hello" };

    [Theory]
    [MemberData(nameof(BadOpenFrames))]
    public void A_bad_frame_after_open_closes_with_its_code_and_reason_and_the_session_gets_only_the_close(string kind)
    {
        var fsm = CreateOpen();
        var good = Encrypt("{\"type\":\"ping\"}");
        DeliverText(fsm, good);
        Assert.Equal("{\"type\":\"ping\"}", _session.ExpectMsg<MessageReceived>().Message.Text);
        fsm.Tell(new Send(E2eeMessage.FromText("{\"type\":\"pong\"}")), _session.Ref);
        var ours = ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value;

        var (frame, code, reason) = kind switch
        {
            "tampered" => (Tamper(Encrypt("{\"type\":\"session\"}")), 1011, "Decryption failed"),
            "truncated-nonce" => (Convert.ToBase64String(Convert.FromBase64String(good)[..20]), 1011, "Ciphertext bundle too short"),
            "truncated-tag" => (Convert.ToBase64String(Convert.FromBase64String(good)[..30]), 1011, "Decryption failed"),
            "bad-base64" => ("this is *not* base64 ~~~", 1011, "Ciphertext bundle too short"),
            "oversize" => (new string('A', 4100), 1009, "Frame too large"),
            "plaintext-json" => ("{\"type\":\"session\",\"message\":{\"type\":\"delete_agent_request\"}}", 1011, "Received plaintext frame on encrypted channel"),
            "replayed" => (good, 1011, "Replayed frame"),
            "reflected" => (ours, 1011, "Reflected frame"),
            "other-key-hello" => (E2eeFrames.HelloFrame(BoxKeyPair.Generate().PublicKey), 1011, "E2EE handshake failed"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        DeliverText(fsm, frame);

        ExpectClosed(fsm, code, reason);
        var closed = _session.ExpectMsg<ChannelClosed>();
        Assert.Equal((code, reason), (closed.Code, closed.Reason));
        // Nothing more: not the bad frame, nor anything after it.
        DeliverText(fsm, Encrypt("{\"type\":\"ping\"}"));
        fsm.Tell(new Send(E2eeMessage.FromText("late")), _session.Ref);
        _session.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        _socket.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_binary_frame_after_open_is_read_as_base64_text_as_paseo_does()
    {
        var fsm = CreateOpen();
        Deliver(fsm, new WireFrame.Binary(Encoding.UTF8.GetBytes(Encrypt("{\"type\":\"ping\"}"))));
        Assert.Equal("{\"type\":\"ping\"}", _session.ExpectMsg<MessageReceived>().Message.Text);
    }

    [Fact]
    public void A_repeated_hello_with_the_same_key_gets_ready_again_and_stays_open()
    {
        var fsm = CreateOpen();
        DeliverText(fsm, E2eeFrames.HelloFrame(_client.PublicKey));
        DeliverText(fsm, E2eeFrames.ReadyFrame);
        Assert.Equal(E2eeFrames.ReadyFrame, ((WireFrame.Text)_socket.ExpectMsg<SendFrame>().Frame).Value);
        Assert.Equal(HandshakeState.Open, fsm.StateName);

        DeliverText(fsm, Encrypt("{\"type\":\"ping\"}"));
        Assert.Equal("{\"type\":\"ping\"}", _session.ExpectMsg<MessageReceived>().Message.Text);
    }

    [Fact]
    public void The_frame_budget_closes_the_connection_so_the_client_re_handshakes()
    {
        var fsm = CreateOpen(Settings with { MaxFramesPerDirection = 3 }); // the first message is one of them
        DeliverText(fsm, Encrypt("1"));
        DeliverText(fsm, Encrypt("2"));
        _session.ExpectMsg<MessageReceived>();
        _session.ExpectMsg<MessageReceived>();

        DeliverText(fsm, Encrypt("3"));

        ExpectClosed(fsm, 1011, "Frame budget exhausted, reconnect");
        Assert.Equal(1011, _session.ExpectMsg<ChannelClosed>().Code);
    }

    [Fact]
    public void The_peer_closing_tells_the_session()
    {
        var fsm = CreateOpen();
        fsm.Tell(new PeerClosed(1001, "Client disconnected"));
        var closed = _session.ExpectMsg<ChannelClosed>();
        Assert.Equal((1001, "Client disconnected"), (closed.Code, closed.Reason));
        Assert.Equal(HandshakeState.Closed, fsm.StateName);
    }

    private static string Tamper(string frame)
    {
        var bytes = Convert.FromBase64String(frame);
        bytes[^1] ^= 0x80; // the last ciphertext byte (the tag is bytes 24-39)
        return Convert.ToBase64String(bytes);
    }
}
