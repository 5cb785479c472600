using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Git;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Workspaces;

/// <summary>`paseo.git` timings of the checkout observers.</summary>
public sealed record CheckoutWatchSettings(TimeSpan Debounce, TimeSpan MinInterval, TimeSpan SelfHeal, TimeSpan PollWhenUnwatched, TimeSpan FreshFor,
    TimeSpan FetchInterval = default)
{
    public static readonly CheckoutWatchSettings Default = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15));
}

/// <summary>
/// The git snapshot of one directory, shared by every session that shows it (`checkouts/&lt;n&gt;`; app-workspaces.md §3.1).
/// <para>
/// Watched, not polled: inotify watchers on the working tree (recursive) and on the git directory tell it something
/// changed; changes are gathered for `debounce` and refreshes are at least `min-interval` apart, so an agent writing
/// files all the time costs one refresh per interval. A re-read every `self-heal` catches what no watcher saw (a remote
/// branch moved by someone else's fetch). When the watchers cannot cover the tree (the kernel's inotify limit), it reads
/// every `poll-when-unwatched` instead. A repository with an origin is fetched every `fetch-interval` (no prompt, long
/// timeout), so what others pushed shows. Observers are told only when the snapshot changed; it stops when the last one
/// stops or leaves. Each read runs git off the actor's thread.
/// </para>
/// </summary>
public sealed class CheckoutObserverActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _cwd;
    private readonly string? _worktreesRoot;
    private readonly CheckoutWatchSettings _settings;
    private readonly GitRunner _git = DaemonWorkspaces.Get(Context.System).Git;
    private readonly GitHubCli _github = DaemonWorkspaces.Get(Context.System).GitHub;
    private readonly HashSet<IActorRef> _observers = [];
    private readonly List<IActorRef> _waiting = [];
    private readonly List<IActorRef> _waitingNext = [];
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly HashSet<IActorRef> _deep = [];
    private FileSystemWatcher? _treeWatcher;
    private CheckoutSnapshot? _snapshot;
    private DateTimeOffset _readAt;
    private bool _reading;
    private bool _again;
    private bool _forced;
    private DateTimeOffset _lastStart = DateTimeOffset.MinValue;
    private bool _fetching;
    // Fetches to skip after failures (an unreachable origin is tried less and less often, at least once in 16 intervals).
    private int _fetchFailures;
    private int _skipFetches;
    private readonly GitRunner _fetcher = DaemonWorkspaces.Get(Context.System).Fetcher;
    // Requests its parent forwarded: it is stopped by the parent only when it has handled every one (no request lost).
    private long _handled;

    public ITimerScheduler Timers { get; set; } = null!;

    public CheckoutObserverActor(string cwd, string? worktreesRoot, CheckoutWatchSettings settings)
    {
        _cwd = cwd;
        _worktreesRoot = worktreesRoot;
        _settings = settings;

        Receive<Observe>(observe =>
        {
            _handled++;
            if (_observers.Add(observe.Subscriber)) Context.Watch(observe.Subscriber);
            if (observe.Deep) _deep.Add(observe.Subscriber);
            else _deep.Remove(observe.Subscriber);
            if (_snapshot is not null) observe.Subscriber.Tell(new CheckoutChanged(_cwd, _snapshot));
            else _waiting.Add(observe.Subscriber);
            UpdateWatching();
            StartFetching();
            if (_snapshot is null || DateTimeOffset.UtcNow - _readAt >= _settings.FreshFor) Read(force: false);
        });
        Receive<Unobserve>(unobserve => Forget(unobserve.Subscriber));
        Receive<Terminated>(terminated => Forget(terminated.ActorRef));
        Receive<GetCheckout>(get =>
        {
            _handled++;
            // A question about the checkout gets what git says after it was asked: a read already running may have started
            // before the change the asker just made, so it waits for the next one (reads asked meanwhile share it).
            if (_reading) _waitingNext.Add(Sender);
            else _waiting.Add(Sender);
            Read(force: true);
        });
        Receive<FetchOrigin>(_ =>
        {
            // Only for a directory somebody keeps looking at (not for one question), one at a time.
            if (_fetching || _observers.Count == 0 || _snapshot is not { IsGit: true, HasRemote: true, RepoRoot: { } root }) return;
            if (_skipFetches > 0) { _skipFetches--; return; }
            _fetching = true;
            // What origin has moved to (behind counts, a merged pull request): fetched in the background, never prompting.
            _fetcher.RunAsync(root, ["fetch", "origin", "--prune", "--quiet"], GitRun.Slow).PipeTo(Self, success: r => new Fetched(r.Ok), failure: _ => new Fetched(false));
        });
        Receive<Fetched>(fetched =>
        {
            _fetching = false;
            _fetchFailures = fetched.Ok ? 0 : _fetchFailures + 1;
            _skipFetches = fetched.Ok ? 0 : Math.Min((1 << Math.Min(_fetchFailures, 4)) - 1, 15);
            if (fetched.Ok) Read(force: false);
        });
        Receive<FilesChanged>(_ => Timers.StartSingleTimer("debounce", Refresh.Instance, _settings.Debounce));
        Receive<WatchFailed>(failed =>
        {
            _log.Warning("Checkout {0}: file watching stopped ({1}); re-reading every {2}", _cwd, failed.Reason, _settings.PollWhenUnwatched);
            StopWatching();
            Timers.StartPeriodicTimer("poll", Refresh.Instance, _settings.PollWhenUnwatched);
        });
        Receive<Refresh>(_ =>
        {
            // Not more often than min-interval; a change during the wait is picked up by the delayed read.
            var wait = _lastStart + _settings.MinInterval - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero) Timers.StartSingleTimer("debounce", Refresh.Instance, wait);
            else Read(force: false);
        });
        Receive<SnapshotRead>(read =>
        {
            _reading = false;
            _readAt = DateTimeOffset.UtcNow;
            var changed = read.Snapshot != _snapshot || _forced;
            _forced = false;
            _snapshot = read.Snapshot;
            UpdateWatching();
            StartFetching();
            var message = new CheckoutChanged(_cwd, read.Snapshot);
            // Deep observers (an open diff pane) hear of every read: an edit to an already dirty file changes the diff, not the snapshot.
            foreach (var observer in _observers.Where(o => changed || _deep.Contains(o))) observer.Tell(message);
            foreach (var waiter in _waiting.Where(w => !(changed || _deep.Contains(w)) || !_observers.Contains(w))) waiter.Tell(message);
            _waiting.Clear();
            _waiting.AddRange(_waitingNext);
            _waitingNext.Clear();
            if (_again) { _again = false; Read(force: false); }
            else IdleIfUnobserved();
        });
    }

    public static Props Props(string cwd, string? worktreesRoot, CheckoutWatchSettings settings) =>
        Akka.Actor.Props.Create(() => new CheckoutObserverActor(cwd, worktreesRoot, settings));

    protected override void PreStart() => Timers.StartPeriodicTimer("self-heal", Refresh.Instance, _settings.SelfHeal);

    protected override void PostStop() => StopWatching();

    /// <summary>An observed repository with an origin is fetched now and every fetch-interval.</summary>
    private void StartFetching()
    {
        if (_settings.FetchInterval <= TimeSpan.Zero || _observers.Count == 0 || _snapshot is not { HasRemote: true } || Timers.IsTimerActive("fetch")) return;
        Self.Tell(FetchOrigin.Instance);
        Timers.StartPeriodicTimer("fetch", FetchOrigin.Instance, _settings.FetchInterval);
    }

    private void Forget(IActorRef observer)
    {
        if (!_observers.Remove(observer)) return;
        Context.Unwatch(observer);
        if (_deep.Remove(observer)) UpdateWatching();
        if (!_reading) IdleIfUnobserved();
    }

    private void IdleIfUnobserved()
    {
        if (_observers.Count == 0) Context.Parent.Tell(new CheckoutsActor.Idle(_cwd, _handled));
    }

    private void Read(bool force)
    {
        _forced |= force;
        if (_reading) { _again = true; return; }
        _reading = true;
        _lastStart = DateTimeOffset.UtcNow;
        CheckoutSnapshot.ReadAsync(_git, _cwd, _worktreesRoot, CancellationToken.None, _github).PipeTo(Self,
            success: snapshot => new SnapshotRead(snapshot),
            failure: e => new SnapshotRead(CheckoutSnapshot.NotGit(CheckoutError.Unknown(e.GetBaseException().Message))));
    }

    /// <summary>
    /// Always: the git directory (HEAD, index, merge state) and the shared refs — cheap, a few directories. With a deep
    /// observer (a workspace screen or a diff pane open): the working tree too, recursively, for edits that touch no git file.
    /// </summary>
    private void UpdateWatching()
    {
        if (_snapshot is not { IsGit: true, RepoRoot: { } root } || Timers.IsTimerActive("poll")) return;
        var self = Self;
        try
        {
            if (_watchers.Count == 0)
            {
                var (gitDir, commonDir) = GitDirectories(root);
                // A git directory sees a few events per command: a small event buffer (bench/README.md: 64 KiB each cost 128 KiB per repository).
                Add(new FileSystemWatcher(gitDir) { IncludeSubdirectories = false }, 8 * 1024);
                if (Directory.Exists(Path.Combine(commonDir, "refs"))) Add(new FileSystemWatcher(Path.Combine(commonDir, "refs")) { IncludeSubdirectories = true }, 8 * 1024);
            }
            if (_deep.Count > 0 && _treeWatcher is null)
            {
                _treeWatcher = Add(new FileSystemWatcher(root) { IncludeSubdirectories = true }, 64 * 1024);
            }
            else if (_deep.Count == 0 && _treeWatcher is not null)
            {
                _watchers.Remove(_treeWatcher);
                _treeWatcher.Dispose();
                _treeWatcher = null;
            }
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            self.Tell(new WatchFailed(e.Message));
        }

        FileSystemWatcher Add(FileSystemWatcher watcher, int bufferBytes)
        {
            watcher.NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size;
            watcher.InternalBufferSize = bufferBytes;
            FileSystemEventHandler changed = (_, e) => { if (!Noise(e.FullPath)) self.Tell(FilesChanged.Instance); };
            watcher.Changed += changed;
            watcher.Created += changed;
            watcher.Deleted += changed;
            watcher.Renamed += (_, _) => self.Tell(FilesChanged.Instance);
            watcher.Error += (_, e) => self.Tell(new WatchFailed(e.GetException().Message));
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
            return watcher;
        }
    }

    /// <summary>A checkout's own git directory and the repository's common one (they differ for a linked worktree).</summary>
    private static (string GitDir, string CommonDir) GitDirectories(string root)
    {
        var dotGit = Path.Combine(root, ".git");
        if (Directory.Exists(dotGit)) return (dotGit, dotGit);
        var pointer = File.ReadAllText(dotGit).Trim();
        if (!pointer.StartsWith("gitdir:", StringComparison.Ordinal)) throw new IOException($"{dotGit}: not a gitdir pointer");
        var gitDir = WorkspacePaths.Normalize(Path.Combine(root, pointer["gitdir:".Length..].Trim()));
        var commonFile = Path.Combine(gitDir, "commondir");
        var commonDir = File.Exists(commonFile) ? WorkspacePaths.Normalize(Path.Combine(gitDir, File.ReadAllText(commonFile).Trim())) : gitDir;
        return (gitDir, commonDir);
    }

    /// <summary>git's object store, logs and lock files change on every git command, ours included: they are not news.</summary>
    private static bool Noise(string path) =>
        path.Contains("/.git/objects", StringComparison.Ordinal) || path.Contains("/.git/logs", StringComparison.Ordinal) || path.EndsWith(".lock", StringComparison.Ordinal);

    private void StopWatching()
    {
        foreach (var watcher in _watchers) watcher.Dispose();
        _watchers.Clear();
        _treeWatcher = null;
    }

    private sealed record SnapshotRead(CheckoutSnapshot Snapshot);

    private sealed record WatchFailed(string Reason);

    private sealed record FilesChanged
    {
        public static readonly FilesChanged Instance = new();
    }

    private sealed record Refresh
    {
        public static readonly Refresh Instance = new();
    }

    private sealed record FetchOrigin
    {
        public static readonly FetchOrigin Instance = new();
    }

    private sealed record Fetched(bool Ok);
}

