using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Configuration;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.OpenCode;

/// <summary>
/// `opencode`: one shared `opencode serve` per daemon, driven over HTTP with its SSE event feed (providers.md §4.3).
/// Modes: `build` (the build agent), `plan` (the plan agent), `full-access` (build, tool permissions answered "once").
/// </summary>
public sealed class OpenCodeProvider : IAgentProvider
{
    public const string BuiltInId = "opencode";

    public ProviderDescription Description { get; }
    /// <summary>The command that runs OpenCode (`serve` and its options are added), and its environment.</summary>
    public IReadOnlyList<string> Command { get; }
    public IReadOnlyDictionary<string, string> Environment { get; }
    public ProviderProcessSettings Settings { get; }
    public AvailabilityCheck Availability { get; }

    public OpenCodeProvider(ProviderProfile? profile, ProviderProcessSettings settings)
    {
        var id = profile?.Id ?? BuiltInId;
        var command = profile?.Command is { Count: > 0 } c ? c : ["opencode"];
        var env = profile?.Env ?? new Dictionary<string, string>();
        Command = command;
        Environment = env;
        Settings = settings;
        _modelsConfigured = profile?.Models is not null;
        var models = profile?.Models?.Select(m => ProviderModels.From(id, m)).ToList() ?? [];
        if (profile?.AdditionalModels is { } more) models.AddRange(more.Select(m => ProviderModels.From(id, m)));
        Description = new ProviderDescription(id, profile?.Label ?? "OpenCode", profile?.Description ?? "OpenCode (opencode serve, with your own providers)",
            new AgentCapabilities(Streaming: true, SessionPersistence: true, DynamicModes: true, McpServers: false, ReasoningStream: true, ToolInvocations: true),
            [
                new AgentMode("build", "Build", "The build agent: changes files, asks before tools", "ShieldCheck", "moderate"),
                new AgentMode("plan", "Plan", "The plan agent: reads and plans", "ShieldCheck", "safe"),
                new AgentMode("full-access", "Full Access", "Build, and every tool permission is granted", "ShieldAlert", "dangerous"),
            ],
            "build",
            models);
        Availability = profile is { Enabled: false }
            ? AvailabilityCheck.Fixed(ProviderAvailability.Disabled)
            : new AvailabilityCheck(cancel => ProviderAvailability.ProbeAsync(command, env, settings.VersionTimeout, cancel), settings.RecheckAfter);
    }

    public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new OpenCodeProviderSession(config, this));

    /// <summary>The name of a provider's server actor under `providers`.</summary>
    public static string ServerName(string providerId) => Uri.EscapeDataString(providerId);

    /// <summary>Where this provider's server actor is (<see cref="ProvidersActor"/> makes it).</summary>
    public string ServerPath => $"/user/paseo/providers/{ServerName(Description.Id)}";

    // Long enough for the server to start (the version timeout) and its feed to connect.
    internal TimeSpan ServerAnswerTimeout => Settings.VersionTimeout + TimeSpan.FromSeconds(30);

    private readonly bool _modelsConfigured;

    public bool DiscoversModels => !_modelsConfigured;

    /// <summary>
    /// `GET /config/providers?directory=`: every model of the providers OpenCode is configured with there, written
    /// `providerID/modelID` (the configured `models` replace them; `additionalModels` are added).
    /// </summary>
    public async Task<IReadOnlyList<JsonObject>> ListModelsAsync(string? cwd, ActorSystem system, CancellationToken cancellationToken)
    {
        if (_modelsConfigured) return Description.Models;
        var server = await system.ActorSelection(ServerPath).Ask<OpenCodeServerProtocol.ServerReady>(OpenCodeServerProtocol.EnsureRunning.Instance, ServerAnswerTimeout,
            cancellationToken);
        using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, server.ServerStopping);
        var directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(cwd ?? System.Environment.CurrentDirectory));
        var catalog = await server.Http.GetFromJsonAsync<JsonObject>($"config/providers?directory={Uri.EscapeDataString(directory)}", call.Token)
            ?? throw new HttpRequestException("opencode answered nothing");
        var defaults = catalog["default"] as JsonObject ?? [];
        var models = new List<JsonObject>();
        foreach (var provider in (catalog["providers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var providerId = WsInbound.Str(provider, "id") ?? "";
            foreach (var (modelId, model) in provider["models"] as JsonObject ?? [])
            {
                var entry = ProviderModels.Model(Description.Id, $"{providerId}/{modelId}", WsInbound.Str(model as JsonObject ?? [], "name") ?? modelId,
                    WsInbound.Str(defaults, providerId) == modelId);
                if (WsInbound.Str(provider, "name") is { } providerName) entry["description"] = providerName;
                models.Add(entry);
            }
        }
        models.AddRange(Description.Models); // additionalModels
        return models;
    }
}
