using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Providers.Stdio;
using Paseo.Transport.Configuration;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Acp;

/// <summary>
/// Any Agent Client Protocol agent (providers.md §4.4): `agents.providers.&lt;id&gt; = {extends:"acp", label, command:[…], env?}`,
/// e.g. `["gemini","--acp"]`. JSON-RPC 2.0 over the agent's stdio; models and modes are learned at runtime.
/// </summary>
public sealed class AcpProvider : IAgentProvider
{
    public ProviderDescription Description { get; }
    public StdioLaunch Launch { get; }
    public AvailabilityCheck Availability { get; }

    public AcpProvider(ProviderProfile profile, ProviderProcessSettings settings)
    {
        var command = profile.Command ?? throw new ArgumentException($"agents.providers.{profile.Id}: an ACP provider needs a command");
        Launch = new StdioLaunch(profile.Id, command, profile.Env, settings);
        var models = profile.Models?.Select(m => ProviderModels.From(profile.Id, m)).ToList() ?? [];
        if (profile.AdditionalModels is { } more) models.AddRange(more.Select(m => ProviderModels.From(profile.Id, m)));
        Description = new ProviderDescription(profile.Id, profile.Label ?? profile.Id, profile.Description ?? $"ACP agent ({string.Join(' ', command)})",
            new AgentCapabilities(Streaming: true, SessionPersistence: true, DynamicModes: true, McpServers: false, ReasoningStream: true, ToolInvocations: true),
            [], null, models);
        // ACP agents have no common --version; a binary that is on PATH (or given as a path) is ready.
        Availability = !profile.Enabled ? AvailabilityCheck.Fixed(ProviderAvailability.Disabled)
            : new AvailabilityCheck(_ => Task.FromResult(Paseo.Transport.Processes.ChildProcess.Which(command[0], profile.Env) is null
                ? new ProviderAvailability("unavailable", $"{command[0]} not found on PATH: install it, or fix agents.providers.{profile.Id}.command in config.json", null)
                : ProviderAvailability.Ready), settings.RecheckAfter);
    }

    public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new AcpProviderSession(config, Launch));

    /// <summary>An ACP agent says its models in session/new.</summary>
    public bool DiscoversModels => true;
}
