using System.Text.Json.Nodes;
using Paseo.Transport.Loops;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Loops;

/// <summary>Limits of the loops, from `paseo.loops` in paseo.hocon (Paseo has none: it keeps every loop and line forever).</summary>
/// <param name="LoopsKept">Loops kept with their logs; beyond it the oldest finished ones are forgotten (there is no loop/delete).</param>
/// <param name="MaxRunning">Loops running at once; loop/run beyond it fails.</param>
/// <param name="LogEntriesKept">Log lines kept per loop (the oldest go; seqs keep counting, so cursors stay valid).</param>
/// <param name="LogTextChars">Characters of one log line (a longer one is cut, with a marker).</param>
/// <param name="CheckOutputBytes">stdout and stderr of one verify check together; more fails the check (Paseo's 64 KiB).</param>
/// <param name="CheckTimeout">How long a verify check may run before it is killed and fails (Paseo: forever).</param>
/// <param name="WriteDelay">How long a change may wait to be written with the ones after it; a loop's end is written at once.</param>
/// <param name="IterationsKept">Iterations kept in a loop's record (the oldest go; their index numbers are not reused).</param>
/// <param name="LogCharsKept">Characters of log text kept per loop (the oldest lines go): with the loops kept, what bounds their memory.</param>
public sealed record LoopLimits(int LoopsKept, int MaxRunning, int LogEntriesKept, int LogTextChars, int CheckOutputBytes, TimeSpan CheckTimeout, TimeSpan WriteDelay,
    int IterationsKept = 200, long LogCharsKept = 1024 * 1024)
{
    public static readonly LoopLimits Default = new(200, 20, 5000, 64 * 1024, 64 * 1024, TimeSpan.FromMinutes(30), TimeSpan.FromMilliseconds(250));
}

/// <summary>
/// The messages of the loops subsystem (`/user/paseo/loops`, app-orchestration.md §3): the requests a session's loop
/// child has read and checked, the one answer each gets (the frame to send), and what a running loop tells its parent.
/// </summary>
public static class LoopProtocol
{
    public interface ILoopRequest
    {
        string RequestId { get; }
    }

    /// <summary>A request about one loop, by its id or a unique id prefix.</summary>
    public interface IOneLoop : ILoopRequest
    {
        string LoopId { get; }
    }

    /// <param name="Cwd">As sent: resolved against the daemon's working directory when the loop is made.</param>
    public sealed record RunLoop(string RequestId, LoopSettings Settings) : ILoopRequest;

    public sealed record ListLoops(string RequestId) : ILoopRequest;

    public sealed record InspectLoop(string RequestId, string LoopId) : IOneLoop;

    public sealed record LoopLogs(string RequestId, string LoopId, long AfterSeq) : IOneLoop;

    public sealed record StopLoop(string RequestId, string LoopId) : IOneLoop;

    public sealed record LoopAnswer(string Json);

    // Between a running loop and the loops actor.

    /// <summary>The loop changed (a log line, an iteration's step): the parent keeps it and has it written soon.</summary>
    public sealed record LoopProgress(Loop Loop);

    /// <summary>The loop ended (succeeded, failed, stopped): written at once; its actor stops.</summary>
    public sealed record LoopFinished(Loop Loop);

    /// <summary>From the loops actor: stop (the first request sets stopRequestedAt).</summary>
    public sealed record RequestStop
    {
        public static readonly RequestStop Instance = new();
        private RequestStop() { }
    }

    public static string TypeOf(ILoopRequest request) => request switch
    {
        RunLoop => "loop/run",
        ListLoops => "loop/list",
        InspectLoop => "loop/inspect",
        LoopLogs => "loop/logs",
        StopLoop => "loop/stop",
        _ => throw new ArgumentOutOfRangeException(nameof(request), request.GetType().Name, "not a loop request"),
    };

    public static LoopAnswer Reply(ILoopRequest request, JsonObject fields)
    {
        var payload = new JsonObject { ["requestId"] = request.RequestId };
        foreach (var (key, value) in fields.ToList())
        {
            fields.Remove(key);
            payload[key] = value;
        }
        payload["error"] = null;
        return new LoopAnswer(WsOutbound.Session(TypeOf(request) + "/response", payload));
    }

    /// <summary>Every loop failure is `loop_request_failed` with its text (§3.2).</summary>
    public static LoopAnswer Error(ILoopRequest request, string error) =>
        new(WsOutbound.RpcError(request.RequestId, TypeOf(request), error, "loop_request_failed"));
}