/// <summary>
/// The checkout observers (`checkouts`): one <see cref="CheckoutObserverActor"/> per directory somebody observes or asks
/// about, created on demand, gone when nobody observes it.
/// </summary>
public sealed class CheckoutsActor : ReceiveActor
{
    private readonly Dictionary<string, (IActorRef Actor, long Forwarded)> _observers = [];
    private readonly string? _worktreesRoot;
    private readonly CheckoutWatchSettings _settings;
    private long _next;

    public CheckoutsActor(string? worktreesRoot, CheckoutWatchSettings settings)
    {
        _worktreesRoot = worktreesRoot;
        _settings = settings;
        Receive<Observe>(observe => ObserverOf(observe.Cwd).Forward(observe));
        Receive<Unobserve>(unobserve => { if (_observers.TryGetValue(unobserve.Cwd, out var o)) o.Actor.Forward(unobserve); });
        Receive<GetCheckout>(get => ObserverOf(get.Cwd).Forward(get));
        Receive<Idle>(idle =>
        {
            // Stopped only if it has seen every request sent its way; otherwise a newer one keeps it.
            if (_observers.TryGetValue(idle.Cwd, out var o) && o.Actor.Equals(Sender) && o.Forwarded == idle.Handled)
            {
                _observers.Remove(idle.Cwd);
                Context.Stop(o.Actor);
            }
        });
    }

    /// <summary>An observer nobody observes, having handled <paramref name="Handled"/> requests.</summary>
    internal sealed record Idle(string Cwd, long Handled);

    // An observer that throws is resumed: a restart would drop its subscribers (they would stop getting checkout
    // updates without knowing it); its next change or self-heal reads the checkout afresh anyway.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Resume));

    public static Props Props(string? worktreesRoot, CheckoutWatchSettings settings) => Akka.Actor.Props.Create(() => new CheckoutsActor(worktreesRoot, settings));

    private IActorRef ObserverOf(string cwd)
    {
        if (!_observers.TryGetValue(cwd, out var observer))
            observer = (Context.ActorOf(CheckoutObserverActor.Props(cwd, _worktreesRoot, _settings), $"checkout-{++_next}"), 0);
        _observers[cwd] = (observer.Actor, observer.Forwarded + 1);
        return observer.Actor;
    }
}
