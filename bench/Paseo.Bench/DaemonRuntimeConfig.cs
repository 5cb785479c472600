using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Paseo.Bench;

/// <summary>
/// Runs benchmarks with the GC settings the `paseo` binary ships with (src/Paseo.Host/Paseo.Host.csproj: workstation
/// concurrent GC, System.GC.LOHThreshold = 2 MB), so the numbers are the daemon's. BenchmarkDotNet builds its own host process, so
/// the setting is passed as the equivalent environment variable.
/// </summary>
public sealed class DaemonRuntimeConfig : ManualConfig
{
    public DaemonRuntimeConfig()
    {
        AddJob(Job.Default
            .WithGcServer(false)
            .WithGcConcurrent(true)
            .WithEnvironmentVariables(new EnvironmentVariable("DOTNET_GCLOHThreshold", "0x200000"))
            .WithId("daemon-gc"));
    }
}
