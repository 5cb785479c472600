using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace Paseo.Transport.Processes;

/// <summary>A line of the child's stdout, or the end of it (the process closed stdout or printed a line over the limit).</summary>
public abstract record ChildOutput
{
    public sealed record Line(string Text) : ChildOutput;

    public sealed record TooLong(int Limit) : ChildOutput;
}

/// <summary>What became of a line written to a child's stdin.</summary>
public enum StdinWrite
{
    /// <summary>Queued; the writer sends the queue in order.</summary>
    Queued,

    /// <summary>Refused: the child's stdin is closed (it exited); its exit says the rest.</summary>
    Closed,

    /// <summary>Refused: the child is alive but InputBacklog lines already wait, so it stopped reading.</summary>
    StoppedReading,
}

/// <summary>How to start an agent CLI: argv, working directory, extra environment, limits, and who keeps count of it.</summary>
/// <param name="Tracker">The daemon's count of its child processes, which shutdown waits for (none: nobody waits).</param>
public sealed record ChildProcessStart(IReadOnlyList<string> Command, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment,
    int MaxLineBytes, int OutputBacklog, TimeSpan KillGrace, int InputBacklog = 256, int MaxStderrLineBytes = 8 * 1024, ChildProcessTracker? Tracker = null);

/// <summary>
/// The child processes of one daemon, from their start until their process group is gone: stopping a process never
/// blocks its owner (<see cref="ChildProcess.StopAsync"/>), so something must still wait for the stubborn ones before the
/// daemon exits — the daemon's shutdown awaits <see cref="WhenIdleAsync"/>, so no agent CLI outlives it.
/// </summary>
public sealed class ChildProcessTracker
{
    private readonly HashSet<ChildProcess> _live = [];
    private TaskCompletionSource? _idle;

    public int Count
    {
        get { lock (_live) return _live.Count; }
    }

    /// <summary>The pids of the processes still tracked (for the log when some would not stop).</summary>
    public IReadOnlyList<int> Pids
    {
        get { lock (_live) return [.. _live.Select(p => p.Pid)]; }
    }

    internal void Track(ChildProcess process)
    {
        lock (_live) _live.Add(process);
    }

    internal void Forget(ChildProcess process)
    {
        TaskCompletionSource? idle = null;
        lock (_live)
        {
            if (_live.Remove(process) && _live.Count == 0)
            {
                idle = _idle;
                _idle = null;
            }
        }
        idle?.TrySetResult();
    }

    /// <summary>Asks every tracked process to stop (SIGTERM, SIGKILL after its kill grace), without waiting.</summary>
    public void StopAll()
    {
        List<ChildProcess> live;
        lock (_live) live = [.. _live];
        foreach (var process in live) _ = process.StopAsync();
    }

    /// <summary>Completes true when no tracked process is left, false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WhenIdleAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_live)
        {
            if (_live.Count == 0) return true;
            idle = (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        return await Task.WhenAny(idle, Task.Delay(timeout)) == idle;
    }
}

/// <summary>
/// An agent CLI's process, in a process group of its own (started through setsid), so stopping it stops whatever it
/// started too. Stdout is read off the caller's thread into a bounded queue of lines (<see cref="Output"/>): when the
/// owner does not keep up, the queue fills, reading stops, the pipe fills and the child blocks — output is never
/// buffered without end. Stderr lines (cut at MaxStderrLineBytes) go to a callback (the daemon log). Stdin takes NDJSON
/// lines through a bounded queue of InputBacklog lines written by one writer: <see cref="WriteLine"/> says when the
/// child stopped reading (the queue is full) or is gone. Stopping is asynchronous (<see cref="StopAsync"/>): no caller's
/// thread waits for a process group that ignores SIGTERM; the tracker it was started with keeps count until it is gone.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<ChildOutput> _output;
    private readonly TimeSpan _killGrace;
    private readonly Channel<string> _input;
    private readonly Queue<string> _stderrTail = new();
    private readonly ChildProcessTracker? _tracker;
    private Task? _stopping;

    public int Pid { get; }
    public ChannelReader<ChildOutput> Output => _output.Reader;

    /// <summary>Completes with the exit code once the process has exited and its stdout is drained.</summary>
    public Task<int> Exited { get; }

