using Paseo.Actors.Providers.Acp;
using Paseo.Actors.Providers.Claude;
using Paseo.Actors.Providers.Codex;
using Paseo.Actors.Providers.OpenCode;
using Paseo.Actors.Providers.Mock;
using Paseo.Transport.Configuration;

namespace Paseo.Actors.Providers;

/// <summary>
/// The providers a daemon offers: the built-in `mock`, `claude`, `codex`, `opencode` and `copilot` (each with its
/// `agents.providers.&lt;id&gt;` profile applied), and every custom profile of config.json that extends a provider
/// Paseo.NET drives (providers.md §4.4): `claude`, `codex`, `opencode`, `copilot` and `acp`. `pi` runs in-process in
/// Paseo (a Node library) and is not driven; its profiles are left out.
/// </summary>
public static class AgentProviders
{
    public static Dictionary<string, IAgentProvider> From(IReadOnlyList<ProviderProfile> profiles, ProviderProcessSettings settings)
    {
        var byId = profiles.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var providers = new Dictionary<string, IAgentProvider>(StringComparer.Ordinal)
        {
            [MockProvider.Id] = new MockProvider(),
            [ClaudeProvider.BuiltInId] = new ClaudeProvider(byId.GetValueOrDefault(ClaudeProvider.BuiltInId), settings),
            [CodexProvider.BuiltInId] = new CodexProvider(byId.GetValueOrDefault(CodexProvider.BuiltInId), settings),
            [OpenCodeProvider.BuiltInId] = new OpenCodeProvider(byId.GetValueOrDefault(OpenCodeProvider.BuiltInId), settings),
            [Copilot.Id] = new AcpProvider(Copilot.Profile(byId.GetValueOrDefault(Copilot.Id), Copilot.Id), settings),
        };
        foreach (var profile in profiles.Where(p => p.Extends == Copilot.Id && p.Id != Copilot.Id))
            providers[profile.Id] = new AcpProvider(Copilot.Profile(profile, profile.Id), settings);
        foreach (var profile in profiles.Where(p => p.Extends == OpenCodeProvider.BuiltInId && p.Id != OpenCodeProvider.BuiltInId))
            providers[profile.Id] = new OpenCodeProvider(profile, settings);
        foreach (var profile in profiles.Where(p => p.Extends == CodexProvider.BuiltInId && p.Id != CodexProvider.BuiltInId))
            providers[profile.Id] = new CodexProvider(profile, settings);
        foreach (var profile in profiles.Where(p => p.Extends == ClaudeProvider.BuiltInId && p.Id != ClaudeProvider.BuiltInId))
            providers[profile.Id] = new ClaudeProvider(profile, settings);
        foreach (var profile in profiles.Where(p => p.Extends == "acp" && p.Command is { Count: > 0 }))
            providers[profile.Id] = new AcpProvider(profile, settings);
        return providers;
    }
}

/// <summary>`copilot`: GitHub Copilot's CLI as an ACP agent, `copilot --acp` (providers.md §4.4); modes are discovered.</summary>
public static class Copilot
{
    public const string Id = "copilot";

    /// <summary>The profile (or none) with Copilot's defaults filled in: its label and `["copilot","--acp"]`.</summary>
    public static ProviderProfile Profile(ProviderProfile? profile, string id) => (profile ?? new ProviderProfile(
            id, Id, null, null, null, new Dictionary<string, string>(), true, null, null, [])) with
        {
            Label = profile?.Label ?? "GitHub Copilot",
            Description = profile?.Description ?? "GitHub Copilot CLI (copilot --acp, with your own GitHub login)",
            Command = profile?.Command is { Count: > 0 } command ? command : ["copilot", "--acp"],
        };
}
