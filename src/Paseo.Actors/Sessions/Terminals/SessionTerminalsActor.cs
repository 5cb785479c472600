using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Terminals;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Terminals;
using static Paseo.Actors.Terminals.TerminalProtocol;
using Answered = Paseo.Actors.Sessions.SessionRequestProtocol.Answered;
using Pushed = Paseo.Actors.Sessions.SessionRequestProtocol.Pushed;
using Request = Paseo.Actors.Sessions.SessionRequestProtocol.Request;

namespace Paseo.Actors.Sessions.Terminals;

/// <summary>
/// One session's terminal side (`sessions/session-&lt;id&gt;/terminals`; app-workspaces.md §5): the terminal requests, the
/// session's stream slots (0–255, handed out round-robin), and its streams — a Snapshot frame after each subscribe's
/// reply, then Output frames coalesced per slot by mailbox turn (what arrived while it was busy goes as one frame, at most
/// max-output-frame-bytes; output after a quiet spell goes at once, with no timer to wait for), and
/// terminal_stream_exit when a terminal ends. Input and Resize frames from the session's sockets arrive as
/// <see cref="InboundFrame"/>. Each <see cref="Request"/> gets exactly one <see cref="Answered"/> (null for the kinds
/// without a requestId); pushes go up as <see cref="Pushed"/> and <see cref="PushedFrame"/>.
/// <para>
/// Output is never held here beyond one frame per slot: a phone that does not read fills its socket's bounded outbound
/// queue and is disconnected by its channel (1013 "Outbound buffer full"); when it reconnects and subscribes again, the
/// snapshot brings it up to date.
/// </para>
/// </summary>
public sealed class SessionTerminalsActor : ReceiveActor, IWithTimers
{
    public const int Slots = 256;

    public static readonly HashSet<string> Kinds =
    [
        "list_terminals_request", "create_terminal_request", "kill_terminal_request", "capture_terminal_request", "subscribe_terminal_request",
        "subscribe_terminals_request", "unsubscribe_terminals_request", "unsubscribe_terminal_request", "terminal_input",
    ];

    /// <summary>The kinds among <see cref="Kinds"/> sent without a requestId (nothing is answered to the client).</summary>
    public static readonly HashSet<string> WithoutRequestId = ["subscribe_terminals_request", "unsubscribe_terminals_request", "unsubscribe_terminal_request", "terminal_input"];

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _terminals;
    private readonly TerminalSettings _settings;
    private readonly Slot?[] _slots = new Slot?[Slots];
    private readonly Dictionary<string, int> _slotOf = [];
    private readonly HashSet<string> _watched = [];
    private int _lastSlot = Slots - 1;

    public ITimerScheduler Timers { get; set; } = null!;

