using System.Runtime.InteropServices;

namespace Paseo.Host.Tests.Support;

public static partial class Eventually
{
    /// <summary>Awaits a probe (health endpoint, process state) until it holds, bounded by a timeout.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> probe, string what, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        try
        {
            while (!await probe()) await ticks.WaitForNextTickAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"timed out waiting for: {what}");
        }
    }

    public static Task HoldsAsync(Func<bool> probe, string what, TimeSpan? timeout = null) =>
        HoldsAsync(() => Task.FromResult(probe()), what, timeout);
}

public static class Signals
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGSTOP = 19, SIGCONT = 18;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
