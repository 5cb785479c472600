using System.Text;
using CliWrap;
using Paseo.Transport.Files;
using Paseo.Transport.Processes;

namespace Paseo.Transport.Loops;

/// <summary>
/// One verify check (app-orchestration.md §3.3): <c>/bin/sh -lc &lt;command&gt;</c> in the loop's directory with the
/// daemon's environment, in a process group of its own. Exit 0 passes. Output beyond the cap (stdout and stderr together,
/// 64 KiB by default, counted as it is read) fails the check and kills it; a spawn error fails it with exit 1. Paseo lets
/// a check run forever and lets a stop wait for it; here a check is killed (its whole group) at its timeout or when the
/// loop is stopped, and says so in its stderr.
/// </summary>
public static class VerifyCheck
{
    public static async Task<CheckResult> RunAsync(string command, string cwd, int outputCapBytes, TimeSpan timeout, TimeProvider time, CancellationToken stop)
    {
        var startedAt = IsoTime.Format(time.GetUtcNow());
        if (!Directory.Exists(cwd)) return new CheckResult(command, 1, false, "", "", startedAt, IsoTime.Format(time.GetUtcNow()));
        using var overflow = new CancellationTokenSource();
        var output = new CappedOutput(outputCapBytes, overflow);
        using var timer = new CancellationTokenSource(timeout, time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop, overflow.Token, timer.Token);
        int exitCode;
        var pid = 0;
        string? note = null;
        try
        {
            // A process group of its own (setsid, on Linux), so a kill takes what the check started too.
            var running = (OperatingSystem.IsLinux() ? Cli.Wrap("setsid").WithArguments(["/bin/sh", "-lc", command]) : Cli.Wrap("/bin/sh").WithArguments(["-lc", command]))
                .WithWorkingDirectory(cwd)
                .WithValidation(CommandResultValidation.None).WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(output.Target(stderr: false)).WithStandardErrorPipe(output.Target(stderr: true))
                .ExecuteAsync(limit.Token);
            pid = running.ProcessId;
            exitCode = (await running.ConfigureAwait(false)).ExitCode;
        }
        catch (OperationCanceledException)
        {
            if (pid > 0) ChildProcess.KillGroup(pid);
            note = stop.IsCancellationRequested ? "(killed: the loop was stopped)"
                : output.Overflowed ? $"(killed: output over {outputCapBytes} bytes, paseo.loops.check-output-bytes)"
                : $"(killed after {timeout.TotalSeconds:0} s: paseo.loops.check-timeout)";
            exitCode = 1;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            note = $"(could not start: {e.Message})";
            exitCode = 1;
        }
        if (output.Overflowed)
        {
            note ??= $"(output over {outputCapBytes} bytes, paseo.loops.check-output-bytes: the check fails)";
            if (exitCode == 0) exitCode = 1;
        }
        var stderr = note is null ? output.Stderr : output.Stderr + note + "\n";
        return new CheckResult(command, exitCode, exitCode == 0, output.Stdout, stderr, startedAt, IsoTime.Format(time.GetUtcNow()));
    }

    /// <summary>stdout and stderr up to a shared byte cap, counted on the raw stream (a line without end cannot grow memory); at the cap the check is cancelled.</summary>
    private sealed class CappedOutput(int cap, CancellationTokenSource overflow)
    {
        private readonly object _gate = new();
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private int _bytes;

        public bool Overflowed { get; private set; }

        public PipeTarget Target(bool stderr) => PipeTarget.Create(async (stream, cancel) =>
        {
            var decoder = Encoding.UTF8.GetDecoder();
            var buffer = new byte[8192];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0)
            {
                bool full;
                lock (_gate)
                {
                    var take = Math.Min(read, cap - _bytes);
                    _bytes += take;
                    var count = decoder.GetChars(buffer, 0, take, chars, 0, flush: false);
                    (stderr ? _stderr : _stdout).Append(chars, 0, count);
                    full = take < read;
                    if (full) Overflowed = true;
                }
                if (full)
                {
                    overflow.Cancel();
                    return;
                }
            }
        });

        public string Stdout
        {
            get
            {
                lock (_gate) return _stdout.ToString();
            }
        }

        public string Stderr
        {
            get
            {
                lock (_gate) return _stderr.ToString();
            }
        }
    }
}