    public SessionTerminalsActor(IActorRef terminals, TerminalSettings settings)
    {
        _terminals = terminals;
        _settings = settings;

        Receive<Request>(request =>
        {
            try
            {
                OnRequest(request);
            }
            catch (InvalidRequestException e)
            {
                _log.Info("Invalid {0}: {1}", request.Type, e.Message);
                Context.Parent.Tell(new Answered(request.RequestId is { } id
                    ? WsOutbound.RpcError(id, request.Type, "Unknown request schema", "unknown_schema")
                    : WsOutbound.StatusError($"Invalid message: {request.Type}: {e.Message}")));
            }
        });
        Receive<InboundFrame>(frame =>
        {
            try
            {
                OnFrame(frame);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                // A client's bytes never cost the session its slots.
                _log.Warning("A terminal frame was ignored: {0}", e.Message);
            }
        });
        Receive<StreamAttached>(attached =>
        {
            if (!_slotOf.TryGetValue(attached.TerminalId, out var number) || _slots[number] is not { } slot)
            {
                // Attached after the subscribe was given up (or unsubscribed): nothing here wants its output.
                attached.Terminal.Tell(new DetachStream(attached.TerminalId, Self));
                return;
            }
            slot.Terminal = attached.Terminal;
            if (slot.PendingRequestId is { } requestId)
            {
                slot.PendingRequestId = null;
                Timers.Cancel(("attach", number));
                Context.Parent.Tell(new Answered(SubscribeOk(requestId, attached.TerminalId, number)));
            }
        });
        Receive<AttachFailed>(failed =>
        {
            if (_slotOf.TryGetValue(failed.TerminalId, out var number)) Free(number, failed.Error);
        });
        Receive<TerminalSnapshot>(snapshot =>
        {
            if (!_slotOf.TryGetValue(snapshot.TerminalId, out var number) || _slots[number] is not { } slot) return;
            // The snapshot holds everything written before it: output still gathered for this slot is older.
            slot.Pending.Clear();
            Context.Parent.Tell(new PushedFrame(BinaryFrames.Terminal(BinaryFrames.Snapshot, (byte)number, snapshot.State)));
        });
        Receive<TerminalOutput>(output =>
        {
            if (!_slotOf.TryGetValue(output.TerminalId, out var number) || _slots[number] is not { } slot) return;
            var bytes = output.Bytes.AsSpan();
            while (bytes.Length > 0)
            {
                var room = _settings.MaxOutputFrameBytes - slot.Pending.WrittenCount;
                var take = Math.Min(room, bytes.Length);
                slot.Pending.Write(bytes[..take]);
                bytes = bytes[take..];
                if (slot.Pending.WrittenCount >= _settings.MaxOutputFrameBytes) FlushSlot(number);
            }
            // Coalesced by mailbox turn: what the terminal wrote while this actor was busy goes out in one frame, and output
            // after a quiet spell (a keystroke's echo) goes at once, with no timer in its way.
            if (slot.Pending.WrittenCount > 0 && !slot.FlushQueued)
            {
                slot.FlushQueued = true;
                Self.Tell(new Flush(number, slot));
            }
        });
        Receive<Flush>(flush =>
        {
            flush.Of.FlushQueued = false;
            // The slot may have been freed (and even reused) since: only its own pending output is sent.
            if (_slots[flush.Slot] == flush.Of) FlushSlot(flush.Slot);
        });
        Receive<AttachTimedOut>(timedOut =>
        {
            // The terminal ended while the attach was on its way: the request is still answered.
            if (_slots[timedOut.Slot] is not { PendingRequestId: not null } slot || slot.TerminalId != timedOut.TerminalId) return;
            Free(timedOut.Slot, "Terminal not found");
            _terminals.Tell(new DetachStream(timedOut.TerminalId, Self));
        });
        Receive<TerminalExited>(exited =>
        {
            if (!_slotOf.TryGetValue(exited.TerminalId, out var number)) return;
            FlushSlot(number);
            Free(number, "Terminal not found");
            Context.Parent.Tell(new Pushed(WsOutbound.Session("terminal_stream_exit", new JsonObject { ["terminalId"] = exited.TerminalId })));
        });
        Receive<TerminalsChanged>(changed =>
        {
            if (!_watched.Contains(changed.Cwd)) return;
            Context.Parent.Tell(new Pushed(WsOutbound.Session("terminals_changed", new JsonObject
            {
                ["cwd"] = changed.Cwd, ["terminals"] = new JsonArray([.. changed.Terminals.Select(t => (JsonNode)t.ToListJson())]),
            })));
        });
        Receive<Answer>(answer => Context.Parent.Tell(new Answered(answer.Json)));
    }

    public static Props Props(IActorRef terminals, TerminalSettings settings) => Akka.Actor.Props.Create(() => new SessionTerminalsActor(terminals, settings));

    /// <summary>From the session: a terminal frame (Input or Resize) one of its sockets received.</summary>
    public sealed record InboundFrame(ReadOnlyMemory<byte> Frame);

    /// <summary>To the session: a binary frame for every socket (Snapshot, Output).</summary>
    public sealed record PushedFrame(byte[] Frame);

    protected override void PostStop()
    {
        // The terminals go on; only this session's streams end (the terminal actors also watch us).
        foreach (var slot in _slots)
            if (slot is not null) _terminals.Tell(new DetachStream(slot.TerminalId, Self));
    }

    private void OnRequest(Request request)
    {
        var reader = RequestReader.Of(request.Message);
        var requestId = request.RequestId;
        switch (request.Type)
        {
            case "list_terminals_request":
            {
                var cwd = reader.OptionalString("cwd");
                _terminals.Ask<TerminalList>(new ListTerminals(cwd), AskTimeout).PipeTo(Self, success: list => new Answer(ListReply(requestId!, cwd, list.Terminals)),
                    failure: _ => new Answer(ListReply(requestId!, cwd, [])));
                return;
            }
            case "subscribe_terminals_request":
            {
                var cwd = reader.RequiredString("cwd");
                _watched.Add(cwd);
                _terminals.Tell(new WatchDirectory(cwd, Self));
                Done();
                return;
            }
            case "unsubscribe_terminals_request":
            {
                var cwd = reader.RequiredString("cwd");
                _watched.Remove(cwd);
                _terminals.Tell(new UnwatchDirectory(cwd, Self));
                Done();
                return;
            }
            case "create_terminal_request":
                OnCreate(requestId!, reader);
                return;
            case "kill_terminal_request":
            {
                var terminalId = reader.RequiredString("terminalId");
                _terminals.Ask<Killed>(new KillTerminal(terminalId), AskTimeout).PipeTo(Self,
                    success: _ => new Answer(KillReply(requestId!, terminalId)), failure: _ => new Answer(KillReply(requestId!, terminalId)));
                return;
            }
            case "capture_terminal_request":
            {
                var terminalId = reader.RequiredString("terminalId");
                var capture = new CaptureTerminal(terminalId, (int?)Clamp(reader.OptionalInt("start")), (int?)Clamp(reader.OptionalInt("end")), reader.OptionalBool("stripAnsi") ?? true);
                _terminals.Ask<Captured>(capture, AskTimeout).PipeTo(Self, success: c => new Answer(CaptureReply(requestId!, c)),
                    failure: _ => new Answer(CaptureReply(requestId!, new Captured(terminalId, [], 0))));
                return;
            }
            case "subscribe_terminal_request":
                OnSubscribe(requestId!, reader.RequiredString("terminalId"));
                return;
            case "unsubscribe_terminal_request":
            {
                var terminalId = reader.RequiredString("terminalId");
                if (_slotOf.TryGetValue(terminalId, out var number))
                {
                    Free(number);
                    _terminals.Tell(new DetachStream(terminalId, Self));
                }
                Done();
                return;
            }
            case "terminal_input":
                OnJsonInput(reader);
                Done();
                return;
        }
    }

