using Akka.Actor;
using Akka.Event;

namespace Paseo.Actors.Mcp;

/// <summary>
/// `/user/paseo/mcp`: one <see cref="McpClientActor"/> per session of the agents' MCP server, made when a session starts
/// and stopped when it ends; at most `paseo.mcp.max-sessions` at once (beyond it the oldest session is ended).
/// </summary>
public sealed class McpSessionsActor : ReceiveActor
{
    private readonly IActorRef _sessions;
    private readonly int _maxSessions;
    private readonly int _maxPending;
    // Oldest first: when full, the oldest session gives way (an agent killed without ending its session leaves one behind).
    private readonly List<IActorRef> _clients = [];
    private long _next;

    /// <summary>A new MCP session: answered with its client actor, or <see cref="McpClientActor.Refused"/>.</summary>
    public sealed record OpenClient(string Caller);

    public McpSessionsActor(IActorRef sessions, int maxSessions, int maxPending)
    {
        _sessions = sessions;
        _maxSessions = maxSessions;
        _maxPending = maxPending;
        Receive<OpenClient>(open =>
        {
            if (_clients.Count >= _maxSessions)
            {
                Context.GetLogger().Warning("MCP: {0} sessions (paseo.mcp.max-sessions): the oldest is ended for a new one", _maxSessions);
                Context.Stop(_clients[0]);
                _clients.RemoveAt(0);
            }
            var n = ++_next;
            // A client session of its own per MCP session: mcp-<caller>-<n>, or mcp-<n> for a top-level client.
            var client = Context.ActorOf(McpClientActor.Props(_sessions, $"mcp-{(open.Caller.Length > 0 ? open.Caller + "-" : "")}{n}", _maxPending), "client-" + n);
            Context.Watch(client);
            _clients.Add(client);
            Sender.Tell(client);
        });
        // A block, not `=> _clients.Remove(…)`: a Func returning false would leave the Terminated unhandled (a death pact).
        Receive<Terminated>(terminated =>
        {
            _clients.Remove(terminated.ActorRef);
        });
        // The app's "Inject Paseo tools" switch (set_daemon_config_request): provider sessions started from now on.
        Receive<Sessions.Daemon.SessionDaemonRequestsActor.DaemonConfigChanged>(changed =>
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(changed.ConfigJson)?["mcp"]?["injectIntoAgents"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<bool>(out var inject))
                DaemonMcp.Get(Context.System).SetInjectIntoAgents(inject);
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(Sessions.Daemon.SessionDaemonRequestsActor.DaemonConfigChanged));

    public static Props Props(IActorRef sessions, int maxSessions, int maxPending) =>
        Akka.Actor.Props.Create(() => new McpSessionsActor(sessions, maxSessions, maxPending));

    // A client that throws is stopped: its MCP session's next call is refused, the others go on.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Stop));
}
