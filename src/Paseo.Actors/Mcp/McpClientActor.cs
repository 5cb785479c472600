using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Sessions;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Sessions.SessionProtocol;

namespace Paseo.Actors.Mcp;

/// <summary>
/// One MCP session's way into the daemon (`mcp/client-&lt;n&gt;`): a connection inside the process, attached to a client
/// session of its own as a socket would be (clientType `mcp`), so every tool runs through the same requests, checks and
/// limits as the app's and the CLI's. A tool's <see cref="Request"/> goes in as a session message; the frame that
/// answers its requestId (the reply or an rpc_error) comes back as a <see cref="Reply"/>. Pushes are not for it and are
/// dropped. Phases: attaching (requests wait), attached, refused.
/// </summary>
public sealed class McpClientActor : ReceiveActor, IWithStash
{
    private readonly IActorRef _sessions;
    private readonly string _clientId;
    private readonly int _maxPending;
    private readonly Dictionary<string, IActorRef> _pending = [];
    private readonly HashSet<string> _background = [];
    private const int MaxBackground = 64;
    private IActorRef? _session;
    private long _next;

    public IStash Stash { get; set; } = null!;

    /// <param name="Expects">False for a message that has no reply (agent_permission_response, terminal_input): answered at once.</param>
    /// <param name="Background">A long wait of the daemon's own (notifyOnFinish): counted apart from the tool calls, so it never blocks them.</param>
    public sealed record Request(string Type, JsonObject Fields, bool Expects = true, bool Background = false);

    /// <summary>The answering frame's <c>message</c> (<c>{type, payload}</c>); for a request without reply, an empty object.</summary>
    public sealed record Reply(JsonObject Message);

    public sealed record Refused(string Reason);

    public McpClientActor(IActorRef sessions, string clientId, int maxPending)
    {
        _sessions = sessions;
        _clientId = clientId;
        _maxPending = maxPending;
        Receive<Attached>(attached =>
        {
            _session = attached.Session;
            Context.Watch(_session);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<AttachRefused>(refused => Become(() => RefusedPhase(refused.Reason)));
        Receive<Outbound>(_ => { }); // server_info
        Receive<Request>(_ =>
        {
            if (++_waitingForAttach > _maxPending) Sender.Tell(new Refused("This MCP session is still attaching; try again"));
            else Stash.Stash();
        });
    }

    private int _waitingForAttach;

    public static Props Props(IActorRef sessions, string clientId, int maxPending) =>
        Akka.Actor.Props.Create(() => new McpClientActor(sessions, clientId, maxPending));

    protected override void PreStart() => _sessions.Tell(new Attach(ClientSessionId.From(_clientId), "mcp", false, Self));

    /// <summary>The MCP session ended: what waits is answered, and its client session goes at once (no reconnect grace to hold a slot).</summary>
    protected override void PostStop()
    {
        foreach (var who in _pending.Values) who.Tell(new Refused("This MCP session has ended"));
        _pending.Clear();
        _sessions.Tell(new ClientSessionManager.SessionIdle(ClientSessionId.From(_clientId)));
    }

    private void Ready()
    {
        Receive<Request>(request =>
        {
            if (request.Background ? _background.Count >= MaxBackground : _pending.Count - _background.Count >= _maxPending)
            {
                Sender.Tell(new Refused(request.Background
                    ? $"Too many agents watched for this MCP session (at most {MaxBackground})"
                    : $"Too many tool calls at once in this MCP session (at most {_maxPending}, paseo.mcp.max-calls-per-session)"));
                return;
            }
            // Through text, as from a socket: the session's readers see parsed JSON (a JsonValue made from a C# int is not read as one).
            var message = JsonNode.Parse(request.Fields.ToJsonString())!.AsObject();
            message["type"] = request.Type;
            if (!request.Expects)
            {
                // No reply to wait for; its own requestId (agent_permission_response's is the permission's) is kept.
                _session!.Tell(new Inbound(request.Type, WsInbound.Str(message, "requestId"), message, Self));
                Sender.Tell(new Reply([]));
                return;
            }
            var requestId = $"mcp-{++_next}";
            message["requestId"] = requestId;
            _session!.Tell(new Inbound(request.Type, requestId, message, Self));
            _pending[requestId] = Sender;
            if (request.Background) _background.Add(requestId);
        });
        Receive<Outbound>(outbound =>
        {
            if (_pending.Count == 0) return;
            var message = JsonNode.Parse(outbound.Json)?["message"] as JsonObject;
            if (message?["payload"]?["requestId"] is JsonValue id && id.TryGetValue<string>(out var requestId) && _pending.Remove(requestId, out var who))
            {
                _background.Remove(requestId);
                who.Tell(new Reply(message));
            }
        });
        Receive<InboundTaken>(_ => { });
        Receive<OutboundBinary>(_ => { });
        Receive<AfterOutbound>(_ => { });
        Receive<Terminated>(_ =>
        {
            foreach (var who in _pending.Values) who.Tell(new Refused("The daemon session of this MCP session ended"));
            _pending.Clear();
            Context.Stop(Self);
        });
    }

    private void RefusedPhase(string reason)
    {
        Stash.UnstashAll();
        Receive<Request>(_ => Sender.Tell(new Refused(reason)));
        ReceiveAny(_ => { });
    }
}
