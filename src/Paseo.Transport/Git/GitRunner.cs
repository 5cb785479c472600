using System.Text;
using CliWrap;

namespace Paseo.Transport.Git;

/// <summary>`paseo.git` in paseo.hocon: how many git processes run at once, how long one may take, how much it may print.</summary>
public sealed record GitSettings(int Concurrency, TimeSpan Timeout, TimeSpan LongTimeout, long MaxOutputBytes, int MaxStderrBytes)
{
    public static readonly GitSettings Default = new(8, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(120), 20L << 20, 2048);
}

/// <summary>What one git (or gh) process did: its exit code, what it printed (stdout cut at the limit), the head of stderr.</summary>
public sealed record GitResult(int ExitCode, string Stdout, string Stderr, bool StdoutCut)
{
    public bool Ok => ExitCode == 0;
}

/// <summary>A git command that failed or timed out; the message is the one clients show (app-workspaces.md §1.1).</summary>
public sealed class GitCommandException(string message, bool timedOut = false) : Exception(message)
{
    public bool TimedOut { get; } = timedOut;
}

/// <summary>
/// Runs git (or gh) as a child process, never through a shell: at most <see cref="GitSettings.Concurrency"/> at once (the
/// others wait their turn), each with a timeout after which its process tree is killed, stdout kept to
/// <see cref="GitSettings.MaxOutputBytes"/> (the rest is read and dropped, so git never blocks on a full pipe), stderr to its
/// first <see cref="GitSettings.MaxStderrBytes"/>. Always `GIT_TERMINAL_PROMPT=0` (a command that wants a password fails
/// instead of waiting for a terminal nobody watches) and `LC_ALL=C` (messages parsed in English).
/// </summary>
public sealed class GitRunner
{
    private readonly SemaphoreSlim _slots;
    private readonly string _program;

    public GitRunner(GitSettings settings, string program = "git")
    {
        Settings = settings;
        _program = program;
        _slots = new SemaphoreSlim(settings.Concurrency, settings.Concurrency);
    }

    public GitSettings Settings { get; }

    /// <summary>Runs the command and returns whatever it did; throws only when it could not start or timed out.</summary>
    public async Task<GitResult> RunAsync(string cwd, IReadOnlyList<string> args, GitRun? run = null, CancellationToken cancel = default)
    {
        // Off the caller's thread from here: an actor asking never spends its own time on the PATH lookup and the spawn.
        await Task.Yield();
        run ??= GitRun.Default;
        var timeout = run.Timeout ?? (run.Long ? Settings.LongTimeout : Settings.Timeout);
        await _slots.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            limit.CancelAfter(timeout);
            var stdout = new CappedText(Settings.MaxOutputBytes);
            var stderr = new CappedText(Settings.MaxStderrBytes);
            var executable = Processes.ChildProcess.Which(_program) ?? throw new GitCommandException($"{_program} could not be started: not found on PATH");
            // setsid: git and whatever it starts (hooks, ssh, credential helpers) form one process group, killed whole on timeout.
            var command = (OperatingSystem.IsLinux() ? Cli.Wrap("setsid").WithArguments([executable, .. args]) : Cli.Wrap(executable).WithArguments(args))
                .WithWorkingDirectory(cwd)
                .WithValidation(CommandResultValidation.None)
                .WithStandardInputPipe(run.Stdin is { } input ? PipeSource.FromString(input) : PipeSource.Null)
                .WithStandardOutputPipe(PipeTarget.Create(stdout.ReadAsync))
                .WithStandardErrorPipe(PipeTarget.Create(stderr.ReadAsync))
                .WithEnvironmentVariables(env =>
                {
                    env.Set("GIT_TERMINAL_PROMPT", "0").Set("LC_ALL", "C").Set("GIT_PAGER", "cat").Set("GH_PROMPT_DISABLED", "1");
                    if (run.ReadOnly) env.Set("GIT_OPTIONAL_LOCKS", "0");
                    foreach (var (key, value) in run.Environment ?? new Dictionary<string, string?>()) env.Set(key, value);
                });
            var pid = 0;
            try
            {
                var running = command.ExecuteAsync(limit.Token);
                pid = running.ProcessId;
                var result = await running.ConfigureAwait(false);
                return new GitResult(result.ExitCode, stdout.Text, stderr.Text.Trim(), stdout.Cut);
            }
            catch (OperationCanceledException)
            {
                Processes.ChildProcess.KillGroup(pid);
                if (cancel.IsCancellationRequested) throw;
                throw new GitCommandException($"{Describe()} command timed out after {(long)timeout.TotalMilliseconds}ms: {_program} {string.Join(' ', args)}", timedOut: true);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new GitCommandException($"{_program} could not be started: {e.Message}");
            }
            catch (InvalidOperationException e) when (e.InnerException is System.ComponentModel.Win32Exception inner)
            {
                throw new GitCommandException($"{_program} could not be started: {inner.Message}");
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Runs the command; a non-zero exit throws with git's own words (app-workspaces.md §1.1).</summary>
    public async Task<string> RunCheckedAsync(string cwd, IReadOnlyList<string> args, GitRun? run = null, CancellationToken cancel = default)
    {
        var result = await RunAsync(cwd, args, run, cancel).ConfigureAwait(false);
        if (result.Ok) return result.Stdout;
        throw new GitCommandException(FailureMessage(args, result));
    }

    public string FailureMessage(IReadOnlyList<string> args, GitResult result) =>
        $"{Describe()} command failed: {_program} {string.Join(' ', args)} (exit code: {result.ExitCode}, signal: none)\n" +
        // git says some refusals ("nothing to commit") on stdout: its head stands in for an empty stderr.
        (result.Stderr.Length > 0 ? result.Stderr : result.Stdout.Trim() is { Length: > 0 } said ? said[..Math.Min(said.Length, Settings.MaxStderrBytes)] : "(no stderr)");

    private string Describe() => _program == "git" ? "Git" : _program;

    /// <summary>Reads a stream to its end, keeping the first <c>limit</c> bytes as UTF-8 text.</summary>
    private sealed class CappedText(long limit)
    {
        private readonly MemoryStream _kept = new();
        public bool Cut { get; private set; }
        public string Text => Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);

        public async Task ReadAsync(Stream stream, CancellationToken cancel)
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0)
            {
                var room = (int)Math.Min(read, limit - _kept.Length);
                if (room > 0) _kept.Write(buffer, 0, room);
                if (room < read) Cut = true;
            }
        }
    }
}

/// <summary>How one command runs: the long timeout (commit, merge, checkout, pull, push, worktree add/remove, fetch), read-only, extra environment.</summary>
public sealed record GitRun(bool Long = false, bool ReadOnly = false, TimeSpan? Timeout = null, IReadOnlyDictionary<string, string?>? Environment = null, string? Stdin = null)
{
    public static readonly GitRun Default = new();
    public static readonly GitRun Read = new(ReadOnly: true);
    public static readonly GitRun Slow = new(Long: true);
}
