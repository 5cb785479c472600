namespace Paseo.Actors.Providers;

/// <summary>`paseo.providers` of paseo.hocon: limits of the agent CLIs' child processes.</summary>
public sealed record ProviderProcessSettings(int MaxLineBytes, int OutputBacklog, TimeSpan KillGrace, TimeSpan InterruptGrace, TimeSpan VersionTimeout,
    int InputBacklog = 256, int MaxStderrLineBytes = 8 * 1024, TimeSpan? RecheckAvailabilityAfter = null, long MaxFileBytes = 10 * 1024 * 1024)
{
    /// <summary>Why a CLI whose stdin queue is full was stopped (the same words for every provider).</summary>
    public string StoppedReading(string cliName) =>
        $"{cliName} stopped reading its input ({InputBacklog} messages waiting, paseo.providers.input-backlog); its process was stopped";

    /// <summary>How old a provider's availability check may be before a snapshot request checks again.</summary>
    public TimeSpan RecheckAfter => RecheckAvailabilityAfter ?? TimeSpan.FromSeconds(60);

    public static readonly ProviderProcessSettings Default = new(16 * 1024 * 1024, 256, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
}