    private void OnCreate(string requestId, RequestReader reader)
    {
        if (reader.OptionalString("agentId") is { } agentId)
        {
            Context.Parent.Tell(new Answered(CreateReply(requestId, null, $"Agent-backed terminals are no longer supported for agent {agentId}")));
            return;
        }
        var command = reader.OptionalString("command");
        var args = (reader.OptionalArray("args") ?? []).Select(a => a is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidRequestException("args must be strings")).ToList();
        if (command is null && args.Count > 0) throw new InvalidRequestException("args need a command");
        var create = new CreateTerminal(reader.RequiredString("cwd"), reader.OptionalString("name"), command is null ? null : [command, .. args]);
        _terminals.Ask<object>(create, AskTimeout).PipeTo(Self, success: answer => new Answer(answer switch
        {
            Created created => CreateReply(requestId, created.Terminal, null),
            CreateFailed failed => CreateReply(requestId, null, failed.Error),
            _ => CreateReply(requestId, null, "Terminal creation failed"),
        }), failure: e => new Answer(CreateReply(requestId, null, $"Terminal creation failed: {e.Message}")));
    }

    private void OnSubscribe(string requestId, string terminalId)
    {
        if (_slotOf.TryGetValue(terminalId, out var existing) && _slots[existing] is { } attached)
        {
            // Already attached: the same slot, and a new snapshot after the reply.
            if (attached.PendingRequestId is { } earlier) Context.Parent.Tell(new Answered(SubscribeOk(earlier, terminalId, existing)));
            attached.PendingRequestId = requestId;
            Timers.StartSingleTimer(("attach", existing), new AttachTimedOut(existing, terminalId), AskTimeout);
            _terminals.Tell(new AttachStream(terminalId, Self));
            return;
        }
        var number = NextFreeSlot();
        if (number < 0)
        {
            Context.Parent.Tell(new Answered(SubscribeError(requestId, terminalId, "No terminal stream slots available")));
            return;
        }
        _slots[number] = new Slot(terminalId) { PendingRequestId = requestId };
        _slotOf[terminalId] = number;
        _lastSlot = number;
        Timers.StartSingleTimer(("attach", number), new AttachTimedOut(number, terminalId), AskTimeout);
        _terminals.Tell(new AttachStream(terminalId, Self));
    }

    /// <summary>Round-robin: the next free number after the last one given.</summary>
    private int NextFreeSlot()
    {
        for (var i = 1; i <= Slots; i++)
        {
            var candidate = (_lastSlot + i) % Slots;
            if (_slots[candidate] is null) return candidate;
        }
        return -1;
    }

    private void OnFrame(InboundFrame inbound)
    {
        if (BinaryFrames.ReadTerminal(inbound.Frame) is not { } frame) return;
        // Frames for a slot this session has not attached, Output/Snapshot from a client, empty input: ignored (§5.4).
        if (_slots[frame.Slot] is not { Terminal: { } terminal } slot) return;
        switch (frame.Opcode)
        {
            case BinaryFrames.Input when frame.Payload.Length > 0:
                terminal.Tell(new TerminalInput(slot.TerminalId, frame.Payload.ToArray()));
                break;
            case BinaryFrames.Resize when BinaryFrames.ReadResize(frame.Payload.Span) is { } size:
                terminal.Tell(new TerminalResize(slot.TerminalId, size.Rows, size.Cols, EvenIfUnchanged: true));
                break;
        }
    }

