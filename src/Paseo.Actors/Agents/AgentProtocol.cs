using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Agents;

/// <summary>An agent's id: a lowercase v4 UUID, as Paseo makes them.</summary>
public readonly record struct AgentId
{
    public string Value { get; }

    private AgentId(string value) => Value = value;

    public static AgentId New() => new(Guid.NewGuid().ToString("D"));

    public static AgentId From(string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("an agent id cannot be empty", nameof(value)) : new AgentId(value);

    public override string ToString() => Value;
}

/// <summary>What create_agent_request.config says, as far as Paseo.NET uses it.</summary>
public sealed record AgentConfig(string Provider, string Cwd, string? ModeId, string? Model, string? ThinkingOptionId, string? Title, string? SystemPrompt);

/// <summary>The messages of the agents subsystem: the supervisor, each agent, and what they publish.</summary>
public static class AgentProtocol
{
    public interface IAgentCommand;

    // To the supervisor.

    /// <param name="Observer">
    /// Set for an <b>internal</b> agent (a loop's worker or verifier, app-orchestration.md §3.3): it is not stored, not
    /// listed, reachable by its exact id only, and what it would publish goes to the observer alone, as
    /// <see cref="InternalAgentEvent"/>s. Archiving it makes it an ordinary stored, archived agent.
    /// </param>
    public sealed record CreateAgent(AgentConfig Config, string? InitialPrompt, string? ClientMessageId, IReadOnlyDictionary<string, string> Labels,
        IReadOnlyList<PromptImage>? Images = null, IActorRef? Observer = null);

    public sealed record AgentCreated(AgentSnapshot Agent);

    public sealed record AgentCreateFailed(string Error);

    public sealed record ListAgents
    {
        public static readonly ListAgents Instance = new();
        private ListAgents() { }
    }

    public sealed record AgentList(IReadOnlyList<AgentSnapshot> Agents);

    /// <summary>Resolves <paramref name="Identifier"/> (exact id, unique id prefix, exact title) and forwards <paramref name="Command"/> to that agent, keeping the sender; answers <see cref="AgentNotFound"/> otherwise.</summary>
    public sealed record ToAgent(string Identifier, IAgentCommand Command);

    /// <param name="CorrelationId">The wait id of a <see cref="WaitForFinish"/> that found no agent (0 for any other command).</param>
    public sealed record AgentNotFound(string Identifier, string Error, long CorrelationId = 0);

    // To one agent (through ToAgent).

    public sealed record GetSnapshot : IAgentCommand
    {
        public static readonly GetSnapshot Instance = new();
        private GetSnapshot() { }
    }

    /// <summary>Un-archives, records the user message, starts a run (replacing a running one). Answered once the run started.</summary>
    /// <param name="Recorded">False for the daemon's own prompts that are not the user's words (an MCP notifyOnFinish): no user_message row.</param>
    public sealed record SendMessage(string Text, string? MessageId, IReadOnlyList<PromptImage>? Images = null, bool Recorded = true) : IAgentCommand;

    public sealed record MessageAccepted(AgentId AgentId);

    /// <summary>
    /// A prompt for an agent only if it is idle and not archived (chat mentions): answered <see cref="MessageAccepted"/>
    /// once the run started, <see cref="AgentBusy"/> while a turn runs (nothing is interrupted), or a refused
    /// <see cref="CommandResult"/> for an archived agent (nothing is un-archived). Checked and started in one step.
    /// </summary>
    public sealed record SendMessageIfIdle(string Text) : IAgentCommand;

    public sealed record AgentBusy(AgentId AgentId);

    public sealed record Cancel : IAgentCommand
    {
        public static readonly Cancel Instance = new();
        private Cancel() { }
    }

    public sealed record Archive : IAgentCommand
    {
        public static readonly Archive Instance = new();
        private Archive() { }
    }

    public sealed record Archived(AgentId AgentId, DateTimeOffset ArchivedAt);

    /// <summary>
    /// MCP kill_agent (app-orchestration.md §4.5): a running turn ends (canceled), the provider session is stopped, and
    /// the agent is `closed` with its record kept; the next prompt starts a session again. Answered with the snapshot.
    /// </summary>
    public sealed record CloseSession : IAgentCommand
    {
        public static readonly CloseSession Instance = new();
        private CloseSession() { }
    }

    public sealed record Delete : IAgentCommand
    {
        public static readonly Delete Instance = new();
        private Delete() { }
    }

    public sealed record Deleted(AgentId AgentId);

    public sealed record FetchTimeline(TimelineQuery Query, bool ReasoningMergeEnum) : IAgentCommand;

    /// <summary>The timeline fields of fetch_agent_timeline_response, and the agent's snapshot.</summary>
    public sealed record TimelinePage(AgentSnapshot Agent, JsonObject Fields);

    /// <summary>
    /// Told, not asked (a wait may last as long as a turn): answered with a <see cref="FinishResult"/> carrying the same
    /// <paramref name="WaitId"/> at the timeout, when the turn ends, when a permission is asked, or when the agent stops.
    /// </summary>
    public sealed record WaitForFinish(TimeSpan? Timeout, long WaitId = 0) : IAgentCommand;

    /// <summary>
    /// From the supervisor to whoever told a <see cref="WaitForFinish"/>: the wait went to <paramref name="Agent"/>. The
    /// waiter watches it, so a wait whose agent stops before it could answer (its mailbox dropped) still ends.
    /// </summary>
    public sealed record WaitForwarded(long WaitId, Akka.Actor.IActorRef Agent);

    /// <summary>status is idle, error, permission or timeout.</summary>
    public sealed record FinishResult(string Status, AgentSnapshot Final, string? Error, string? LastMessage, long WaitId = 0);

    public sealed record RespondToPermission(string RequestId, System.Text.Json.JsonElement Resolution) : IAgentCommand;

    public sealed record SetAgentMode(string ModeId) : IAgentCommand;

    /// <summary>set_agent_model_request: a model id, or null for the provider's default. Applies to a new provider process.</summary>
    public sealed record SetAgentModel(string? ModelId) : IAgentCommand;

    /// <summary>set_agent_thinking_request: a thinking option id (Claude/Codex effort), or null for the default.</summary>
    public sealed record SetAgentThinking(string? ThinkingOptionId) : IAgentCommand;

    public sealed record UpdateAgent(string? Name, IReadOnlyDictionary<string, string>? Labels) : IAgentCommand;

    public sealed record ClearAttention : IAgentCommand
    {
        public static readonly ClearAttention Instance = new();
        private ClearAttention() { }
    }

    /// <summary>The answer of the set_*/update commands: accepted, or the reason not.</summary>
    public sealed record CommandResult(AgentId AgentId, bool Accepted, string? Error);

    /// <summary>
    /// refresh_agent (app-workspaces.md §7): un-archive, and start the provider session again from its persistence handle
    /// (after the running turn is interrupted). Answered <see cref="AgentRefreshed"/>, or a refused <see cref="CommandResult"/>.
    /// </summary>
    public sealed record RefreshAgent : IAgentCommand
    {
        public static readonly RefreshAgent Instance = new();
        private RefreshAgent() { }
    }

    public sealed record AgentRefreshed(AgentSnapshot Agent, long TimelineSize);

    /// <summary>
    /// A row the daemon itself adds to an agent's timeline (its worktree's setup, app-workspaces.md §4.4): live only (no seq,
    /// not stored) while it runs, committed when <paramref name="Commit"/>. Told, not asked.
    /// </summary>
    public sealed record ReportToolCall(System.Text.Json.JsonElement Item, bool Commit) : IAgentCommand;

    /// <summary>
    /// resume_agent / import_agent: the agent holding this provider session is refreshed; when none does, a new agent is made
    /// around the session (its provider resumes it at the first prompt). Answered <see cref="AgentRefreshed"/> or <see cref="AgentCreateFailed"/>.
    /// </summary>
    public sealed record ResumeSession(string Provider, string SessionId, string? Cwd, IReadOnlyDictionary<string, string>? Labels);

    // Published on the event stream for every client session.

    /// <summary>
    /// One agent_stream event, serialized once by the agent and shared by every session: <see cref="Frame"/> is the
    /// agent_stream frame; <see cref="PermissionFrame"/> the agent_permission_request / _resolved frame that follows it.
    /// </summary>
    public sealed record AgentStreamEvent(AgentId AgentId, string Type, string Frame, string? PermissionFrame);

    /// <summary>The agent's state changed: its snapshot (for filters) and the agent_update upsert frame, serialized once.</summary>
    public sealed record AgentChanged(AgentSnapshot Agent, string UpsertFrame);

    /// <summary>
    /// To an internal agent's observer, in order: one agent_stream event (the <c>event</c> of the frame a client would
    /// get: timeline items, turn_started / _completed / _failed / _canceled, permission_requested / _resolved…).
    /// </summary>
    public sealed record InternalAgentEvent(AgentId AgentId, System.Text.Json.JsonElement Event);

    /// <summary>The agent is gone (agent_update remove).</summary>
    public sealed record AgentRemoved(AgentId AgentId);
}
