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
    private bool _helloSeen;
    private bool _closing;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public ClientConnectionActor(IActorRef sessions, SessionSettings settings)
    {
        _sessions = sessions;
        _settings = settings;

        Receive<ChannelOpened>(opened =>
        {
            _channel = opened.Channel;
            Timers.StartSingleTimer("hello", HelloTimedOut.Instance, _settings.HelloTimeout);
        });
        Receive<HelloTimedOut>(_ =>
        {
            if (!_helloSeen) Close(HelloTimeoutCode, "Hello timeout");
        });
        Receive<MessageReceived>(OnMessage);
        Receive<Attached>(attached =>
        {
            _session = attached.Session;
            Context.WatchWith(_session, SessionGone.Instance);
            Stash.UnstashAll();
        });
        Receive<AttachRefused>(refused => Close(CloseCodes.TryAgainLater, refused.Reason));
        Receive<Outbound>(outbound => Send(outbound.Json));
        Receive<AfterOutbound>(after => _channel?.Tell(new ChannelBarrier(after.Event)));
        Receive<SessionGone>(_ => Close(CloseCodes.InternalError, "Session ended"));
        Receive<ChannelClosed>(_ => Context.Stop(Self));
    }

    public static Props Props(IActorRef sessions, SessionSettings settings) =>
        Akka.Actor.Props.Create(() => new ClientConnectionActor(sessions, settings));

    private void OnMessage(MessageReceived received)
    {
        if (_closing) return;
        if (!received.Message.IsText)
        {
            // Binary frames are terminal and file streams, which need a session; before hello they are an invalid hello.
            if (!_helloSeen) Close(InvalidHelloCode, "Invalid hello");
            return;
        }
        switch (WsInbound.Parse(received.Message.Text))
        {
            case WsInbound.Ping:
                Send(WsOutbound.Pong);
                break;
            case WsInbound.RecordingState:
                break;
            case WsInbound.Hello when _helloSeen:
                Close(InvalidHelloCode, "Unexpected hello");
                break;
            case WsInbound.Hello hello:
                if (hello.ClientId.Trim().Length == 0)
                {
                    Close(InvalidHelloCode, "Invalid hello");
                    break;
                }
                if (hello.ProtocolVersion != 1)
                {
                    Close(IncompatibleVersionCode, "Incompatible protocol version");
                    break;
                }
                _helloSeen = true;
                Timers.Cancel("hello");
                _sessions.Tell(new Attach(ClientSessionId.From(hello.ClientId), hello.ClientType, hello.ReasoningMergeEnum, Self));
                break;
            case WsInbound.Session when !_helloSeen:
                Close(InvalidHelloCode, "Session message before hello");
                break;
            case WsInbound.Session when _session is null:
                // Hello sent, session not attached yet: keep the order.
                Stash.Stash();
                break;
            case WsInbound.Session session:
                _session.Tell(new Inbound(session.Type, session.RequestId, session.Message, Self));
                break;
            case WsInbound.Invalid when !_helloSeen:
                Close(InvalidHelloCode, "Invalid hello");
                break;
            case WsInbound.Invalid invalid:
                if (invalid.RequestId is { } requestId)
                    Send(invalid.OuterTypeIsSession
                        ? WsOutbound.RpcError(requestId, null, "Unknown request schema", "unknown_schema")
                        : WsOutbound.RpcError(requestId, null, $"Invalid message: {invalid.Reason}", "invalid_message"));
                else Send(WsOutbound.StatusError($"Invalid message: {invalid.Reason}"));
                break;
        }
    }

    private void Send(string json)
    {
        if (!_closing) _channel?.Tell(new Send(E2eeMessage.FromText(json)));
    }

    private void Close(int code, string reason)
    {
        if (_closing) return;
        _closing = true;
        _log.Debug("Closing client connection: {0} {1}", code, reason);
        _channel?.Tell(new CloseChannel(code, reason));
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
