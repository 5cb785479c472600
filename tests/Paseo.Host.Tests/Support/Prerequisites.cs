namespace Paseo.Host.Tests.Support;

/// <summary>A program a test needs: missing, the test is skipped with the reason — and fails under CI=true.</summary>
public static class Prerequisites
{
    public static void RequireProgram(string program)
    {
        if (Paseo.Transport.Processes.ChildProcess.Which(program) is not null) return;
        Missing($"{program} is not installed (./build.sh test installs it with apt-get when it can)");
    }

    /// <summary>Something else a test needs is missing: skipped with <paramref name="reason"/>, failed under CI=true.</summary>
    public static void Missing(string reason)
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{reason}. Under CI=true a missing prerequisite is a failure, not a skip.");
        throw new SkipException(reason);
    }
}