    private void OnJsonInput(RequestReader reader)
    {
        var terminalId = reader.RequiredString("terminalId");
        var message = reader.OptionalObject("message") ?? throw new InvalidRequestException("message is required");
        var inner = RequestReader.Of(message);
        switch (inner.RequiredString("type"))
        {
            case "input":
                var data = inner.RequiredString("data");
                if (data.Length > 0) _terminals.Tell(new TerminalInput(terminalId, Encoding.UTF8.GetBytes(data)));
                break;
            case "resize":
                var rows = inner.OptionalInt("rows") ?? throw new InvalidRequestException("rows is required");
                var cols = inner.OptionalInt("cols") ?? throw new InvalidRequestException("cols is required");
                if (rows is < 1 or > BinaryFrames.MaxRows || cols is < 1 or > BinaryFrames.MaxCols)
                    throw new InvalidRequestException($"rows must be 1 to {BinaryFrames.MaxRows} and cols 1 to {BinaryFrames.MaxCols}");
                _terminals.Tell(new TerminalResize(terminalId, (int)rows, (int)cols, EvenIfUnchanged: false));
                break;
            case "mouse":
                break; // accepted and ignored, as Paseo does
            default:
                throw new InvalidRequestException("message.type must be input, resize or mouse");
        }
    }

    private void FlushSlot(int number)
    {
        if (_slots[number] is not { } slot || slot.Pending.WrittenCount == 0) return;
        Context.Parent.Tell(new PushedFrame(BinaryFrames.Terminal(BinaryFrames.Output, (byte)number, slot.Pending.WrittenSpan)));
        slot.Pending.Clear();
    }

    /// <summary>Frees a slot; a subscribe still waiting for it is answered with <paramref name="errorIfPending"/>.</summary>
    private void Free(int number, string errorIfPending = "Terminal not found")
    {
        Timers.Cancel(("attach", number));
        if (_slots[number] is not { } slot) return;
        _slotOf.Remove(slot.TerminalId);
        _slots[number] = null;
        if (slot.PendingRequestId is { } requestId) Context.Parent.Tell(new Answered(SubscribeError(requestId, slot.TerminalId, errorIfPending)));
    }

    private void Done() => Context.Parent.Tell(new Answered(null));

    private static long? Clamp(long? value) => value is { } v ? Math.Clamp(v, int.MinValue, int.MaxValue) : null;

    private static string ListReply(string requestId, string? cwd, IReadOnlyList<TerminalInfo> terminals)
    {
        var payload = new JsonObject();
        if (cwd is not null) payload["cwd"] = cwd;
        payload["terminals"] = new JsonArray([.. terminals.Select(t => (JsonNode)t.ToListJson())]);
        payload["requestId"] = requestId;
        return WsOutbound.Session("list_terminals_response", payload);
    }

    private static string CreateReply(string requestId, TerminalInfo? terminal, string? error) =>
        WsOutbound.Session("create_terminal_response", new JsonObject { ["terminal"] = terminal?.ToJson(), ["error"] = error, ["requestId"] = requestId });

    private static string KillReply(string requestId, string terminalId) =>
        WsOutbound.Session("kill_terminal_response", new JsonObject { ["terminalId"] = terminalId, ["success"] = true, ["requestId"] = requestId });

    private static string CaptureReply(string requestId, Captured captured) =>
        WsOutbound.Session("capture_terminal_response", new JsonObject
        {
            ["terminalId"] = captured.TerminalId, ["lines"] = new JsonArray([.. captured.Lines.Select(l => (JsonNode)l)]), ["totalLines"] = captured.TotalLines,
            ["requestId"] = requestId,
        });

    private static string SubscribeOk(string requestId, string terminalId, int slot) =>
        WsOutbound.Session("subscribe_terminal_response", new JsonObject { ["terminalId"] = terminalId, ["slot"] = slot, ["error"] = null, ["requestId"] = requestId });

    private static string SubscribeError(string requestId, string terminalId, string error) =>
        WsOutbound.Session("subscribe_terminal_response", new JsonObject { ["terminalId"] = terminalId, ["error"] = error, ["requestId"] = requestId });

    /// <summary>One attached (or attaching) terminal of this session; <see cref="Pending"/> is its output not yet sent.</summary>
    private sealed class Slot(string terminalId)
    {
        public string TerminalId { get; } = terminalId;
        public IActorRef? Terminal { get; set; }
        public string? PendingRequestId { get; set; }
        public ArrayBufferWriter<byte> Pending { get; } = new();
        public bool FlushQueued { get; set; }
    }

    private sealed record Flush(int Slot, Slot Of);

    private sealed record AttachTimedOut(int Slot, string TerminalId);

    private sealed record Answer(string Json) : INoSerializationVerificationNeeded;
}
