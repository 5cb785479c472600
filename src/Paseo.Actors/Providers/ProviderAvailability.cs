using System.Text.Json.Nodes;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers;

/// <summary>Model entries of get_providers_snapshot / list_provider_models.</summary>
public static class ProviderModels
{
    public static JsonObject Model(string provider, string id, string label, bool isDefault = false)
    {
        var model = new JsonObject { ["provider"] = provider, ["id"] = id, ["label"] = label };
        if (isDefault) model["isDefault"] = true;
        return model;
    }

    /// <summary>A configured model: a string id, or an object with at least an id.</summary>
    public static JsonObject From(string provider, JsonNode node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var id) => Model(provider, id, id),
        JsonObject o => WithProvider(o, provider),
        _ => Model(provider, node.ToJsonString(), node.ToJsonString()),
    };

    private static JsonObject WithProvider(JsonObject model, string provider)
    {
        var copy = (JsonObject)model.DeepClone();
        copy["provider"] = provider;
        if (copy["label"] is null) copy["label"] = WsInbound.Str(copy, "id");
        return copy;
    }
}

/// <summary>
/// How a provider's availability is checked: a probe (`&lt;cli&gt; --version`) run at start and again when asked for
/// after <see cref="RecheckAfter"/>, or a fixed answer (a built-in without a CLI, a disabled profile). A description
/// only: the `providers` actor runs the checks and keeps their results.
/// </summary>
public sealed class AvailabilityCheck(Func<CancellationToken, Task<ProviderAvailability>>? probe, TimeSpan recheckAfter, ProviderAvailability? fixedAnswer = null)
{
    public Func<CancellationToken, Task<ProviderAvailability>>? Probe { get; } = probe;
    public TimeSpan RecheckAfter { get; } = recheckAfter;
    public ProviderAvailability? FixedAnswer { get; } = fixedAnswer;

    /// <summary>Always this answer.</summary>
    public static AvailabilityCheck Fixed(ProviderAvailability answer) => new(null, TimeSpan.Zero, answer);
}

/// <summary>Whether a provider's CLI can run here: `status` of get_providers_snapshot, with the reason when it cannot.</summary>
public sealed record ProviderAvailability(string Status, string? Error, string? Version)
{
    public static readonly ProviderAvailability Ready = new("ready", null, null);
    public static readonly ProviderAvailability Disabled = new("unavailable", "disabled in config.json (agents.providers.<id>.enabled)", null);

    /// <summary>`&lt;command&gt; --version`: ready with the version it prints, or unavailable with why (missing binary, failure, timeout).</summary>
    public static async Task<ProviderAvailability> ProbeAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        if (ChildProcess.Which(command[0], environment) is null)
            return new ProviderAvailability("unavailable", $"{command[0]} not found on PATH: install it, or set agents.providers.<id>.command in config.json", null);
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in command.Skip(1)) psi.ArgumentList.Add(argument);
            psi.ArgumentList.Add("--version");
            foreach (var (name, value) in environment) psi.Environment[name] = value;
            using var process = System.Diagnostics.Process.Start(psi)!;
            // Only the start of what it prints matters (a version line, or why it failed): read at most 4 KiB of each.
            var output = ReadAtMostAsync(process.StandardOutput, VersionOutputChars);
            var errors = ReadAtMostAsync(process.StandardError, VersionOutputChars);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return new ProviderAvailability("unavailable", $"{command[0]} --version did not answer within {timeout.TotalSeconds:0} s", null);
            }
            var version = (await output).Trim();
            return process.ExitCode == 0
                ? new ProviderAvailability("ready", null, version.Split('\n')[0])
                : new ProviderAvailability("error", $"{command[0]} --version exited {process.ExitCode}: {(await errors).Trim()}", null);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return new ProviderAvailability("unavailable", $"{command[0]}: {e.Message}", null);
        }
    }

    private const int VersionOutputChars = 4096;

    /// <summary>The first <paramref name="limit"/> characters; the rest is read and dropped so the child never blocks on its pipe.</summary>
    private static async Task<string> ReadAtMostAsync(StreamReader reader, int limit)
    {
        var kept = new System.Text.StringBuilder();
        var buffer = new char[1024];
        while (await reader.ReadAsync(buffer) is var read and > 0)
            if (kept.Length < limit) kept.Append(buffer, 0, Math.Min(read, limit - kept.Length));
        return kept.ToString();
    }
}
