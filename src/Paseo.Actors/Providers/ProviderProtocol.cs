using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers;

/// <summary>
/// What an agent asks of its provider when it starts one session (one agent = one provider session).
/// <paramref name="ResumeSessionId"/> is the provider's own session id from the agent's persistence handle, when it has one:
/// a provider that can resume continues that conversation (after a daemon restart, or a crashed process).
/// </summary>
/// <param name="PaseoMcp">The daemon's MCP server entry to give the agent (app-orchestration.md §4.2), or null.</param>
public sealed record ProviderSessionConfig(string AgentId, string Cwd, string? Model, string? ModeId, string? ThinkingOptionId, string? SystemPrompt,
    string? ResumeSessionId = null, McpServerEntry? PaseoMcp = null);

/// <summary>An HTTP MCP server an agent's provider is told about: its name, URL and the Authorization header value to send.</summary>
public sealed record McpServerEntry(string Name, string Url, string Authorization)
{
    // A record prints every field: never the credential.
    public override string ToString() => $"McpServerEntry {{ Name = {Name}, Url = {Url}, Authorization = *** }}";
}

/// <summary>A provider's static description, for snapshots and get_providers_snapshot.</summary>
public sealed record ProviderDescription(
    string Id,
    string Label,
    string Description,
    AgentCapabilities Capabilities,
    IReadOnlyList<AgentMode> Modes,
    string? DefaultModeId,
    IReadOnlyList<JsonObject> Models);

/// <summary>
/// A kind of agent (Claude Code, Codex, OpenCode, ACP, the built-in mock). Each agent gets one ProviderSession actor
/// from <see cref="SessionProps"/>, as the `provider` child of its AgentActor; the actor speaks
/// <see cref="ProviderProtocol"/> with its parent, whatever process or protocol is behind it.
/// </summary>
public interface IAgentProvider
{
    ProviderDescription Description { get; }
    Props SessionProps(ProviderSessionConfig config);

    /// <summary>Whether its CLI can run here (checked at start-up, and again when asked); built-ins without a CLI are ready.</summary>
    AvailabilityCheck Availability => AlwaysReady;

    /// <summary>
    /// Its models for list_provider_models (in the agent's directory when given): the configured list, or what the
    /// provider reports at runtime where it can (OpenCode: the providers of its config). Throws when it cannot say.
    /// </summary>
    Task<IReadOnlyList<JsonObject>> ListModelsAsync(string? cwd, ActorSystem system, CancellationToken cancellationToken) =>
        Task.FromResult(Description.Models);

    /// <summary>Its models are learned from the CLI (so a model id cannot be checked against a fixed list).</summary>
    bool DiscoversModels => false;

    private static readonly AvailabilityCheck AlwaysReady = AvailabilityCheck.Fixed(ProviderAvailability.Ready);
}

/// <summary>The messages between an AgentActor and its ProviderSession child.</summary>
public static class ProviderProtocol
{
    // Agent → provider session.

    /// <summary>Start a turn with this prompt (a running turn is interrupted first: Paseo's replaceRunning).</summary>
    public sealed record RunTurn(string Prompt, IReadOnlyList<PromptImage>? Images = null)
    {
        public IReadOnlyList<PromptImage> AttachedImages => Images ?? [];
    }

    public sealed record Interrupt
    {
        public static readonly Interrupt Instance = new();
        private Interrupt() { }
    }

    /// <summary>The user's answer to a permission request; <paramref name="Resolution"/> is `{behavior:"allow"|"deny",...}`.</summary>
    public sealed record ResolvePermission(string RequestId, JsonObject Resolution);

    public sealed record SetMode(string ModeId);

    // Provider session → agent. Every event is for the agent that owns the session.

    public abstract record ProviderEvent;

    /// <summary>The provider's own session id became known (it makes the agent resumable).</summary>
    public sealed record ThreadStarted(string SessionId) : ProviderEvent;

    public sealed record TurnStarted : ProviderEvent
    {
        public static readonly TurnStarted Instance = new();
        private TurnStarted() { }
    }

    /// <summary>A timeline item to commit (one assistant or reasoning chunk, a tool call state, an error...).</summary>
    public sealed record Timeline(JsonObject Item) : ProviderEvent;

    /// <summary>The provider waits for the user: `request` is a PermissionRequest (§E.2).</summary>
    public sealed record PermissionRequested(JsonObject Request) : ProviderEvent;

    public sealed record TurnCompleted(JsonObject? Usage) : ProviderEvent;

    public sealed record TurnFailed(string Error) : ProviderEvent;

    public sealed record TurnCanceled(string Reason) : ProviderEvent;

    public sealed record ModeChanged(string ModeId) : ProviderEvent;

    /// <summary>The modes the agent offers, learned at runtime (ACP's session/new), and the one it is in.</summary>
    public sealed record ModesDiscovered(IReadOnlyList<AgentMode> Modes, string? CurrentModeId) : ProviderEvent;
}
