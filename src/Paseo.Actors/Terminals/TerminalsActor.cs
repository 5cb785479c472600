using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Terminals;
using static Paseo.Actors.Terminals.TerminalProtocol;

namespace Paseo.Actors.Terminals;

/// <summary>
/// The daemon's terminals (`terminals`; app-workspaces.md §5): they belong to the daemon, not to a client, and live in
/// the daemon's own tmux server, so they outlive a daemon restart. At start it finds the terminals an earlier daemon left
/// (recovering) and attaches one <see cref="TerminalActor"/> to each; then it creates, lists, kills and routes to them, and
/// tells directory watchers (sessions' subscribe_terminals) the list of a cwd after every change there.
/// <para>Phases: recovering (requests wait) → serving; or unavailable when tmux is missing (every request gets that reason).</para>
/// </summary>
public sealed class TerminalsActor : ReceiveActor, IWithStash
{
    public const string NotAvailable = "Terminal manager not available";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TmuxServer _server;
    private readonly string _defaultShell;
    // Each terminal with its stored title: `=title` fixed (a script's), `~command line` until the program sets its own, or null.
    private readonly Dictionary<string, (TerminalInfo Info, IActorRef Actor, string? StoredTitle, string PaneId)> _terminals = [];
    private readonly Dictionary<string, HashSet<IActorRef>> _watchers = [];
    private int _creating;
    private readonly Dictionary<string, int> _creatingIn = [];
    private string? _unavailable;

    public IStash Stash { get; set; } = null!;

    public TerminalsActor(TmuxServer server, string defaultShell)
    {
        _server = server;
        _defaultShell = defaultShell;
        Recovering();
    }

    public static Props Props(TmuxServer server, string defaultShell) => Akka.Actor.Props.Create(() => new TerminalsActor(server, defaultShell));

    protected override void PreStart()
    {
        if (_server.Program is null)
        {
            _unavailable = $"{NotAvailable}: {_server.Settings.Program} is not installed (apt-get install tmux)";
            _log.Warning("Terminals are off: {0} is not on PATH", _server.Settings.Program);
            Self.Tell(new Recovered([]));
            return;
        }
        RecoverAsync().PipeTo(Self, success: list => new Recovered(list), failure: e => new Recovered([], e.Message));
    }

