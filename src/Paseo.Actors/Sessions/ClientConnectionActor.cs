using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Relay.Handshake.HandshakeProtocol;
using static Paseo.Actors.Sessions.SessionProtocol;

namespace Paseo.Actors.Sessions;

/// <summary>
/// One client socket, direct or relayed (it only sees its channel's messages). Speaks the WS level of the protocol
/// (app-protocol.md §1.2): the hello within the hello timeout (else 4001), ping/pong at any time, 4002 for anything but
/// a hello first or a second hello, 4003 for another protocol version; then hands session messages to its
/// ClientSessionActor and the session's frames back to the socket.
/// <para>
/// Phases: awaiting the hello → attaching (hello accepted, the session not yet known) → attached → closing. Each message
/// from the channel is answered <see cref="MessageTaken"/> once it is done with — a session message once the session
/// has taken it — so at most one message of this socket is anywhere between the socket and the session.
/// </para>
/// </summary>
public sealed class ClientConnectionActor : ReceiveActor, IWithTimers, IWithStash
{
    public const int HelloTimeoutCode = 4001;
    public const int InvalidHelloCode = 4002;
    public const int IncompatibleVersionCode = 4003;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _sessions;
    private readonly SessionSettings _settings;
    private IActorRef? _channel;
    private IActorRef? _session;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public ClientConnectionActor(IActorRef sessions, SessionSettings settings)
    {
        _sessions = sessions;
        _settings = settings;
        AwaitingHello();
    }

    public static Props Props(IActorRef sessions, SessionSettings settings) =>
        Akka.Actor.Props.Create(() => new ClientConnectionActor(sessions, settings));

    private void AwaitingHello()
    {
        Receive<ChannelOpened>(opened =>
        {
            _channel = opened.Channel;
            Timers.StartSingleTimer("hello", HelloTimedOut.Instance, _settings.HelloTimeout);
        });
        Receive<HelloTimedOut>(_ => Close(HelloTimeoutCode, "Hello timeout"));
        Receive<MessageReceived>(received =>
        {
            var message = Parse(received);
            switch (message)
            {
                case WsInbound.Ping or WsInbound.RecordingState:
                    AnswerAtWsLevel(message);
                    break;
                case null when IsTerminalFrame(received):
                    Close(InvalidHelloCode, "Session message before hello");
                    break;
                case null:
                    Close(InvalidHelloCode, "Invalid hello");
                    break;
                case WsInbound.Hello hello when hello.ClientId.Trim().Length == 0:
                    Close(InvalidHelloCode, "Invalid hello");
                    break;
                case WsInbound.Hello { ProtocolVersion: not 1 }:
                    Close(IncompatibleVersionCode, "Incompatible protocol version");
                    break;
                case WsInbound.Hello hello:
                    // The same deadline bounds the wait for the session (its server_info): a lost attach cannot hold the socket.
                    _sessions.Tell(new Attach(ClientSessionId.From(hello.ClientId), hello.ClientType, hello.ReasoningMergeEnum, Self));
                    BecomeWithCommon(Attaching);
                    break;
                case WsInbound.Session:
                    Close(InvalidHelloCode, "Session message before hello");
                    break;
                default:
                    Close(InvalidHelloCode, "Invalid hello");
                    break;
            }
            Taken();
        });
        Common();
    }

    /// <summary>Hello sent, session not known yet: a session message waits (the channel sends nothing more until it is taken).</summary>
    private void Attaching()
    {
        Receive<HelloTimedOut>(_ => Close(CloseCodes.TryAgainLater, "Session unavailable"));
        Receive<Attached>(attached =>
        {
            Timers.Cancel("hello");
            _session = attached.Session;
            Context.WatchWith(_session, SessionGone.Instance);
            BecomeWithCommon(AttachedToSession);
            Stash.UnstashAll();
        });
        Receive<AttachRefused>(refused => Close(CloseCodes.TryAgainLater, refused.Reason));
        Receive<MessageReceived>(received =>
        {
            if (IsTerminalFrame(received) || Parse(received) is WsInbound.Session) Stash.Stash(); // at most one: it is not taken until the session has it
            else OnAfterHello(received);
        });
    }

    private void AttachedToSession()
    {
        Receive<MessageReceived>(OnAfterHello);
        // The session took the message this connection gave it: the channel may deliver the next one.
        Receive<InboundTaken>(_ => Taken());
    }

