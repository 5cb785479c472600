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
/// A provider's availability, checked when the daemon starts and again when asked for after `recheckAfter` (so a CLI
/// installed, upgraded or removed while the daemon runs is seen without a restart). Thread-safe.
/// </summary>
public sealed class AvailabilityCheck
{
    private readonly Func<Task<ProviderAvailability>>? _probe;
    private readonly TimeSpan _recheckAfter;
    private Task<ProviderAvailability> _current;
    private Task<ProviderAvailability>? _previous; // the last finished check, shown while a new one runs
    private long _startedAt;

    public AvailabilityCheck(Func<Task<ProviderAvailability>> probe, TimeSpan recheckAfter)
    {
        _probe = probe;
        _recheckAfter = recheckAfter;
        _startedAt = Environment.TickCount64;
        _current = probe();
    }

    private AvailabilityCheck(ProviderAvailability fixedAnswer)
    {
        _current = Task.FromResult(fixedAnswer);
    }

    /// <summary>Always this answer (a built-in without a CLI, a disabled profile).</summary>
    public static AvailabilityCheck Fixed(ProviderAvailability answer) => new(answer);

    /// <summary>The latest finished check (or the first one, running).</summary>
    public Task<ProviderAvailability> Current => Volatile.Read(ref _current) is { IsCompleted: false } running && Volatile.Read(ref _previous) is { } previous
        ? previous
        : Volatile.Read(ref _current);

    /// <summary>Starts a new check when the last one is done and older than recheckAfter; the latest check.</summary>
    public Task<ProviderAvailability> Refresh()
    {
        if (_probe is null) return _current;
        lock (this)
        {
            if (_current.IsCompleted && TimeSpan.FromMilliseconds(Environment.TickCount64 - _startedAt) >= _recheckAfter)
            {
                _startedAt = Environment.TickCount64;
                Volatile.Write(ref _previous, _current);
                // Off the caller's thread (an actor's): a probe starts a process before its first await.
                Volatile.Write(ref _current, Task.Run(_probe));
            }
            return _current;
        }
    }
}

/// <summary>Whether a provider's CLI can run here: `status` of get_providers_snapshot, with the reason when it cannot.</summary>
public sealed record ProviderAvailability(string Status, string? Error, string? Version)
{
    public static readonly ProviderAvailability Ready = new("ready", null, null);
    public static readonly ProviderAvailability Disabled = new("unavailable", "disabled in config.json (agents.providers.<id>.enabled)", null);

    /// <summary>`&lt;command&gt; --version`: ready with the version it prints, or unavailable with why (missing binary, failure, timeout).</summary>
    public static async Task<ProviderAvailability> ProbeAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
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
            using var cts = new CancellationTokenSource(timeout);
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