    private async Task<IReadOnlyList<TmuxTerminal>> RecoverAsync()
    {
        await _server.PrepareAsync(_defaultShell).ConfigureAwait(false);
        return await _server.ListAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A terminal actor that throws is resumed: a restart would forget who is attached (their streams would go silent)
    /// and its pending answers. One that cannot start is stopped and unlisted (its tmux session goes on; the next daemon
    /// finds it again).
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(Decider.From(Directive.Resume, Directive.Stop.When<ActorInitializationException>()));

    private void Recovering()
    {
        Receive<Recovered>(recovered =>
        {
            if (recovered.Error is { } error)
            {
                _unavailable = $"{NotAvailable}: {error}";
                _log.Error("Terminals are off: {0}", error);
            }
            foreach (var terminal in recovered.Terminals) Start(terminal);
            if (recovered.Terminals.Count > 0) _log.Info("{0} terminal(s) from before the restart attached again", recovered.Terminals.Count);
            Become(Serving);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Serving()
    {
        Receive<CreateTerminal>(OnCreate);
        Receive<Started>(started =>
        {
            _creating--;
            DoneCreatingIn(started.Terminal.Cwd);
            var info = Start(started.Terminal, started.TypeOnceReady);
            started.ReplyTo.Tell(new Created(info));
            Changed(info.Cwd);
        });
        Receive<StartFailed>(failed =>
        {
            if (failed.Counted) _creating--;
            if (failed.Cwd is { } cwd) DoneCreatingIn(cwd);
            failed.ReplyTo.Tell(new CreateFailed(failed.Error));
        });
        Receive<ListTerminals>(list => Sender.Tell(new TerminalList(List(list.Cwd))));
        Receive<KillTerminal>(kill =>
        {
            if (!_terminals.ContainsKey(kill.TerminalId))
            {
                Sender.Tell(new Killed(kill.TerminalId, false));
                return;
            }
            // tmux ends the session; its actor hears %exit and ends (telling subscribers and us).
            var id = kill.TerminalId;
            _server.KillAsync(id).PipeTo(Sender, success: existed => new Killed(id, existed), failure: _ => new Killed(id, false));
        });
        Receive<CaptureTerminal>(capture =>
        {
            if (_terminals.TryGetValue(capture.TerminalId, out var terminal)) terminal.Actor.Tell(new TerminalActor.CaptureRequest(capture, Sender));
            else Sender.Tell(new Captured(capture.TerminalId, [], 0));
        });
        Receive<WatchDirectory>(watch =>
        {
            if (!_watchers.TryGetValue(watch.Cwd, out var watchers)) _watchers[watch.Cwd] = watchers = [];
            if (watchers.Add(watch.Watcher)) Context.Watch(watch.Watcher);
            watch.Watcher.Tell(new TerminalsChanged(watch.Cwd, List(watch.Cwd)));
        });
        Receive<UnwatchDirectory>(unwatch =>
        {
            if (_watchers.TryGetValue(unwatch.Cwd, out var watchers) && watchers.Remove(unwatch.Watcher) && watchers.Count == 0) _watchers.Remove(unwatch.Cwd);
        });
        Receive<Terminated>(terminated =>
        {
            foreach (var (cwd, watchers) in _watchers.ToList())
                if (watchers.Remove(terminated.ActorRef) && watchers.Count == 0) _watchers.Remove(cwd);
        });
        Receive<AttachStream>(attach =>
        {
            if (_unavailable is not null) attach.Subscriber.Tell(new AttachFailed(attach.TerminalId, NotAvailable));
            else if (_terminals.TryGetValue(attach.TerminalId, out var terminal)) terminal.Actor.Forward(attach);
            else attach.Subscriber.Tell(new AttachFailed(attach.TerminalId, "Terminal not found"));
        });
        Receive<DetachStream>(detach =>
        {
            if (_terminals.TryGetValue(detach.TerminalId, out var terminal)) terminal.Actor.Forward(detach);
        });
        Receive<TerminalInput>(input =>
        {
            if (_terminals.TryGetValue(input.TerminalId, out var terminal)) terminal.Actor.Forward(input);
        });
        Receive<TerminalResize>(resize =>
        {
            if (_terminals.TryGetValue(resize.TerminalId, out var terminal)) terminal.Actor.Forward(resize);
        });
        Receive<TerminalActor.TitleChanged>(changed =>
        {
            if (!_terminals.TryGetValue(changed.TerminalId, out var terminal)) return;
            var info = terminal.Info with { Title = TitleOf(terminal.StoredTitle, changed.Title) };
            if (info == terminal.Info) return;
            _terminals[changed.TerminalId] = terminal with { Info = info };
            Changed(info.Cwd);
        });
        Receive<TerminalExited>(exited =>
        {
            if (!_terminals.Remove(exited.TerminalId, out var terminal)) return;
            _log.Info("Terminal {0} ({1}) ended", exited.TerminalId, terminal.Info.Name);
            Changed(terminal.Info.Cwd);
            Context.System.EventStream.Publish(new TerminalEnded(exited.TerminalId));
        });
        // A script's end is for the scripts (its terminal stays as it is); the status a later daemon needs is kept by tmux.
        Receive<TerminalProgramExited>(exited => Context.System.EventStream.Publish(exited));
        Receive<RespawnTerminal>(respawn =>
        {
            if (!_terminals.TryGetValue(respawn.TerminalId, out var terminal))
            {
                Sender.Tell(new CreateFailed("Terminal not found"));
                return;
            }
            var replyTo = Sender;
            var id = respawn.TerminalId;
            _server.RespawnAsync(id, terminal.PaneId, terminal.Info.Cwd, respawn.Command, respawn.Environment)
                .PipeTo(Self, success: () => new Respawned(id, replyTo), failure: e => new StartFailed(e.GetBaseException().Message, replyTo, Counted: false));
        });
        Receive<Respawned>(respawned =>
        {
            if (!_terminals.TryGetValue(respawned.TerminalId, out var terminal))
            {
                respawned.ReplyTo.Tell(new CreateFailed("Terminal not found"));
                return;
            }
            respawned.ReplyTo.Tell(new Created(terminal.Info));
        });
    }

    private void OnCreate(CreateTerminal create)
    {
        if (_unavailable is not null)
        {
            Sender.Tell(new CreateFailed(_unavailable));
            return;
        }
        if (!Path.IsPathFullyQualified(create.Cwd))
        {
            Sender.Tell(new CreateFailed("cwd must be absolute path"));
            return;
        }
        if (!Directory.Exists(create.Cwd))
        {
            Sender.Tell(new CreateFailed($"Directory not found: {create.Cwd}"));
            return;
        }
        if (create.Cwd.Any(char.IsControl) || create.Command?.Any(a => a.Contains('\0')) == true)
        {
            Sender.Tell(new CreateFailed("cwd and command may not contain control characters"));
            return;
        }
        if (_terminals.Count + _creating >= _server.Settings.MaxTerminals)
        {
            Sender.Tell(new CreateFailed($"Too many terminals: the daemon keeps at most {_server.Settings.MaxTerminals} (paseo.terminals.max-terminals); kill one first"));
            return;
        }
        // Terminals still being made in this cwd count too, so two creates at once do not both get "Terminal 1".
        var name = Clean(create.Name) is { Length: > 0 } given ? given
            : $"Terminal {1 + _terminals.Values.Count(t => t.Info.Cwd == create.Cwd) + _creatingIn.GetValueOrDefault(create.Cwd)}";
        _creatingIn[create.Cwd] = _creatingIn.GetValueOrDefault(create.Cwd) + 1;
        var id = Guid.NewGuid().ToString();
        var environment = new Dictionary<string, string>(create.Environment ?? new Dictionary<string, string>()) { ["TERM"] = "xterm-256color" };
        var replyTo = Sender;
        var storedTitle = create.PresetTitle is { } preset ? "=" + preset : create.Command is { Count: > 0 } command ? "~" + Humanised(command) : null;
        _creating++;
        _server.CreateAsync(id, name, create.Cwd, create.Command, storedTitle, environment, 80, 24, create.Script, _defaultShell)
            .PipeTo(Self, success: pane => new Started(new TmuxTerminal(id, pane, name, create.Cwd, storedTitle, null, 0, create.Script), replyTo, create.TypeOnceReady),
                failure: e => new StartFailed(e.GetBaseException().Message, replyTo, Cwd: create.Cwd));
    }

    private void DoneCreatingIn(string cwd)
    {
        if (_creatingIn.TryGetValue(cwd, out var count) && count > 1) _creatingIn[cwd] = count - 1;
        else _creatingIn.Remove(cwd);
    }

    private TerminalInfo Start(TmuxTerminal terminal, string? typeOnceReady = null)
    {
        var info = new TerminalInfo(terminal.Id, terminal.Name, terminal.Cwd, TitleOf(terminal.PresetTitle, terminal.PaneTitle), terminal.Script, terminal.ExitCode);
        var actor = Context.ActorOf(TerminalActor.Props(_server, terminal with { PresetTitle = FixedTitle(terminal.PresetTitle) }, typeOnceReady), "terminal-" + terminal.Id);
        // A terminal actor that stopped without saying so (it failed to start) must not stay listed.
        Context.WatchWith(actor, new TerminalExited(terminal.Id));
        _terminals[terminal.Id] = (info, actor, terminal.PresetTitle, terminal.PaneId);
        return info;
    }

    /// <summary>
    /// The title a client sees: a fixed title (`=`, a script's) always; else the program's own (OSC) title once it set
    /// one; else the command line it started with (`~`).
    /// </summary>
    private static string? TitleOf(string? stored, string? paneTitle) => stored switch
    {
        ['=', .. var fixedTitle] => fixedTitle,
        _ when paneTitle is { Length: > 0 } own => own,
        ['~', .. var commandLine] => commandLine,
        _ => null,
    };

    private static string? FixedTitle(string? stored) => stored is ['=', .. var title] ? title : null;

    private List<TerminalInfo> List(string? cwd) => [.. _terminals.Values.Select(t => t.Info).Where(t => cwd is null || t.Cwd == cwd)];

    private void Changed(string cwd)
    {
        if (!_watchers.TryGetValue(cwd, out var watchers)) return;
        var changed = new TerminalsChanged(cwd, List(cwd));
        foreach (var watcher in watchers) watcher.Tell(changed);
    }

    private static string? Clean(string? name) => name is null ? null : new string([.. name.Select(c => char.IsControl(c) ? ' ' : c)]).Trim();

    /// <summary>A command terminal's first title: its command line, arguments with spaces quoted.</summary>
    private static string Humanised(IReadOnlyList<string> command) =>
        string.Join(' ', command.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"\"{a}\"" : a));

    private sealed record Recovered(IReadOnlyList<TmuxTerminal> Terminals, string? Error = null) : INoSerializationVerificationNeeded;

    private sealed record Started(TmuxTerminal Terminal, IActorRef ReplyTo, string? TypeOnceReady) : INoSerializationVerificationNeeded;

    private sealed record StartFailed(string Error, IActorRef ReplyTo, bool Counted = true, string? Cwd = null) : INoSerializationVerificationNeeded;

    private sealed record Respawned(string TerminalId, IActorRef ReplyTo) : INoSerializationVerificationNeeded;
}
