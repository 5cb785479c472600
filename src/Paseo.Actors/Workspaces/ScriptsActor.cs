using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Terminals;
using Paseo.Transport.Terminals;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Workspaces;

/// <summary>
/// Workspace scripts (`scripts`; app-workspaces.md §2.4, §2.11): paseo.json's `scripts` of every listed workspace (read off
/// this thread when a workspace appears or its paseo.json is written), and the runs started with start_workspace_script.
/// A run is a terminal of the daemon running `/bin/bash -lc <command>` in the workspace (`terminalId` in the reply and the
/// script list), named and titled after the script; when the command ends its terminal stays, showing what it printed,
/// and says the exit status (<see cref="ScriptTag.Command"/>); starting the script again runs it again in the same terminal. A service gets a stable port (kept
/// with its terminal), its `*.localhost` route on the daemon's HTTP port and the `PASEO_*` environment. Every change is
/// published (the descriptor's `scripts`, `script_status_update`).
/// <para>
/// Runs are terminals, so they live as terminals do: a daemon restart finds them again (a service running on keeps its
/// port and gets its route back), `paseo daemon stop` ends them, and killing the terminal stops the script.
/// </para>
/// </summary>
public sealed class ScriptsActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ScriptRoutes _routes;
    private readonly DaemonWorkspaces _shared = DaemonWorkspaces.Get(Context.System);
    private readonly Dictionary<string, (IReadOnlyList<ScriptDefinition> Scripts, string? Error)> _configured = [];
    private readonly HashSet<string> _loading = [];
    private readonly Dictionary<(string Workspace, string Script), Run> _runs = [];
    private readonly Dictionary<(string Workspace, string Script), int> _ports = [];

    private sealed class Run
    {
        public required ScriptDefinition Definition { get; init; }
        public required string Hostname { get; init; }
        public int? Port { get; init; }
        /// <summary>The terminal it runs in; null until the terminal is there.</summary>
        public string? TerminalId { get; set; }
        /// <summary>Whether that terminal still exists (a stopped script's terminal is kept until someone kills it).</summary>
        public bool TerminalAlive { get; set; }
        public string Lifecycle { get; set; } = "running";
        public int? ExitCode { get; set; }
    }

    private static readonly TimeSpan TerminalTimeout = TimeSpan.FromSeconds(20);
    private const int MaxEarlyEnds = 256;
    private readonly Dictionary<string, (int? ExitCode, bool TerminalGone)> _earlyEnds = [];
    private readonly Queue<string> _earlyOrder = new();
    private readonly IActorRef _terminals;

    public ScriptsActor(ScriptRoutes routes, IActorRef terminals)
    {
        _routes = routes;
        _terminals = terminals;
        Receive<WorkspacesChanged>(changed =>
        {
            foreach (var workspace in changed.Registry.Listed.Where(w => !_configured.ContainsKey(w.WorkspaceId) && !_loading.Contains(w.WorkspaceId))) Load(workspace);
        });
        Receive<ReloadScripts>(reload =>
        {
            foreach (var workspace in _shared.Current.Listed.Where(w => w.Cwd == reload.Cwd || WorkspacePaths.IsUnder(w.Cwd, reload.Cwd))) Load(workspace);
        });
        Receive<Loaded>(loaded =>
        {
            _loading.Remove(loaded.Workspace.WorkspaceId);
            _configured[loaded.Workspace.WorkspaceId] = (loaded.Scripts, loaded.Error);
            Publish(loaded.Workspace.WorkspaceId);
            if (loaded.Start is { } start) Start(loaded.Workspace, start);
        });
        Receive<StartScript>(start =>
        {
            if (!_shared.Current.Workspaces.TryGetValue(start.WorkspaceId, out var workspace) || !_shared.Current.IsListed(workspace))
            {
                Sender.Tell(new ScriptStarted(null, $"Workspace not found: {start.WorkspaceId}"));
                return;
            }
            // The file is read again first: the script may have just been added.
            Load(workspace, start with { ReplyTo = Sender });
        });
        Receive<TerminalReady>(OnTerminalReady);
        Receive<TerminalProtocol.TerminalProgramExited>(exited =>
        {
            if (RunIn(exited.TerminalId) is not { } found)
            {
                KeepEarly(exited.TerminalId, exited.ExitCode, gone: false);
                return;
            }
            // Reported again when a daemon attaches to a finished script's terminal: only a running script stops.
            if (found.Run.Lifecycle == "running") Stopped(found.Key, found.Run, exited.ExitCode);
        });
        Receive<TerminalProtocol.TerminalEnded>(ended =>
        {
            if (RunIn(ended.TerminalId) is not { } found)
            {
                KeepEarly(ended.TerminalId, _earlyEnds.GetValueOrDefault(ended.TerminalId).ExitCode, gone: true);
                return;
            }
            found.Run.TerminalAlive = false;
            if (found.Run.Lifecycle == "running") Stopped(found.Key, found.Run, null);
        });
        Receive<TerminalProtocol.TerminalList>(OnRecovered);
    }

    public static Props Props(ScriptRoutes routes, IActorRef terminals) => Akka.Actor.Props.Create(() => new ScriptsActor(routes, terminals));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(WorkspacesChanged));
        Context.System.EventStream.Subscribe(Self, typeof(TerminalProtocol.TerminalProgramExited));
        Context.System.EventStream.Subscribe(Self, typeof(TerminalProtocol.TerminalEnded));
        // Script terminals an earlier daemon left: adopted (the terminals actor answers once it has found them again).
        _terminals.Ask<TerminalProtocol.TerminalList>(new TerminalProtocol.ListTerminals(null), TerminalTimeout)
            .PipeTo(Self, failure: _ => new TerminalProtocol.TerminalList([]));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        // The routes live in this daemon; the scripts live on in their terminals (a restarted daemon routes them again).
        foreach (var run in _runs.Values.Where(r => r.Definition.IsService)) _routes.Remove(run.Hostname);
    }

    private void OnRecovered(TerminalProtocol.TerminalList list)
    {
        foreach (var terminal in list.Terminals)
        {
            if (terminal.Script is not { } tag || _runs.ContainsKey((tag.WorkspaceId, tag.ScriptName))) continue;
            var definition = new ScriptDefinition(tag.ScriptName, "", tag.Port is not null, tag.Port);
            var workspace = _shared.Current.Workspaces.GetValueOrDefault(tag.WorkspaceId);
            var (branch, project) = workspace is null ? (null, WorkspacePaths.LastSegment(tag.WorkspaceId)) : Naming(workspace);
            var run = new Run
            {
                Definition = definition, Hostname = WorkspaceScripts.Hostname(definition, branch, project), Port = tag.Port, TerminalId = terminal.Id,
                TerminalAlive = true, Lifecycle = terminal.ExitCode is null ? "running" : "stopped", ExitCode = terminal.ExitCode,
            };
            var key = (tag.WorkspaceId, tag.ScriptName);
            _runs[key] = run;
            if (tag.Port is { } port)
            {
                _ports[key] = port;
                if (run.Lifecycle == "running") _routes.Set(run.Hostname, port);
            }
            _log.Info("Workspace script {0} of {1} found again in terminal {2} ({3})", tag.ScriptName, tag.WorkspaceId, terminal.Id, run.Lifecycle);
            Publish(tag.WorkspaceId);
        }
    }

    /// <summary>
    /// The end of a terminal no run knows yet (a script that ended before its terminal's id came back), kept for
    /// <see cref="OnTerminalReady"/>; at most <see cref="MaxEarlyEnds"/>, the oldest forgotten (ends of terminals that
    /// are not scripts' land here too).
    /// </summary>
    private void KeepEarly(string terminalId, int? exitCode, bool gone)
    {
        if (!_earlyEnds.ContainsKey(terminalId)) _earlyOrder.Enqueue(terminalId);
        _earlyEnds[terminalId] = (exitCode, gone);
        while (_earlyOrder.Count > MaxEarlyEnds) _earlyEnds.Remove(_earlyOrder.Dequeue());
    }

    private ((string Workspace, string Script) Key, Run Run)? RunIn(string terminalId) =>
        _runs.FirstOrDefault(r => r.Value.TerminalId == terminalId) is { Value: not null } found ? (found.Key, found.Value) : null;

    private void Stopped((string Workspace, string Script) key, Run run, int? exitCode)
    {
        run.Lifecycle = "stopped";
        run.ExitCode = exitCode;
        if (run.Definition.IsService) _routes.Remove(run.Hostname);
        Publish(key.Workspace);
    }

    private void Load(WorkspaceRecord workspace, StartScript? start = null)
    {
        _loading.Add(workspace.WorkspaceId);
        var cwd = workspace.Cwd;
        Task.Run(() => WorkspaceScripts.Read(cwd)).PipeTo(Self, success: read => new Loaded(workspace, read.Scripts, read.Error, start),
            failure: e => new Loaded(workspace, [], e.Message, start));
    }

    private (string? Branch, string Project) Naming(WorkspaceRecord workspace)
    {
        var registry = _shared.Current;
        var project = registry.ProjectOf(workspace);
        var gitProject = project?.Kind == "git";
        var branch = gitProject ? workspace.DisplayName : null;
        var name = project?.ProjectId is { } key && key.StartsWith("remote:github.com/", StringComparison.Ordinal)
            ? key[(key.LastIndexOf('/') + 1)..]
            : WorkspacePaths.LastSegment(project?.RootPath ?? workspace.Cwd);
        return (branch, name);
    }

    private void Start(WorkspaceRecord workspace, StartScript start)
    {
        var replyTo = start.ReplyTo ?? ActorRefs.Nobody;
        var (scripts, error) = _configured[workspace.WorkspaceId];
        if (error is not null) { replyTo.Tell(new ScriptStarted(null, error)); return; }
        if (scripts.FirstOrDefault(s => s.Name == start.ScriptName) is not { } script)
        {
            replyTo.Tell(new ScriptStarted(null, $"Script '{start.ScriptName}' is not configured in paseo.json"));
            return;
        }
        var key = (workspace.WorkspaceId, script.Name);
        if (_runs.TryGetValue(key, out var running) && running.Lifecycle == "running")
        {
            replyTo.Tell(new ScriptStarted(null, $"Script '{script.Name}' is already running"));
            return;
        }
        var services = scripts.Where(s => s.IsService).ToList();
        if (services.GroupBy(s => WorkspaceScripts.EnvName(s.Name)).FirstOrDefault(g => g.Count() > 1) is { } collision)
        {
            replyTo.Tell(new ScriptStarted(null, $"Service env name collision for {collision.Key}: {string.Join(", ", collision.Select(s => s.Name))}"));
            return;
        }
        var (branch, project) = Naming(workspace);
        var daemonPort = _routes.DaemonPort;
        var env = new Dictionary<string, string?>
        {
            ["HOST"] = _routes.Loopback ? "127.0.0.1" : "0.0.0.0",
        };
        foreach (var service in services)
        {
            var servicePort = PortFor((workspace.WorkspaceId, service.Name), service.Port);
            var name = WorkspaceScripts.EnvName(service.Name);
            env[$"PASEO_SERVICE_{name}_PORT"] = servicePort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (daemonPort is { } p) env[$"PASEO_SERVICE_{name}_URL"] = $"http://{WorkspaceScripts.Hostname(service, branch, project)}:{p}";
        }
        var hostname = WorkspaceScripts.Hostname(script, branch, project);
        int? port = null;
        if (script.IsService)
        {
            port = PortFor(key, script.Port);
            env["PASEO_PORT"] = port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (daemonPort is { } p) env["PASEO_URL"] = $"http://{hostname}:{p}";
        }
        var run = new Run { Definition = script, Hostname = hostname, Port = port };
        var command = ScriptTag.Command(script.Command);
        var environment = env.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!);
        // Started again: in the terminal of the last run when it is still there (its output is replaced by the new run's).
        object request;
        if (_runs.TryGetValue(key, out var previous) && previous is { TerminalAlive: true, TerminalId: { } previousTerminal })
        {
            // Known at once, so a fast run's end that arrives before the respawn is confirmed finds its run.
            run.TerminalId = previousTerminal;
            run.TerminalAlive = true;
            request = new TerminalProtocol.RespawnTerminal(previousTerminal, command, environment);
        }
        else request = new TerminalProtocol.CreateTerminal(workspace.Cwd, script.Name, command, script.Name, environment, new ScriptTag(workspace.WorkspaceId, script.Name, port));
        // Held as running meanwhile, so a second start is refused ("already running").
        _runs[key] = run;
        _terminals.Ask<object>(request, TerminalTimeout).PipeTo(Self, success: answer => new TerminalReady(key, run, answer, replyTo, previous),
            failure: e => new TerminalReady(key, run, new TerminalProtocol.CreateFailed(e.GetBaseException().Message), replyTo, previous));
    }

    private void OnTerminalReady(TerminalReady ready)
    {
        var (key, run) = (ready.Key, ready.Run);
        if (ready.Answer is not TerminalProtocol.Created created)
        {
            var error = ready.Answer is TerminalProtocol.CreateFailed failed ? failed.Error : "no terminal";
            if (_runs.TryGetValue(key, out var current) && current == run)
            {
                if (ready.Previous is { } previous) _runs[key] = previous;
                else _runs.Remove(key);
            }
            ready.ReplyTo.Tell(new ScriptStarted(null, $"Script '{key.Script}' could not be started: {error}"));
            return;
        }
        run.TerminalId = created.Terminal.Id;
        run.TerminalAlive = true;
        // A new terminal whose script ended before we knew its id: that end was kept aside.
        if (_earlyEnds.Remove(run.TerminalId, out var early) && run.Lifecycle == "running")
        {
            run.Lifecycle = "stopped";
            run.ExitCode = early.ExitCode;
            run.TerminalAlive = !early.TerminalGone;
        }
        if (run is { Lifecycle: "running", Definition.IsService: true, Port: { } routePort }) _routes.Set(run.Hostname, routePort);
        _log.Info("Workspace script {0} of {1} started in terminal {2}{3}", key.Script, key.Workspace, run.TerminalId, run.Port is null ? "" : $", port {run.Port}");
        // script_status_update goes out before the reply.
        Publish(key.Workspace);
        ready.ReplyTo.Tell(new ScriptStarted(run.TerminalId, null));
    }

    private int PortFor((string, string) key, int? configured)
    {
        if (configured is { } fixedPort) return fixedPort;
        if (_ports.TryGetValue(key, out var known)) return known;
        var port = Paseo.Transport.Listen.LoopbackPorts.Free();
        _ports[key] = port;
        return port;
    }

    /// <summary>The workspace's scripts (configured ones, then runs no longer configured), into the shared view and onto the event stream.</summary>
    private void Publish(string workspaceId)
    {
        var (scripts, _) = _configured.GetValueOrDefault(workspaceId, ([], null));
        var states = new List<ScriptState>();
        var daemonPort = _routes.DaemonPort;
        var workspace = _shared.Current.Workspaces.GetValueOrDefault(workspaceId);
        var naming = workspace is null ? (null, WorkspacePaths.LastSegment(workspaceId)) : Naming(workspace);
        foreach (var script in scripts.Concat(_runs.Where(r => r.Key.Workspace == workspaceId && scripts.All(s => s.Name != r.Key.Script)).Select(r => r.Value.Definition)))
        {
            _runs.TryGetValue((workspaceId, script.Name), out var run);
            var hostname = run?.Hostname ?? WorkspaceScripts.Hostname(script, naming.Item1, naming.Item2);
            int? port = script.IsService ? run?.Port ?? script.Port ?? _ports.GetValueOrDefault((workspaceId, script.Name)) : null;
            if (port == 0) port = null;
            states.Add(new ScriptState(script.Name, script.IsService, hostname, port,
                script.IsService && daemonPort is { } p ? $"http://{hostname}:{p}" : null, run?.Lifecycle ?? "stopped", run?.ExitCode, run is { TerminalAlive: true } ? run.TerminalId : null));
        }
        _shared.Scripts = _shared.Scripts.SetItem(workspaceId, [.. states]);
        Context.System.EventStream.Publish(new ScriptsChanged(workspaceId, [.. states]));
    }

    // ---- messages -------------------------------------------------------------------------------------------------

    /// <summary>start_workspace_script (§2.11): answered <see cref="ScriptStarted"/>.</summary>
    public sealed record StartScript(string WorkspaceId, string ScriptName, IActorRef? ReplyTo = null);

    public sealed record ScriptStarted(string? TerminalId, string? Error);

    /// <summary>paseo.json under this directory changed (write_project_config): its workspaces' scripts are read again.</summary>
    public sealed record ReloadScripts(string Cwd);

    /// <summary>Published after every change of a workspace's scripts.</summary>
    public sealed record ScriptsChanged(string WorkspaceId, ImmutableArray<ScriptState> Scripts);

    private sealed record Loaded(WorkspaceRecord Workspace, IReadOnlyList<ScriptDefinition> Scripts, string? Error, StartScript? Start);

    private sealed record TerminalReady((string Workspace, string Script) Key, Run Run, object Answer, IActorRef ReplyTo, Run? Previous) : INoSerializationVerificationNeeded;
}
