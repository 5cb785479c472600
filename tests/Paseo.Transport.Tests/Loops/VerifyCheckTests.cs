using Paseo.Transport.Loops;

namespace Paseo.Transport.Tests.Loops;

/// <summary>A verify check (§3.3): a real /bin/sh in the loop's directory; exit 0 passes; the output cap, a missing directory, a timeout and a stop fail it.</summary>
public sealed class VerifyCheckTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<CheckResult> Run(string command, int cap = 64 * 1024, TimeSpan? timeout = null, CancellationToken stop = default) =>
        VerifyCheck.RunAsync(command, _dir.Path, cap, timeout ?? TimeSpan.FromMinutes(1), TimeProvider.System, stop);

    [Fact]
    public async Task Exit_zero_passes_with_stdout_and_stderr_apart_in_the_loops_directory()
    {
        var result = await Run("pwd; echo oops >&2");
        Assert.True(result.Passed);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(_dir.Path + "\n", result.Stdout);
        Assert.Equal("oops\n", result.Stderr);
        Assert.Equal("pwd; echo oops >&2", result.Command);
    }

    [Fact]
    public async Task A_non_zero_exit_fails_with_its_code()
    {
        var result = await Run("echo no; exit 3");
        Assert.False(result.Passed);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("no\n", result.Stdout);
    }

    [Fact]
    public async Task Output_over_the_cap_fails_and_stops_the_check_even_one_without_line_ends()
    {
        var result = await Run("head -c 1000 /dev/zero | tr '\\0' x", cap: 100);
        Assert.False(result.Passed);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(new string('x', 100), result.Stdout);
        Assert.Contains("output over 100 bytes", result.Stderr);

        // One that would write forever is killed at the cap, long before its timeout.
        var endless = await Run("yes", cap: 1000, timeout: TimeSpan.FromMinutes(5)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(endless.Passed);
        Assert.Equal(1000, endless.Stdout.Length);
        Assert.Contains("(killed: output over 1000 bytes", endless.Stderr);
    }

    [Fact]
    public async Task A_missing_directory_is_exit_1_with_no_output()
    {
        var result = await VerifyCheck.RunAsync("true", Path.Combine(_dir.Path, "gone"), 1024, TimeSpan.FromMinutes(1), TimeProvider.System, default);
        Assert.Equal((1, false, "", ""), (result.ExitCode, result.Passed, result.Stdout, result.Stderr));
    }

    [Fact]
    public async Task A_stop_kills_the_check_and_its_children()
    {
        // The check tells its child's pid through a FIFO: reading it waits for the check, no polling.
        var fifo = Path.Combine(_dir.Path, "child.fifo");
        Assert.Equal(0, (await CliWrap.Cli.Wrap("mkfifo").WithArguments([fifo]).ExecuteAsync()).ExitCode);
        using var stop = new CancellationTokenSource();
        var running = Run($"sleep 300 & echo $! > {fifo}; wait", stop: stop.Token);
        var child = int.Parse((await File.ReadAllTextAsync(fifo).WaitAsync(TimeSpan.FromSeconds(20))).Trim());
        using var process = System.Diagnostics.Process.GetProcessById(child);
        stop.Cancel();
        var result = await running.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(result.Passed);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("(killed: the loop was stopped)", result.Stderr);
        // The child went with its group.
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_check_past_its_timeout_is_killed_and_fails()
    {
        var result = await Run("sleep 300", timeout: TimeSpan.FromMilliseconds(300));
        Assert.False(result.Passed);
        Assert.Contains("paseo.loops.check-timeout", result.Stderr);
    }

}
