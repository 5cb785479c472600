using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using CliWrap;
using Paseo.Transport.Processes;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Workspaces;

/// <summary>
/// Workspace scripts (`scripts`; app-workspaces.md §2.4, §2.11): paseo.json's `scripts` of every listed workspace (read off
/// this thread when a workspace appears or its paseo.json is written), and the runs started with start_workspace_script.
/// A run is a daemon-owned process group (`/bin/bash -lc <command>` in the workspace); a service gets a stable port, its
/// `*.localhost` route on the daemon's HTTP port and the `PASEO_*` environment. Every change is published (the descriptor's
/// `scripts`, `script_status_update`). Runs stop with the daemon (their process groups are killed).
/// <para>
/// Until terminals exist (the next issue), a run has no terminal: `terminalId` is null and its output is not kept.
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
        public int Pid { get; set; }
        public string Lifecycle { get; set; } = "running";
        public int? ExitCode { get; set; }
        public CancellationTokenSource Stop { get; } = new();
    }

    public ScriptsActor(ScriptRoutes routes)
    {
        _routes = routes;
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
        Receive<Exited>(exited =>
        {
            if (!_runs.TryGetValue(exited.Key, out var run) || run != exited.Run) return;
            run.Lifecycle = "stopped";
            run.ExitCode = exited.ExitCode;
            // What the script left running in the background goes with it.
            ChildProcess.KillGroup(run.Pid);
            if (run.Definition.IsService) _routes.Remove(run.Hostname);
            Publish(exited.Key.Workspace);
        });
    }

    public static Props Props(ScriptRoutes routes) => Akka.Actor.Props.Create(() => new ScriptsActor(routes));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(WorkspacesChanged));

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        // The daemon is stopping: no script outlives it.
        foreach (var run in _runs.Values.Where(r => r.Lifecycle == "running"))
        {
            run.Stop.Cancel();
            ChildProcess.KillGroup(run.Pid);
            if (run.Definition.IsService) _routes.Remove(run.Hostname);
        }
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
        try
        {
            var self = Self;
            var task = Cli.Wrap("setsid").WithArguments(["/bin/bash", "-lc", script.Command]).WithWorkingDirectory(workspace.Cwd)
                .WithEnvironmentVariables(env).WithValidation(CommandResultValidation.None).WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(PipeTarget.Null).WithStandardErrorPipe(PipeTarget.Null)
                .ExecuteAsync(run.Stop.Token);
            run.Pid = task.ProcessId;
            task.Task.ContinueWith(t => new Exited(key, run, t.IsCompletedSuccessfully ? t.Result.ExitCode : null), TaskScheduler.Default).PipeTo(self);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            replyTo.Tell(new ScriptStarted(null, $"Script '{script.Name}' could not be started: {e.Message}"));
            return;
        }
        _runs[key] = run;
        if (script.IsService && port is { } routePort) _routes.Set(hostname, routePort);
        _log.Info("Workspace script {0} of {1} started (pid {2}{3})", script.Name, workspace.WorkspaceId, run.Pid, port is null ? "" : $", port {port}");
        // script_status_update goes out before the reply.
        Publish(workspace.WorkspaceId);
        replyTo.Tell(new ScriptStarted(null, null));
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
                script.IsService && daemonPort is { } p ? $"http://{hostname}:{p}" : null, run?.Lifecycle ?? "stopped", run?.ExitCode, null));
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

    private sealed record Exited((string Workspace, string Script) Key, Run Run, int? ExitCode);
}
