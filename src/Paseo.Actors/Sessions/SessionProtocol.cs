using System.Text.Json.Nodes;
using Akka.Actor;

namespace Paseo.Actors.Sessions;

/// <summary>A client session's id: the `clientId` of the hello (sessions are keyed by it, app-protocol.md §1.2).</summary>
public readonly record struct ClientSessionId
{
    public string Value { get; }

    private ClientSessionId(string value) => Value = value;

    public static ClientSessionId From(string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("a client id cannot be empty", nameof(value)) : new ClientSessionId(value.Trim());

    public override string ToString() => Value;
}

/// <summary>Limits and timings of client sessions, from `paseo.sessions` in paseo.hocon.</summary>
/// <param name="MaxRequestsInFlight">Requests of one session waiting for an answer from the agents (or a provider); beyond it a request is refused with `too_many_requests`.</param>
/// <param name="MaxIdsPerRequest">Agent ids one request may name (close_items, clear_agent_attention).</param>
/// <param name="ListModelsTimeout">How long list_provider_models may take (a provider may start a server to answer); Paseo's clients wait 45 s.</param>
public sealed record SessionSettings(TimeSpan HelloTimeout, TimeSpan ReconnectGrace, int MaxSessions, int MaxRequestsInFlight = 64, int MaxIdsPerRequest = 1000,
    TimeSpan? ListModelsTimeout = null)
{
    public static readonly SessionSettings Default = new(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(90), 1000);

    public TimeSpan ModelListTimeout => ListModelsTimeout ?? TimeSpan.FromSeconds(40);
}

/// <summary>
/// What a session's children talk to beyond the agents: the workspace registry (`workspaces`), the checkout observers
/// (`checkouts`), Paseo's worktrees (`worktrees`), workspace scripts (`scripts`), the file explorer's limits and download tokens, the bounds of a directory search, the daemon user's home, config.json (get/set_daemon_config), and the daemon's terminals (`terminals`).
/// </summary>
public sealed record SessionServices(IActorRef Registry, IActorRef Checkouts, IActorRef Worktrees, IActorRef Scripts, Paseo.Transport.Workspaces.SuggestionLimits SuggestionLimits, string UserHome,
    string? ConfigJsonPath = null, Paseo.Transport.Files.FileLimits? FileLimits = null, Paseo.Transport.Files.DownloadTokens? Downloads = null,
    IActorRef? Terminals = null, Paseo.Transport.Terminals.TerminalSettings? TerminalSettings = null, IActorRef? Chat = null, IActorRef? Schedules = null,
    IActorRef? Loops = null);

/// <summary>The messages between connections, the session manager and the sessions.</summary>
public static class SessionProtocol
{
    public interface IWithClientSessionId
    {
        ClientSessionId ClientId { get; }
    }

    /// <summary>From a connection that received a valid hello: attach me to the session of this clientId (made if new).</summary>
    public sealed record Attach(ClientSessionId ClientId, string ClientType, bool ReasoningMergeEnum, IActorRef Connection) : IWithClientSessionId;

    /// <summary>To the connection: this is your session; it has sent (or is sending) server_info.</summary>
    public sealed record Attached(IActorRef Session);

    /// <summary>To the connection: the daemon holds as many sessions as it may; close 1013.</summary>
    public sealed record AttachRefused(string Reason);

    /// <summary>
    /// From a connection: one session message (`{"type":"session","message":...}` after hello). The session answers
    /// <see cref="InboundTaken"/> to <paramref name="Connection"/> once it has taken it (dispatched, or refused); the
    /// connection gives it nothing more until then.
    /// </summary>
    public sealed record Inbound(string Type, string? RequestId, JsonObject Message, IActorRef Connection);

    /// <summary>
    /// From a connection: a terminal stream frame (first byte 0x01–0x04, app-workspaces.md §5.4) one of its sockets
    /// received, directly or as the plaintext of an encrypted message. Taken like <see cref="Inbound"/>.
    /// </summary>
    public sealed record InboundFrame(ReadOnlyMemory<byte> Frame, IActorRef Connection);

    /// <summary>To a connection: its last <see cref="Inbound"/> was taken.</summary>
    public sealed record InboundTaken
    {
        public static readonly InboundTaken Instance = new();
        private InboundTaken() { }
    }

    /// <summary>To a connection: one outbound text frame.</summary>
    public sealed record Outbound(string Json);

    /// <summary>To a connection: a binary frame (file transfer, terminal stream), sent as a binary WebSocket message or as the bytes of one encrypted message.</summary>
    public sealed record OutboundBinary(ReadOnlyMemory<byte> Frame);

    /// <summary>To a connection: publish <paramref name="Event"/> once the frames sent before have reached the socket.</summary>
    public sealed record AfterOutbound(object Event);

    public sealed record GetSessionCount
    {
        public static readonly GetSessionCount Instance = new();
        private GetSessionCount() { }
    }

    /// <summary>From the daemon control requests (shutdown_server_request / restart_server_request) to the host.</summary>
    public sealed record DaemonControlRequested(string Kind, string? Reason);
}
