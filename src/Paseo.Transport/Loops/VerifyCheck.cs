using System.Text;
using CliWrap;
using Paseo.Transport.Files;
using Paseo.Transport.Processes;

namespace Paseo.Transport.Loops;

/// <summary>
/// One verify check (app-orchestration.md §3.3): <c>/bin/sh -lc &lt;command&gt;</c> in the loop's directory with the
/// daemon's environment, in a process group of its own. Exit 0 passes. Output beyond the cap (stdout and stderr together,
/// 64 KiB by default) fails the check, as a spawn error does (exit 1, or the process's code). Paseo lets a check run
/// forever and lets a stop wait for it; here a check is killed (its whole group) at its timeout or when the loop is
/// stopped, and says so in its stderr.
/// </summary>
public static class VerifyCheck
{
    public static async Task<CheckResult> RunAsync(string command, string cwd, int outputCapBytes, TimeSpan timeout, TimeProvider time, CancellationToken stop)
    {
        var startedAt = IsoTime.Format(time.GetUtcNow());
        var output = new CappedOutput(outputCapBytes);
        int exitCode;
        var pid = 0;
        var note = (string?)null;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
        limit.CancelAfter(timeout);
        try
        {
            if (!Directory.Exists(cwd)) return new CheckResult(command, 1, false, "", "", startedAt, IsoTime.Format(time.GetUtcNow()));
            var running = Cli.Wrap("setsid").WithArguments(["/bin/sh", "-lc", command]).WithWorkingDirectory(cwd)
                .WithValidation(CommandResultValidation.None).WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(PipeTarget.ToDelegate(line => output.Add(line, stderr: false)))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(line => output.Add(line, stderr: true)))
                .ExecuteAsync(limit.Token);
            pid = running.ProcessId;
            exitCode = (await running.ConfigureAwait(false)).ExitCode;
        }
        catch (OperationCanceledException)
        {
            if (pid > 0) ChildProcess.KillGroup(pid);
            note = stop.IsCancellationRequested ? "(killed: the loop was stopped)" : $"(killed after {timeout.TotalSeconds:0} s: paseo.loops.check-timeout)";
            exitCode = 1;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            note = $"(could not start: {e.Message})";
            exitCode = 1;
        }
        if (output.Overflowed)
        {
            note ??= $"(output over {outputCapBytes} bytes: the check fails)";
            if (exitCode == 0) exitCode = 1;
        }
        var stderr = note is null ? output.Stderr : output.Stderr + note + "\n";
        return new CheckResult(command, exitCode, exitCode == 0, output.Stdout, stderr, startedAt, IsoTime.Format(time.GetUtcNow()));
    }

    /// <summary>stdout and stderr lines up to a shared byte cap; what comes after is dropped and remembered.</summary>
    private sealed class CappedOutput(int cap)
    {
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private int _bytes;

        public bool Overflowed { get; private set; }

        public void Add(string line, bool stderr)
        {
            lock (_stdout)
            {
                var size = Encoding.UTF8.GetByteCount(line) + 1;
                if (_bytes + size > cap)
                {
                    Overflowed = true;
                    return;
                }
                _bytes += size;
                (stderr ? _stderr : _stdout).Append(line).Append('\n');
            }
        }

        public string Stdout
        {
            get
            {
                lock (_stdout) return _stdout.ToString();
            }
        }

        public string Stderr
        {
            get
            {
                lock (_stdout) return _stderr.ToString();
            }
        }
    }
}