    private ChildProcess(Process process, ChildProcessStart start, Action<string> onStderr)
    {
        _process = process;
        _killGrace = start.KillGrace;
        _tracker = start.Tracker;
        Pid = process.Id;
        _tracker?.Track(this);
        _output = Channel.CreateBounded<ChildOutput>(new BoundedChannelOptions(start.OutputBacklog) { FullMode = BoundedChannelFullMode.Wait, SingleWriter = true, SingleReader = true });
        _input = Channel.CreateBounded<string>(new BoundedChannelOptions(start.InputBacklog) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        var stdout = Task.Run(() => ReadStdoutAsync(start.MaxLineBytes));
        _ = Task.Run(WriteStdinAsync);
        var stderr = Task.Run(() => ReadStderrAsync(start.MaxStderrLineBytes, line =>
        {
            lock (_stderrTail)
            {
                _stderrTail.Enqueue(line.Length > 500 ? line[..500] : line);
                if (_stderrTail.Count > 5) _stderrTail.Dequeue();
            }
            onStderr(line);
        }));
        Exited = Task.Run(async () =>
        {
            await _process.WaitForExitAsync();
            var code = _process.ExitCode;
            LeaderExited();
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
            return code;
        });
    }

    /// <summary>Starts the command; throws <see cref="ChildProcessStartException"/> when it cannot be run (not found, not executable).</summary>
    public static ChildProcess Start(ChildProcessStart start, Action<string> onStderr)
    {
        if (start.Command.Count == 0) throw new ChildProcessStartException("the command is empty");
        var executable = Which(start.Command[0], start.Environment)
            ?? throw new ChildProcessStartException($"{start.Command[0]}: not found (not on PATH, or not executable)");
        // setsid(1) makes the child a process-group (and session) leader without forking, so its pid is its group id.
        var psi = new ProcessStartInfo(OperatingSystem.IsLinux() ? "setsid" : executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = start.WorkingDirectory,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            StandardInputEncoding = new UTF8Encoding(false),
        };
        if (OperatingSystem.IsLinux()) psi.ArgumentList.Add(executable);
        foreach (var argument in start.Command.Skip(1)) psi.ArgumentList.Add(argument);
        foreach (var (name, value) in start.Environment) psi.Environment[name] = value;
        try
        {
            var process = Process.Start(psi) ?? throw new ChildProcessStartException($"{start.Command[0]} did not start");
            return new ChildProcess(process, start, onStderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ChildProcessStartException($"{start.Command[0]}: {e.Message}");
        }
    }

    /// <summary>The command's path: as given when it has a slash, else the first match on PATH (the child's PATH if set).</summary>
    public static string? Which(string command, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (command.Contains('/')) return File.Exists(command) ? Path.GetFullPath(command) : null;
        var path = environment is not null && environment.TryGetValue("PATH", out var own) ? own : System.Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0))
                return candidate;
        }
        return null;
    }

    /// <summary>The last lines the child wrote to stderr (at most five), for the error a user sees when it dies.</summary>
    public string StderrTail
    {
        get
        {
            lock (_stderrTail) return string.Join(" | ", _stderrTail);
        }
    }

    private async Task ReadStdoutAsync(int maxLineBytes)
    {
        var reader = _process.StandardOutput;
        var line = new StringBuilder();
        var buffer = new char[4096];
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(buffer);
                if (read == 0) break;
                var start = 0;
                for (var i = 0; i < read; i++)
                {
                    if (buffer[i] != '\n') continue;
                    line.Append(buffer, start, i - start);
                    start = i + 1;
                    await _output.Writer.WriteAsync(new ChildOutput.Line(line.ToString().TrimEnd('\r')));
                    line.Clear();
                }
                line.Append(buffer, start, read - start);
                if (line.Length > maxLineBytes)
                {
                    await _output.Writer.WriteAsync(new ChildOutput.TooLong(maxLineBytes));
                    return;
                }
            }
            if (line.Length > 0) await _output.Writer.WriteAsync(new ChildOutput.Line(line.ToString()));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or ChannelClosedException or InvalidOperationException)
        {
            // The process is gone or the owner stopped listening.
        }
        finally
        {
            _output.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Queues one line for stdin, in order; or says why it cannot be taken: the child stopped reading (InputBacklog lines
    /// wait already) or its stdin is closed (it exited).
    /// </summary>
    public StdinWrite WriteLine(string line) =>
        _input.Writer.TryWrite(line) ? StdinWrite.Queued
        : StdinClosed || HasExited ? StdinWrite.Closed
        : StdinWrite.StoppedReading;

    /// <summary>The child's stdin is closed (it exited, or closed it): a refused write says nothing of its reading.</summary>
    public bool StdinClosed => Volatile.Read(ref _stdinClosed);

    private bool _stdinClosed;

    private async Task WriteStdinAsync()
    {
        try
        {
            var stdin = _process.StandardInput;
            await foreach (var line in _input.Reader.ReadAllAsync())
            {
                await stdin.WriteAsync(line);
                await stdin.WriteAsync('\n');
                if (!_input.Reader.TryPeek(out _)) await stdin.FlushAsync();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The child closed its stdin or exited: later lines are refused.
            Volatile.Write(ref _stdinClosed, true);
        }
        finally
        {
            _input.Writer.TryComplete();
        }
    }

    /// <summary>Stderr, line by line; a line longer than the limit is cut (the rest of it is skipped) and marked.</summary>
    private async Task ReadStderrAsync(int maxLineBytes, Action<string> onLine)
    {
        var reader = _process.StandardError;
        var line = new StringBuilder();
        var cut = false;
        var buffer = new char[4096];
        try
        {
            while (await reader.ReadAsync(buffer) is var read and > 0)
            {
                for (var i = 0; i < read; i++)
                {
                    var c = buffer[i];
                    if (c == '\n')
                    {
                        onLine(cut ? line + " …(cut: paseo.providers.max-stderr-line-bytes)" : line.ToString().TrimEnd('\r'));
                        line.Clear();
                        cut = false;
                    }
                    else if (line.Length < maxLineBytes) line.Append(c);
                    else cut = true;
                }
            }
            if (line.Length > 0) onLine(line.ToString());
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
    }

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// SIGTERM to the whole process group, then SIGKILL after the grace period if it is still there (and to the group once
    /// its leader exited, so nothing it started stays behind). Asynchronous and idempotent: every caller gets the same
    /// task, which completes when the process is gone (or a second after SIGKILL). No thread waits meanwhile.
    /// </summary>
    public Task StopAsync()
    {
        lock (_stderrTail)
        {
            return _stopping ??= StopCoreAsync();
        }
    }

    private async Task StopCoreAsync()
    {
        try
        {
            _input.Writer.TryComplete();
            if (HasExited) return; // its group was cleared when it exited (LeaderExited)
            Signal(Sigterm);
            var exited = _process.WaitForExitAsync();
            if (await Task.WhenAny(exited, Task.Delay(_killGrace)) != exited)
            {
                Signal(Sigkill);
                await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(1)));
            }
        }
        finally
        {
            _tracker?.Forget(this);
            // Released once the exit (and the drained output) is known to whoever awaits Exited.
            _ = Exited.ContinueWith(_ => _process.Dispose(), TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The leader exited (by itself, or stopped): whatever it left in its group is killed at once — while the group id
    /// still names that group, never later when the id could be another's — and the tracker stops counting it.
    /// </summary>
    private void LeaderExited()
    {
        Signal(Sigkill);
        _tracker?.Forget(this);
    }

    private const int Sigterm = 15, Sigkill = 9;

    private void Signal(int signal)
    {
        if (OperatingSystem.IsWindows())
        {
            if (signal == Sigkill && !HasExited) _process.Kill(entireProcessTree: true);
            return;
        }
        // Negative pid: the process group the child leads (ESRCH when it is already gone, which is fine).
        _ = SendSignal(-Pid, signal);
    }

    /// <summary>The daemon runs as root (effective uid 0): some CLIs refuse options then.</summary>
    public static bool RunningAsRoot => !OperatingSystem.IsWindows() && GetEffectiveUid() == 0;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUid();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    /// <summary>SIGKILL to a whole process group (a command started through setsid, whose pid is its group id).</summary>
    public static void KillGroup(int processGroup)
    {
        if (!OperatingSystem.IsWindows() && processGroup > 1) SendSignal(-processGroup, 9);
    }

    /// <summary>Starts stopping the process (<see cref="StopAsync"/>) and returns at once.</summary>
    public void Dispose() => _ = StopAsync();
}

public sealed class ChildProcessStartException(string message) : Exception(message);
