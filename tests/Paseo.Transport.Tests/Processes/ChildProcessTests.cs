using Paseo.Transport.Processes;
using Xunit;

namespace Paseo.Transport.Tests.Processes;

/// <summary>The limits of an agent CLI's process, against real child processes and real pipes.</summary>
public sealed class ChildProcessTests
{
    private static ChildProcessStart Start(string script, int inputBacklog = 256, int maxStderrLineBytes = 8 * 1024, int maxLineBytes = 1024 * 1024) =>
        new(["sh", "-c", script], Path.GetTempPath(), new Dictionary<string, string>(), maxLineBytes, 16, TimeSpan.FromSeconds(1), inputBacklog, maxStderrLineBytes);

    [Fact]
    public async Task A_child_that_stops_reading_its_stdin_makes_writes_fail_once_the_input_backlog_is_full()
    {
        // `sleep` never reads stdin: the pipe fills (64 KiB), then the queue of 4 lines, then writes are refused.
        using var child = ChildProcess.Start(Start("exec sleep 30", inputBacklog: 4), _ => { });
        var line = new string('x', 16 * 1024);
        var accepted = await AcceptedUntilRefusedAsync(child, line);
        // The pipe took a few lines, the queue 4 more: far fewer than a queue without a bound would have taken.
        Assert.InRange(accepted, 4, 4 + 1024 * 1024 / line.Length);
        Assert.False(child.HasExited);
        Assert.False(child.StdinClosed);
        Assert.Equal(StdinWrite.StoppedReading, child.WriteLine(line));
    }

    [Fact]
    public async Task Lines_written_to_a_reading_child_arrive_whole_and_in_order()
    {
        using var child = ChildProcess.Start(Start("exec cat"), _ => { });
        for (var i = 0; i < 100; i++) Assert.Equal(StdinWrite.Queued, child.WriteLine($"line {i}"));
        for (var i = 0; i < 100; i++)
            Assert.Equal(new ChildOutput.Line($"line {i}"), await child.Output.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_long_stderr_line_is_cut_and_marked_and_the_next_lines_still_arrive()
    {
        var lines = new List<string>();
        var done = new TaskCompletionSource();
        using var child = ChildProcess.Start(Start("head -c 20000 /dev/zero | tr '\\0' x >&2; echo >&2; echo after >&2", maxStderrLineBytes: 1000), line =>
        {
            lock (lines) lines.Add(line);
            if (line == "after") done.TrySetResult();
        });
        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        lock (lines)
        {
            Assert.Equal(2, lines.Count);
            Assert.Equal(new string('x', 1000) + " …(cut: paseo.providers.max-stderr-line-bytes)", lines[0]);
        }
    }

    [Fact]
    public async Task Writing_to_a_child_that_exited_is_refused()
    {
        using var child = ChildProcess.Start(Start("exit 0"), _ => { });
        Assert.Equal(0, await child.Exited.WaitAsync(TimeSpan.FromSeconds(10)));
        // The first line is taken; the writer then finds the pipe closed, and from then on every write is refused and
        // the child is known to have closed its stdin (rather than to have stopped reading).
        Assert.Equal(StdinWrite.Queued, child.WriteLine("anyone?"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var probe = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (!child.StdinClosed) await probe.WaitForNextTickAsync(timeout.Token);
        Assert.Equal(StdinWrite.Closed, child.WriteLine("still there?"));
    }

    /// <summary>Writes until a write is refused (yielding so the writer can drain); how many were taken. Bounded.</summary>
    private static async Task<int> AcceptedUntilRefusedAsync(ChildProcess child, string line)
    {
        var accepted = 0;
        while (child.WriteLine(line) == StdinWrite.Queued)
        {
            accepted++;
            Assert.True(accepted < 100_000, "writes were never refused");
            await Task.Yield();
        }
        return accepted;
    }
}
