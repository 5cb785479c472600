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

/// <summary>How to start an agent CLI: argv, working directory, extra environment, limits.</summary>
public sealed record ChildProcessStart(IReadOnlyList<string> Command, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment,
    int MaxLineBytes, int OutputBacklog, TimeSpan KillGrace, int InputBacklog = 256, int MaxStderrLineBytes = 8 * 1024);

/// <summary>
/// An agent CLI's process, in a process group of its own (started through setsid), so stopping it stops whatever it
/// started too. Stdout is read off the caller's thread into a bounded queue of lines (<see cref="Output"/>): when the
/// owner does not keep up, the queue fills, reading stops, the pipe fills and the child blocks — output is never
/// buffered without end. Stderr lines (cut at MaxStderrLineBytes) go to a callback (the daemon log). Stdin takes NDJSON
/// lines through a bounded queue of InputBacklog lines written by one writer: <see cref="WriteLine"/> says when the
/// child stopped reading (the queue is full) or is gone.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<ChildOutput> _output;
    private readonly TimeSpan _killGrace;
    private readonly Channel<string> _input;
    private readonly Queue<string> _stderrTail = new();
    private int _killed;

    public int Pid { get; }
    public ChannelReader<ChildOutput> Output => _output.Reader;

    /// <summary>Completes with the exit code once the process has exited and its stdout is drained.</summary>
    public Task<int> Exited { get; }

    private ChildProcess(Process process, ChildProcessStart start, Action<string> onStderr)
    {
        _process = process;
        _killGrace = start.KillGrace;
        Pid = process.Id;
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
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
            return _process.ExitCode;
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
    /// SIGTERM to the whole process group, then SIGKILL after the grace period if it is still there. Waits (bounded by the
    /// grace period plus a second): an agent that is stopped, or a daemon that stops, leaves no orphan behind.
    /// </summary>
    public void Kill()
    {
        if (Interlocked.Exchange(ref _killed, 1) == 1) return;
        if (!HasExited) Signal(Sigterm);
        if (!_process.WaitForExit(_killGrace))
        {
            Signal(Sigkill);
            _process.WaitForExit(TimeSpan.FromSeconds(1));
        }
        else
        {
            // The leader exited: whatever it left in its group goes too.
            Signal(Sigkill);
        }
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

    public void Dispose()
    {
        Kill();
        _input.Writer.TryComplete();
        _process.Dispose();
    }
}

public sealed class ChildProcessStartException(string message) : Exception(message);
