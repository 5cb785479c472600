using Akka.Actor;
using Paseo.Actors.Providers;
using Paseo.Transport.Mcp;

namespace Paseo.Actors.Mcp;

/// <summary>
/// The agents' MCP server as the rest of the daemon sees it (app-orchestration.md §4.2): whether it is served, whether
/// new provider sessions get its entry, its base URL once the listener is bound (none on a unix socket), and the
/// per-agent credentials. Set by the host; read by each agent when it starts a provider session, so a change
/// (`set_daemon_config_request` with `mcp.injectIntoAgents`) applies to sessions started afterwards.
/// </summary>
public sealed class DaemonMcp : IExtension
{
    private volatile string? _baseUrl;
    private volatile bool _enabled;
    private volatile bool _inject;
    private volatile bool _injectForbidden;

    public McpAgentCredentials Credentials { get; } = new();

    public static DaemonMcp Get(ActorSystem system) => system.WithExtension<DaemonMcp, DaemonMcpId>();

    public bool Enabled => _enabled;

    public bool InjectIntoAgents => _inject;

    public string? BaseUrl => _baseUrl;

    /// <param name="injectForbidden">`--no-inject-mcp`: no change of config.json turns injection on.</param>
    public void Configure(bool enabled, bool injectIntoAgents, bool injectForbidden = false)
    {
        _enabled = enabled;
        _injectForbidden = injectForbidden;
        _inject = injectIntoAgents && !injectForbidden;
    }

    public void SetInjectIntoAgents(bool inject) => _inject = inject && !_injectForbidden;

    /// <summary>The listener is bound: <c>http://host:port/mcp/agents</c>, or null on a unix socket (nothing is injected then).</summary>
    public void ListenerBound(string? baseUrl) => _baseUrl = baseUrl;

    /// <summary>The entry for a new provider session of <paramref name="agentId"/>, or null when nothing is injected.</summary>
    public McpServerEntry? EntryFor(string agentId) =>
        _enabled && _inject && _baseUrl is { } url
            ? new McpServerEntry("paseo", $"{url}?callerAgentId={Uri.EscapeDataString(agentId)}", "Bearer " + Credentials.TokenFor(agentId))
            : null;
}

public sealed class DaemonMcpId : ExtensionIdProvider<DaemonMcp>
{
    public override DaemonMcp CreateExtension(ExtendedActorSystem system) => new();
}
