using System.Buffers;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Terminals;
using static Paseo.Actors.Terminals.TerminalProtocol;

namespace Paseo.Actors.Terminals;

/// <summary>
/// One terminal (`terminals/terminal-&lt;id&gt;`): a tmux session seen through one control-mode client. It streams the pane's
/// output to the attached subscribers (sessions), snapshots the screen for a subscriber that attaches, writes input and
/// resizes, and answers captures. It ends when tmux says the session ended (the program exited or it was killed) or
/// its control client went away, telling every subscriber <see cref="TerminalExited"/>.
/// <para>
/// A snapshot is taken by a command on the same control connection as the output, so the stream orders them: output
/// before the command's answer is in the snapshot, output after it is not. A subscriber waiting for its snapshot gets
/// no output until then, so it sees each byte exactly once.
/// </para>
/// </summary>
public sealed class TerminalActor : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan TypeAfterAtMost = TimeSpan.FromMilliseconds(1500);
    private const string TitleSubscription = "paseo-title";
    // OSC 633 D;<status>: shell integration's "command finished", which a script's terminal writes when the script ends.
    private static readonly byte[] FinishedMark = "\u001b]633;D;"u8.ToArray();
    private static readonly string PaneFormat = "#{pane_height} #{pane_width} #{cursor_y} #{cursor_x} #{cursor_flag} #{?#{==:#{pane_title},#{host}},,#{pane_title}}";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TmuxServer _server;
    private readonly TmuxTerminal _terminal;
    private readonly HashSet<IActorRef> _streaming = [];
    private readonly HashSet<IActorRef> _awaitingSnapshot = [];
    // One entry per command sent, answered in order by the blocks tmux writes back.
    private readonly Queue<Pending> _pending = new();
    private List<byte[]>? _block;
    private readonly System.Buffers.ArrayBufferWriter<byte> _output = new();
    private List<byte[]>? _capturedScreen;
    private TmuxControlClient? _client;
    private (int Rows, int Cols)? _size;
    private string? _paneTitle;
    private bool _droppedInput;
    private bool _ended;
    private const int MaxReattaches = 3;
    private int _reattaches;
    private int _generation;
    private bool _checking;
    // The end of the last output of a script's terminal, where a finished mark may have been cut in two.
    private byte[] _markTail = [];

    // Keys to type once the terminal shows output (its prompt), or after TypeAfterAtMost; null once typed.
    private string? _typeOnceReady;

    public ITimerScheduler Timers { get; set; } = null!;

    public TerminalActor(TmuxServer server, TmuxTerminal terminal, string? typeOnceReady = null)
    {
        _typeOnceReady = typeOnceReady;
        _server = server;
        _terminal = terminal;
        _paneTitle = terminal.PaneTitle;

        Receive<ControlBatch>(batch =>
        {
            if (batch.Generation != _generation) return; // from a client given up
            foreach (var line in batch.Lines) OnLine(line);
            SendOutput();
            ReadNext();
        });
        Receive<TypeNow>(_ => TypeIfWaiting());
        Receive<ControlEnded>(ended =>
        {
            if (ended.Generation == _generation) CheckSession();
        });
        Receive<SessionChecked>(OnSessionChecked);
        Receive<AttachStream>(attach =>
        {
            Context.Watch(attach.Subscriber);
            attach.Subscriber.Tell(new StreamAttached(_terminal.Id, Self));
            _streaming.Remove(attach.Subscriber);
            var first = _awaitingSnapshot.Count == 0;
            _awaitingSnapshot.Add(attach.Subscriber);
            // One snapshot serves everyone who asked before it was taken.
            if (first) RequestSnapshot();
        });
        Receive<DetachStream>(detach => Forget(detach.Subscriber));
        Receive<Terminated>(t => Forget(t.ActorRef));
        Receive<TerminalInput>(input =>
        {
            // send-keys -H writes each byte to the pane as it is; a long paste goes as several commands, in order.
            for (var offset = 0; offset < input.Bytes.Length; offset += 512)
            {
                var chunk = input.Bytes.AsSpan(offset, Math.Min(512, input.Bytes.Length - offset));
                var line = new StringBuilder($"send-keys -H -t {_terminal.PaneId}", 24 + chunk.Length * 3);
                foreach (var b in chunk) line.Append(' ').Append(b.ToString("x2"));
                if (!Send(line.ToString(), Pending.Ignored)) return;
            }
        });
        Receive<TerminalResize>(resize =>
        {
            if (!resize.EvenIfUnchanged && _size == (resize.Rows, resize.Cols)) return;
            _size = (resize.Rows, resize.Cols);
            Send($"resize-window -t {_terminal.PaneId} -x {resize.Cols} -y {resize.Rows}", Pending.Ignored);
        });
        Receive<CaptureRequest>(capture =>
        {
            var escapes = capture.Request.StripAnsi ? "" : "-e ";
            Send($"capture-pane -p {escapes}-S - -E - -t {_terminal.PaneId}", Pending.Capture(capture.Request, capture.ReplyTo));
        });
    }

    public static Props Props(TmuxServer server, TmuxTerminal terminal, string? typeOnceReady = null) =>
        Akka.Actor.Props.Create(() => new TerminalActor(server, terminal, typeOnceReady));

    /// <summary>From `terminals`: a capture for this terminal, answered to <paramref name="ReplyTo"/>.</summary>
    internal sealed record CaptureRequest(CaptureTerminal Request, IActorRef ReplyTo);

    /// <summary>To `terminals`: the title the program set changed (null: none).</summary>
    internal sealed record TitleChanged(string TerminalId, string? Title);

    protected override void PreStart()
    {
        AttachClient();
        if (_typeOnceReady is not null) Timers.StartSingleTimer("type", TypeNow.Instance, TypeAfterAtMost);
    }

    private void TypeIfWaiting()
    {
        if (_typeOnceReady is not { } keys) return;
        _typeOnceReady = null;
        Timers.Cancel("type");
        Self.Tell(new TerminalInput(_terminal.Id, Encoding.UTF8.GetBytes(keys)));
    }

    private void AttachClient()
    {
        try
        {
            _client = TmuxControlClient.Attach(_server, _terminal.Id);
        }
        catch (Exception e) when (e is TmuxException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            _log.Warning("Terminal {0}: tmux control client could not start: {1}", _terminal.Id, e.Message);
            Self.Tell(new ControlEnded(_generation));
            return;
        }
        // The program's OSC title, as tmux keeps it (checked by tmux about once a second); the host name is tmux's default, not a title.
        Send($"refresh-client -B {TmuxControlParser.Quote($"{TitleSubscription}::#{{?#{{==:#{{pane_title}},#{{host}}}},,#{{pane_title}}}}")}", Pending.Ignored);
        // A script that finished before this client attached left its status with the terminal.
        if (_terminal.Script is not null) Send($"display -p -t {_terminal.PaneId} {TmuxControlParser.Quote("#{@paseo-exit}")}", Pending.ScriptStatus);
        ReadNext();
    }

    protected override void PostStop()
    {
        if (_client is { } client) _ = client.DisposeAsync().AsTask();
    }

    private void ReadNext()
    {
        if (_client is null) return;
        var generation = _generation;
        _client.ReadBatchAsync().PipeTo(Self, success: lines => lines is null ? new ControlEnded(generation) : new ControlBatch(generation, lines),
            failure: _ => new ControlEnded(generation));
    }

    private void OnLine(ControlLine line)
    {
        switch (line)
        {
            case ControlLine.Output output when output.PaneId == _terminal.PaneId && output.Bytes.Length > 0:
                // The output of one batch goes to the subscribers as one message (fewer messages and frames under a flood).
                _output.Write(output.Bytes);
                // The terminal shows output (its prompt): what was to be typed into it goes now.
                if (_typeOnceReady is not null) TypeIfWaiting();
                if (_terminal.Script is not null) ScanForFinishedMark(output.Bytes);
                break;
            case ControlLine.BlockBegin { Ours: true }:
                _block = [];
                break;
            case ControlLine.BlockLine text when _block is not null:
                _block.Add(text.Bytes);
                break;
            case ControlLine.BlockEnd { Ours: true } end:
                // Output before a snapshot's answer is in the snapshot: whoever waits for one must not get it twice.
                SendOutput();
                var lines = _block ?? [];
                _block = null;
                if (_pending.TryDequeue(out var pending)) Complete(pending, lines, end.Failed);
                break;
            case ControlLine.Subscription { Name: TitleSubscription } title:
                var value = title.Value.Length == 0 ? null : title.Value;
                if (value == _paneTitle) break;
                _paneTitle = value;
                Context.Parent.Tell(new TitleChanged(_terminal.Id, _paneTitle));
                break;
            case ControlLine.Exit:
                SendOutput();
                CheckSession();
                break;
        }
    }

    /// <summary>
    /// The control client ended. Usually the session did (its program exited, it was killed); but a client can also be
    /// detached (tmux found it too far behind, someone ran detach-client, the client process died): then the terminal is
    /// still there and a new client attaches, at most <see cref="MaxReattaches"/> times.
    /// </summary>
    private void CheckSession()
    {
        if (_checking || _ended) return;
        _checking = true;
        var id = _terminal.Id;
        _server.RunAsync(["has-session", "-t", "=" + id], quietWhenNoServer: true)
            .PipeTo(Self, success: output => new SessionChecked(output is not null), failure: _ => new SessionChecked(false));
    }

    private void OnSessionChecked(SessionChecked check)
    {
        _checking = false;
        if (!check.Exists || ++_reattaches > MaxReattaches)
        {
            End();
            return;
        }
        _log.Warning("Terminal {0}: its tmux client ended but the terminal did not; attaching again", _terminal.Id);
        if (_client is { } old) _ = old.DisposeAsync().AsTask();
        _client = null;
        _generation++;
        AbandonPending();
        AttachClient();
        // What was written meanwhile is lost to the stream: everyone attached gets a new snapshot.
        _awaitingSnapshot.UnionWith(_streaming);
        _streaming.Clear();
        if (_awaitingSnapshot.Count > 0) RequestSnapshot();
    }

    private void RequestSnapshot()
    {
        if (Send($"capture-pane -p -e -N -S - -E - -t {_terminal.PaneId} ; display -p -t {_terminal.PaneId} {TmuxControlParser.Quote(PaneFormat)}",
                Pending.SnapshotScreen, Pending.SnapshotFacts)) return;
        // tmux is too far behind to take the command: the waiters are told, not left waiting for a snapshot that never comes.
        foreach (var waiter in _awaitingSnapshot)
        {
            waiter.Tell(new AttachFailed(_terminal.Id, "Terminal is busy; try again"));
            Context.Unwatch(waiter);
        }
        _awaitingSnapshot.Clear();
    }

    /// <summary>Commands sent to a client that is gone get no answer: captures are answered empty, a snapshot is asked again.</summary>
    private void AbandonPending()
    {
        foreach (var pending in _pending.Where(p => p.Kind == PendingKind.Capture)) pending.ReplyTo!.Tell(new Captured(_terminal.Id, [], 0));
        _pending.Clear();
        _block = null;
        _capturedScreen = null;
    }

    private void SendOutput()
    {
        if (_output.WrittenCount == 0) return;
        var message = new TerminalOutput(_terminal.Id, _output.WrittenSpan.ToArray());
        _output.Clear();
        foreach (var subscriber in _streaming) subscriber.Tell(message);
    }

    private void Complete(Pending pending, List<byte[]> lines, bool failed)
    {
        switch (pending.Kind)
        {
            case PendingKind.SnapshotScreen:
                _capturedScreen = failed ? null : lines;
                // A failed command ends its command list: tmux does not run the `display` queued behind it.
                if (failed && _pending.TryPeek(out var next) && next.Kind == PendingKind.SnapshotFacts)
                {
                    _pending.Dequeue();
                    Complete(next, [], failed: true);
                }
                break;
            case PendingKind.SnapshotFacts:
                var facts = failed || lines.Count == 0 ? null : ParseFacts(Encoding.UTF8.GetString(lines[0]));
                if (_capturedScreen is { } screen && facts is not null)
                {
                    var snapshot = new TerminalSnapshot(_terminal.Id, TerminalStateWriter.Write(screen, facts with { Title = _terminal.PresetTitle ?? facts.Title }));
                    foreach (var subscriber in _awaitingSnapshot) subscriber.Tell(snapshot);
                }
                else _log.Warning("Terminal {0}: the snapshot failed; its subscribers get output without one", _terminal.Id);
                _streaming.UnionWith(_awaitingSnapshot);
                _awaitingSnapshot.Clear();
                _capturedScreen = null;
                break;
            case PendingKind.ScriptStatus:
                if (!failed && lines.Count > 0 && int.TryParse(Encoding.ASCII.GetString(lines[0]).Trim(), out var status))
                    Context.Parent.Tell(new TerminalProgramExited(_terminal.Id, status));
                break;
            case PendingKind.Capture:
                var rows = failed ? [] : lines.Select(l => Encoding.UTF8.GetString(l).TrimEnd()).ToList();
                pending.ReplyTo!.Tell(Slice(pending.Request!, rows));
                break;
        }
    }

    /// <summary>Finds `ESC ] 633 ; D ; &lt;status&gt; BEL` in a script terminal's output (even cut between two outputs) and reports the status.</summary>
    private void ScanForFinishedMark(byte[] bytes)
    {
        var text = _markTail.Length == 0 ? bytes : [.. _markTail, .. bytes];
        var span = text.AsSpan();
        int at;
        while ((at = span.IndexOf(FinishedMark)) >= 0)
        {
            var rest = span[(at + FinishedMark.Length)..];
            var end = rest.IndexOf((byte)7);
            if (end < 0) break;
            if (int.TryParse(Encoding.ASCII.GetString(rest[..end]), out var status)) Context.Parent.Tell(new TerminalProgramExited(_terminal.Id, status));
            span = rest[(end + 1)..];
        }
        _markTail = span.Length > 24 ? span[^24..].ToArray() : span.ToArray();
    }

    /// <summary>capture_terminal's range (§5.2): 0-based rows, negative from the end, clamped, `end` inclusive.</summary>
    internal static Captured Slice(CaptureTerminal request, IReadOnlyList<string> rows)
    {
        var total = rows.Count;
        if (total == 0) return new Captured(request.TerminalId, [], 0);
        int Index(int? value, int fallback) => value is not { } v ? fallback : Math.Clamp(v < 0 ? total + v : v, 0, total - 1);
        var start = Index(request.Start, 0);
        var end = Index(request.End, total - 1);
        return new Captured(request.TerminalId, end < start ? [] : rows.Skip(start).Take(end - start + 1).ToList(), total);
    }

    private static PaneFacts? ParseFacts(string line)
    {
        var parts = line.Split(' ', 6);
        if (parts.Length < 5 || !int.TryParse(parts[0], out var rows) || !int.TryParse(parts[1], out var cols)
            || !int.TryParse(parts[2], out var y) || !int.TryParse(parts[3], out var x)) return null;
        return new PaneFacts(rows, cols, y, x, parts[4] == "0", parts.Length > 5 && parts[5].Length > 0 ? parts[5] : null);
    }

    /// <summary>Writes one command line (which may hold several commands: one pending entry each); false when tmux is too far behind.</summary>
    private bool Send(string line, params Pending[] answers)
    {
        if (_client is null) return false;
        if (!_client.TrySend(line))
        {
            if (!_droppedInput) _log.Warning("Terminal {0}: tmux has {1} commands waiting; input dropped until it catches up (paseo.terminals.max-pending-commands)",
                _terminal.Id, _server.Settings.MaxPendingCommands);
            _droppedInput = true;
            return false;
        }
        _droppedInput = false;
        foreach (var answer in answers) _pending.Enqueue(answer);
        return true;
    }

    private void Forget(IActorRef subscriber)
    {
        _streaming.Remove(subscriber);
        _awaitingSnapshot.Remove(subscriber);
        Context.Unwatch(subscriber);
    }

    private void End()
    {
        if (_ended) return;
        _ended = true;
        var exited = new TerminalExited(_terminal.Id);
        foreach (var subscriber in _streaming.Concat(_awaitingSnapshot)) subscriber.Tell(exited);
        AbandonPending();
        Context.Parent.Tell(exited);
        Context.Stop(Self);
    }

    private enum PendingKind
    {
        Ignored,
        SnapshotScreen,
        SnapshotFacts,
        Capture,
        ScriptStatus,
    }

    private sealed record Pending(PendingKind Kind, CaptureTerminal? Request = null, IActorRef? ReplyTo = null)
    {
        public static readonly Pending Ignored = new(PendingKind.Ignored);
        public static readonly Pending SnapshotScreen = new(PendingKind.SnapshotScreen);
        public static readonly Pending SnapshotFacts = new(PendingKind.SnapshotFacts);
        public static readonly Pending ScriptStatus = new(PendingKind.ScriptStatus);
        public static Pending Capture(CaptureTerminal request, IActorRef replyTo) => new(PendingKind.Capture, request, replyTo);
    }

    /// <summary>Lines from the control client of this generation (a client given up for a new one has an older one).</summary>
    private sealed record ControlBatch(int Generation, IReadOnlyList<ControlLine> Lines) : INoSerializationVerificationNeeded;

    private sealed record SessionChecked(bool Exists) : INoSerializationVerificationNeeded;

    private sealed record TypeNow : INoSerializationVerificationNeeded
    {
        public static readonly TypeNow Instance = new();
    }

    private sealed record ControlEnded(int Generation) : INoSerializationVerificationNeeded;
}
