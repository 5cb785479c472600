using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers;
using static Paseo.Actors.Sessions.SessionProtocol;

namespace Paseo.Actors.Sessions;

/// <summary>
/// `sessions`: one <see cref="ClientSessionActor"/> per clientId. A reconnect with the same clientId re-attaches to the
/// existing session (within its grace period); the number of sessions is bounded. Also the parent of every client
/// connection, so that <c>Connect</c> is one message for the front door and for the relay.
/// </summary>
public sealed class ClientSessionManager : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<ClientSessionId, IActorRef> _sessions = [];
    private readonly SessionSettings _settings;
    private long _sockets;

    public ClientSessionManager(IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings, SessionServices? workspaces)
    {
        _settings = settings;
        Receive<Attach>(attach =>
        {
            if (!_sessions.TryGetValue(attach.ClientId, out var session))
            {
                if (_sessions.Count >= settings.MaxSessions)
                {
                    attach.Connection.Tell(new AttachRefused($"Too many client sessions (paseo.sessions.max-sessions = {settings.MaxSessions})"));
                    return;
                }
                session = Context.ActorOf(ClientSessionActor.Props(attach.ClientId, agents, guardian, providers, settings, workspaces), "session-" + Uri.EscapeDataString(attach.ClientId.Value));
                Context.WatchWith(session, new SessionEnded(attach.ClientId, session));
                _sessions[attach.ClientId] = session;
            }
            session.Forward(attach);
        });
        Receive<SessionEnded>(ended =>
        {
            if (_sessions.TryGetValue(ended.ClientId, out var current) && current.Equals(ended.Session)) _sessions.Remove(ended.ClientId);
        });
        // A session past its grace: forgotten first, so a reconnect from now on gets a new session, then stopped.
        Receive<SessionIdle>(idle =>
        {
            // PoisonPill, not Stop: an Attach forwarded before this is handled first (that socket then sees the session end).
            if (_sessions.Remove(idle.ClientId, out var session) && session.Equals(Sender)) session.Tell(PoisonPill.Instance);
            else if (session is not null) _sessions[idle.ClientId] = session;
        });
        Receive<GetSessionCount>(_ => Sender.Tell(_sessions.Count));
        Receive<Connect>(connect =>
        {
            // The connection actor is made first so the channel knows whom to talk to. Named by socket, so a path says
            // what it is: sessions/socket-12 (the protocol), sessions/socket-12-direct or -relay (the socket's one owner).
            var socket = ++_sockets;
            var connection = Context.ActorOf(ClientConnectionActor.Props(Self, _settings), $"socket-{socket}");
            var channel = Context.ActorOf(connect.ChannelProps(connection), $"socket-{socket}-{connect.Kind}");
            // A channel can end before its connection ever heard of it (a relay handshake that failed): the pair goes together.
            Context.WatchWith(channel, new ChannelGone(connection));
            Sender.Tell(new Connected(connection, channel));
        });
        // After whatever the channel told it last (a normal close is already on its way, and the connection stops on it).
        Receive<ChannelGone>(gone => gone.Connection.Tell(ClientConnectionActor.ChannelEnded.Instance));
    }

    public static Props Props(IActorRef agents, IActorRef guardian, IReadOnlyDictionary<string, IAgentProvider> providers, SessionSettings settings,
        SessionServices? workspaces = null) =>
        Akka.Actor.Props.Create(() => new ClientSessionManager(agents, guardian, providers, settings, workspaces));

    // A session or connection that throws is stopped: its client reconnects and resumes; agents are untouched.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));

    /// <summary>
    /// A new socket: <paramref name="ChannelProps"/> makes its channel actor (plain or E2EE) for the given connection
    /// actor; <paramref name="Kind"/> (`direct`, `relay`) names it.
    /// </summary>
    public sealed record Connect(Func<IActorRef, Props> ChannelProps, string Kind = "direct");

    public sealed record Connected(IActorRef Connection, IActorRef Channel);

    /// <summary>From a session whose reconnect grace ran out with no socket attached.</summary>
    public sealed record SessionIdle(ClientSessionId ClientId);

    private sealed record SessionEnded(ClientSessionId ClientId, IActorRef Session) : INoSerializationVerificationNeeded;

    private sealed record ChannelGone(IActorRef Connection) : INoSerializationVerificationNeeded;
}
