using System.Text.Json.Nodes;

namespace Paseo.Actors.Sessions;

/// <summary>
/// Between a client session and its request children (`agents`, `workspaces`, `daemon`, `terminals`): the session
/// hands each child the requests of its family and gets exactly one answer back per request, which is how the session's
/// cap on requests in flight (paseo.sessions.max-requests-in-flight) holds. Pushes a child makes on its own go up as
/// <see cref="Pushed"/>.
/// </summary>
public static class SessionRequestProtocol
{
    /// <summary>
    /// One request of the child's family, with its requestId (null for the few kinds sent without one). The message
    /// moves with the request: the session parsed it for this child alone and keeps no reference to it.
    /// </summary>
    public sealed record Request(string Type, string? RequestId, JsonObject Message);

    /// <summary>To the session: the reply to one request (null: none to send).</summary>
    public sealed record Answered(string? Json);

    /// <summary>To the session: the reply to one request as binary frames (a file sent as FileBegin, FileChunk…, FileEnd).</summary>
    public sealed record AnsweredFrames(IReadOnlyList<byte[]> Frames);

    /// <summary>To the session: a push to every attached socket (agent_update, workspace_update, checkout_status_update…).</summary>
    public sealed record Pushed(string Json);
}
