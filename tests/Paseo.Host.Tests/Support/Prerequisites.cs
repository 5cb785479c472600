namespace Paseo.Host.Tests.Support;

/// <summary>A program a test needs: missing, the test is skipped with the reason — and fails under CI=true.</summary>
public static class Prerequisites
{
    public static void RequireProgram(string program)
    {
        if (Paseo.Transport.Processes.ChildProcess.Which(program) is not null) return;
        var reason = $"{program} is not installed (./build.sh test installs it with apt-get when it can)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{reason}. Under CI=true a missing {program} is a failure, not a skip.");
        throw new SkipException(reason);
    }
}
