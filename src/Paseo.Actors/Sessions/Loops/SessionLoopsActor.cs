using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Transport.Loops;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using static Paseo.Actors.Loops.LoopProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;

namespace Paseo.Actors.Sessions.Loops;

/// <summary>
/// One session's loop requests (`sessions/session-&lt;id&gt;/loops`; app-orchestration.md §3.2): each `loop/*` request
/// is read against Paseo's schema (what it refuses — a blank prompt, no cwd, a blank check, sleepMs −1,
/// maxIterations 0, a blank name, an explicit null… — is `unknown_schema`), then goes to the loops, answered once.
/// </summary>
public sealed class SessionLoopsActor : ReceiveActor
{
    public static readonly HashSet<string> Kinds = ["loop/run", "loop/list", "loop/inspect", "loop/logs", "loop/stop"];

    private readonly IActorRef _loops;

    public SessionLoopsActor(IActorRef loops)
    {
        _loops = loops;
        Receive<Request>(OnRequest);
        Receive<LoopAnswer>(answer => Context.Parent.Tell(new Answered(answer.Json)));
    }

    public static Props Props(IActorRef loops) => Akka.Actor.Props.Create(() => new SessionLoopsActor(loops));

    private void OnRequest(Request request)
    {
        ILoopRequest parsed;
        try
        {
            parsed = Read(request);
        }
        catch (InvalidRequestException)
        {
            Context.Parent.Tell(new Answered(WsOutbound.RpcError(request.RequestId!, request.Type, "Unknown request schema", "unknown_schema")));
            return;
        }
        _loops.Tell(parsed);
    }

    private static ILoopRequest Read(Request request)
    {
        var id = request.RequestId!;
        var reader = RequestReader.Of(request.Message);
        return request.Type switch
        {
            "loop/run" => Run(id, reader),
            "loop/list" => new ListLoops(id),
            "loop/inspect" => new InspectLoop(id, Trimmed(reader, "id", required: true)!),
            "loop/logs" => new LoopLogs(id, Trimmed(reader, "id", required: true)!, Count(reader, "afterSeq", min: 0) ?? 0),
            "loop/stop" => new StopLoop(id, Trimmed(reader, "id", required: true)!),
            _ => throw new InvalidRequestException($"{request.Type} is not a loop request"),
        };
    }

    private static RunLoop Run(string id, RequestReader reader)
    {
        var checks = new List<string>();
        if (Present(reader, "verifyChecks"))
            foreach (var check in reader.OptionalArray("verifyChecks") ?? [])
                checks.Add(check is JsonValue v && v.TryGetValue<string>(out var command) && command.Trim().Length > 0
                    ? command.Trim()
                    : throw new InvalidRequestException("verifyChecks must hold non-blank strings"));
        var settings = new LoopSettings(
            Trimmed(reader, "name"), Trimmed(reader, "prompt", required: true)!,
            Present(reader, "cwd") ? reader.RequiredString("cwd") : throw new InvalidRequestException("cwd is required"),
            Plain(reader, "provider") ?? "claude", Trimmed(reader, "model"),
            Plain(reader, "workerProvider"), Trimmed(reader, "workerModel"),
            Plain(reader, "verifierProvider"), Trimmed(reader, "verifierModel"),
            Trimmed(reader, "verifyPrompt"), checks,
            Present(reader, "archive") && reader.OptionalBool("archive") == true,
            Count(reader, "sleepMs", min: 0) ?? 0, Count(reader, "maxIterations", min: 1), Count(reader, "maxTimeMs", min: 1));
        return new RunLoop(id, settings);
    }

    /// <summary>True when the key holds a value; absent is false; an explicit null is refused (Paseo's optional keys are not nullable).</summary>
    private static bool Present(RequestReader reader, string key)
    {
        if (!reader.Message.ContainsKey(key)) return false;
        return reader.Message[key] is null ? throw new InvalidRequestException($"{key} must not be null") : true;
    }

    private static string? Plain(RequestReader reader, string key) => Present(reader, key) ? reader.OptionalString(key) : null;

    /// <summary>A string trimmed by the schema, which must keep a character.</summary>
    private static string? Trimmed(RequestReader reader, string key, bool required = false)
    {
        if (!Present(reader, key)) return required ? throw new InvalidRequestException($"{key} is required") : null;
        var value = reader.OptionalString(key)!.Trim();
        return value.Length > 0 ? value : throw new InvalidRequestException($"{key} must not be blank");
    }

    private static long? Count(RequestReader reader, string key, long min)
    {
        if (!Present(reader, key)) return null;
        var value = reader.OptionalInt(key)!.Value;
        return value >= min ? value : throw new InvalidRequestException($"{key} must be at least {min}");
    }
}
