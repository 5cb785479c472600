using Paseo.Actors.Providers.Acp;
using Paseo.Actors.Providers.Claude;
using Paseo.Actors.Providers.Codex;
using Paseo.Actors.Providers.OpenCode;
using Paseo.Actors.Providers.Mock;
using Paseo.Transport.Configuration;

namespace Paseo.Actors.Providers;

/// <summary>
/// The providers a daemon offers: the built-in `mock`, `claude` (with `agents.providers.claude` applied), and every custom
/// profile of config.json that extends a provider Paseo.NET drives (providers.md §4.4): `claude`, `codex`, `opencode`
/// and `acp`. Copilot and pi profiles are not driven (yet) and are left out.
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
        };
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