    private void Closing()
    {
        // The channel is closing; whatever still arrives is let go so it is not left waiting.
        Receive<MessageReceived>(_ => Taken());
        Receive<InboundTaken>(_ => Taken());
        Receive<ChannelClosed>(_ => Context.Stop(Self));
        Receive<ChannelEnded>(_ => Context.Stop(Self));
        ReceiveAny(_ => { });
    }

    /// <summary>What every phase but closing does.</summary>
    private void Common()
    {
        Receive<Outbound>(outbound => Send(outbound.Json));
        Receive<OutboundBinary>(outbound => _channel?.Tell(new Send(E2eeMessage.FromBytes(outbound.Frame))));
        Receive<AfterOutbound>(after => _channel?.Tell(new ChannelBarrier(after.Event)));
        Receive<SessionGone>(_ => Close(CloseCodes.InternalError, "Session ended"));
        Receive<ChannelClosed>(_ => Context.Stop(Self));
        Receive<ChannelEnded>(_ => Context.Stop(Self));
    }

    private void BecomeWithCommon(Action phase) => Become(() =>
    {
        phase();
        Common();
    });

    /// <summary>After the hello: pings, a hello again (4002), session messages to the session, invalid ones answered here.</summary>
    private void OnAfterHello(MessageReceived received)
    {
        var message = Parse(received);
        switch (message)
        {
            case WsInbound.Ping or WsInbound.RecordingState:
                AnswerAtWsLevel(message);
                break;
            case null when _session is not null && IsTerminalFrame(received):
                // Input or Resize for one of the session's stream slots; taken when the session answers InboundTaken.
                _session.Tell(new SessionProtocol.InboundFrame(received.Message.Bytes, Self));
                return;
            case null:
                // Bytes that are neither a terminal frame nor JSON (a client sends no file frames): ignored.
                break;
            case WsInbound.Hello:
                Close(InvalidHelloCode, "Unexpected hello");
                break;
            case WsInbound.Session session when _session is not null:
                // Taken (and the channel told) when the session answers InboundTaken.
                _session.Tell(new Inbound(session.Type, session.RequestId, session.Message, Self));
                return;
            case WsInbound.Invalid invalid:
                if (invalid.RequestId is { } requestId)
                    Send(invalid.OuterTypeIsSession
                        ? WsOutbound.RpcError(requestId, null, "Unknown request schema", "unknown_schema")
                        : WsOutbound.RpcError(requestId, null, $"Invalid message: {invalid.Reason}", "invalid_message"));
                else Send(WsOutbound.StatusError($"Invalid message: {invalid.Reason}"));
                break;
        }
        Taken();
    }

    /// <summary>The WS-level messages every phase answers alike: a ping gets a pong, recording_state is accepted and ignored.</summary>
    private void AnswerAtWsLevel(WsInbound message)
    {
        if (message is WsInbound.Ping) Send(WsOutbound.Pong);
    }

    /// <summary>
    /// Classified by the first byte, whatever the WebSocket frame type or whether it came encrypted (app-workspaces.md
    /// §5.4): a terminal frame is at least 2 bytes starting 0x01–0x04; anything else is JSON text or nothing.
    /// </summary>
    private static WsInbound? Parse(MessageReceived received) =>
        received.Message.IsText && !IsTerminalFrame(received) ? WsInbound.Parse(received.Message.Text) : null;

    private static bool IsTerminalFrame(MessageReceived received) => BinaryFrames.ReadTerminal(received.Message.Bytes) is not null;

    /// <summary>Done with the channel's last message: it may deliver the next.</summary>
    private void Taken() => _channel?.Tell(MessageTaken.Instance);

    private void Send(string json) => _channel?.Tell(new Send(E2eeMessage.FromText(json)));

    private void Close(int code, string reason)
    {
        _log.Debug("Closing client connection: {0} {1}", code, reason);
        _channel?.Tell(new CloseChannel(code, reason));
        Timers.CancelAll();
        Become(Closing);
    }

    /// <summary>
    /// From the manager: the channel actor stopped. Usually the connection has stopped already on its ChannelClosed (so
    /// this goes unheard, quietly); a relay handshake that failed before the channel opened never told it anything.
    /// </summary>
    internal sealed record ChannelEnded : INoSerializationVerificationNeeded, IDeadLetterSuppression
    {
        public static readonly ChannelEnded Instance = new();
    }

    private sealed record HelloTimedOut : INoSerializationVerificationNeeded
    {
        public static readonly HelloTimedOut Instance = new();
    }

    private sealed record SessionGone : INoSerializationVerificationNeeded
    {
        public static readonly SessionGone Instance = new();
    }
}
