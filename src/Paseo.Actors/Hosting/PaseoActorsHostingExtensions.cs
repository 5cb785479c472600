using Akka.Actor;
using Akka.Hosting;
using Paseo.Actors.Agents;
using Paseo.Actors.Guardian;
using Paseo.Actors.Providers;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.ClientKeys;
using Paseo.Actors.Relay.Handshake;
using Paseo.Transport.Channels;
using Paseo.Actors.Sessions;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Workspaces;
using Paseo.Transport.Identity;

namespace Paseo.Actors.Hosting;

/// <summary>Registry key of the root guardian.</summary>
public sealed class PaseoGuardianKey;

/// <summary>Registry key of the agents subsystem (<see cref="AgentSupervisor"/>).</summary>
public sealed class AgentSupervisorKey;

/// <summary>Registry key of the client sessions subsystem (<see cref="ClientSessionManager"/>).</summary>
public sealed class ClientSessionManagerKey;

/// <summary>Registry key of the workspace registry (<see cref="WorkspaceRegistryActor"/>).</summary>
public sealed class WorkspaceRegistryKey;

/// <summary>Registry key of the checkout observers (<see cref="CheckoutsActor"/>).</summary>
public sealed class CheckoutsKey;

/// <summary>Registry key of Paseo's worktrees (<see cref="WorktreesActor"/>).</summary>
public sealed class WorktreesKey;

/// <summary>Registry key of the workspace scripts (<see cref="ScriptsActor"/>).</summary>
public sealed class ScriptsKey;

/// <summary>Registry key of the daemon's terminals (<see cref="Paseo.Actors.Terminals.TerminalsActor"/>).</summary>
public sealed class TerminalsKey;

/// <summary>Registry key of the client key ledger (<see cref="ClientKeyLedgerActor"/>): replay protection of relay connections.</summary>
public sealed class ClientKeyLedgerKey;

/// <summary>Registry key of the daemon's relay tunnel (<see cref="RelayTunnelActor"/>), registered only when the relay is on.</summary>
public sealed class RelayTunnelKey;

/// <summary>Registry key of the chat rooms (<see cref="Paseo.Actors.Chat.ChatRoomsActor"/>).</summary>
public sealed class ChatRoomsKey;

/// <summary>Registry key of the schedules (<see cref="Paseo.Actors.Schedules.SchedulesActor"/>).</summary>
public sealed class SchedulesKey;

/// <summary>Registry key of the loops (<see cref="Paseo.Actors.Loops.LoopsActor"/>).</summary>
public sealed class LoopsKey;

/// <summary>Registry key of the agents' MCP server sessions (<see cref="Paseo.Actors.Mcp.McpSessionsActor"/>).</summary>
public sealed class McpSessionsKey;

/// <summary>`/user/paseo/providers`: state shared by a provider's agents (OpenCode's servers).</summary>
public sealed class ProvidersKey;

/// <summary>What the daemon's actors need from the host: where agents are stored, which providers exist, and the limits.</summary>
public sealed record PaseoActorsOptions(
    PaseoGuardianProtocol.ServerInfo Info,
    DaemonIdentity Identity,
    ClientKeyLedger ClientKeys,
    string AgentsDirectory,
    IReadOnlyDictionary<string, IAgentProvider> Providers,
    AgentLimits AgentLimits,
    SessionSettings Sessions,
    TimeProvider Time,
    WorkspaceSettings? Workspaces = null,
    TerminalHosting? Terminals = null,
    ChatHosting? Chat = null,
    ScheduleHosting? Schedules = null,
    LoopHosting? Loops = null,
    McpHosting? Mcp = null);

/// <summary>The agents' MCP server: served or not, injected into new agents or not (config.json / flags), and `paseo.mcp` limits.</summary>
public sealed record McpHosting(bool Enabled, bool InjectIntoAgents, int MaxSessions, int MaxCallsPerSession, bool InjectForbidden = false);

/// <summary>Where the loops are stored ($PASEO_HOME/loops, one file each) and their `paseo.loops` limits.</summary>
public sealed record LoopHosting(string Directory, Paseo.Actors.Loops.LoopLimits Limits);

/// <summary>Where the schedules are stored ($PASEO_HOME/schedules) and their `paseo.schedules` limits.</summary>
public sealed record ScheduleHosting(string Directory, Paseo.Actors.Schedules.ScheduleLimits Limits);

/// <summary>Where the chat rooms are stored ($PASEO_HOME/chat/rooms.json) and their `paseo.chat` limits.</summary>
public sealed record ChatHosting(string StorePath, Paseo.Actors.Chat.ChatLimits Limits);

/// <summary>The daemon's tmux server ($PASEO_HOME/terminals) and the shell a terminal runs when it names no command.</summary>
public sealed record TerminalHosting(Paseo.Transport.Terminals.TmuxServer Server, string DefaultShell);

/// <summary>Where the registries and Paseo's worktrees live ($PASEO_HOME/projects, $PASEO_HOME/worktrees), `paseo.workspaces` / `paseo.git` timings, and the daemon user's home (the project picker searches under it).</summary>
public sealed record WorkspaceSettings(string ProjectsDirectory, string WorktreesDirectory, SuggestionLimits Suggestions, CheckoutWatchSettings Watch, string UserHome,
    string? ConfigJsonPath = null, WorktreeScriptLimits? ScriptLimits = null, ScriptRoutes? ScriptRoutes = null,
    Paseo.Transport.Files.FileLimits? FileLimits = null, Paseo.Transport.Files.DownloadTokens? Downloads = null)
{
    public WorktreeScriptLimits Scripts => ScriptLimits ?? WorktreeScriptLimits.Default;

    /// <summary>The reverse-proxy table of workspace services, shared with the front door.</summary>
    public ScriptRoutes Routes { get; } = ScriptRoutes ?? new ScriptRoutes();
}

/// <summary>The Akka.Hosting wiring of the daemon's actors: one `With...()` per subsystem, and an aggregate.</summary>
public static class PaseoActorsHostingExtensions
{
    public static AkkaConfigurationBuilder WithPaseoGuardian(this AkkaConfigurationBuilder builder, PaseoGuardianProtocol.ServerInfo info, DaemonIdentity identity) =>
        builder.WithActors((system, registry) =>
            registry.Register<PaseoGuardianKey>(system.ActorOf(PaseoGuardian.Props(info, identity), "paseo")));

    /// <summary>What providers share between their agents (OpenCode's servers): started before the agents that use it.</summary>
    public static AkkaConfigurationBuilder WithProviders(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithActors((system, registry) =>
            registry.Register<ProvidersKey>(Subsystem(registry, Paseo.Actors.Providers.ProvidersActor.Props(options.Providers, options.Time), "providers")));

    public static AkkaConfigurationBuilder WithAgents(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithActors((system, registry) =>
            registry.Register<AgentSupervisorKey>(Subsystem(registry, AgentSupervisor.Props(options.Providers, options.AgentsDirectory, options.AgentLimits, options.Time), "agents")));

    /// <summary>Workspaces and projects (the registry) and the git checkouts sessions observe.</summary>
    public static AkkaConfigurationBuilder WithWorkspaces(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Workspaces is not { } settings ? builder : builder.WithActors((system, registry) =>
        {
            registry.Register<WorkspaceRegistryKey>(Subsystem(registry, WorkspaceRegistryActor.Props(settings.ProjectsDirectory, settings.WorktreesDirectory,
                registry.Get<AgentSupervisorKey>(), options.Time), "workspaces"));
            registry.Register<CheckoutsKey>(Subsystem(registry, CheckoutsActor.Props(settings.WorktreesDirectory, settings.Watch), "checkouts"));
            registry.Register<WorktreesKey>(Subsystem(registry, WorktreesActor.Props(settings.WorktreesDirectory, registry.Get<WorkspaceRegistryKey>(),
                registry.Get<AgentSupervisorKey>(), registry.Get<CheckoutsKey>(), settings.Scripts,
                options.Terminals is null ? null : registry.Get<TerminalsKey>()), "worktrees"));
            registry.Register<ScriptsKey>(Subsystem(registry, ScriptsActor.Props(settings.Routes,
                options.Terminals is null ? system.DeadLetters : registry.Get<TerminalsKey>()), "scripts"));
        });

    /// <summary>Terminals: the daemon's own, in its tmux server; they outlive the daemon.</summary>
    public static AkkaConfigurationBuilder WithTerminals(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Terminals is not { } terminals ? builder : builder.WithActors((system, registry) =>
            registry.Register<TerminalsKey>(Subsystem(registry, Paseo.Actors.Terminals.TerminalsActor.Props(terminals.Server, terminals.DefaultShell), "terminals")));

    public static AkkaConfigurationBuilder WithClientSessions(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithActors((system, registry) =>
            registry.Register<ClientSessionManagerKey>(Subsystem(registry, ClientSessionManager.Props(
                registry.Get<AgentSupervisorKey>(), registry.Get<PaseoGuardianKey>(), options.Providers, options.Sessions,
                options.Workspaces is { } w ? new SessionServices(registry.Get<WorkspaceRegistryKey>(), registry.Get<CheckoutsKey>(), registry.Get<WorktreesKey>(), registry.Get<ScriptsKey>(), w.Suggestions, w.UserHome, w.ConfigJsonPath,
                    w.FileLimits ?? Paseo.Transport.Files.FileLimits.Default, w.Downloads,
                    options.Terminals is null ? null : registry.Get<TerminalsKey>(), options.Terminals?.Server.Settings,
                    options.Chat is null ? null : registry.Get<ChatRoomsKey>(),
                    options.Schedules is null ? null : registry.Get<SchedulesKey>(),
                    options.Loops is null ? null : registry.Get<LoopsKey>()) : null), "sessions")));

    /// <summary>The agents' MCP server: its sessions' way into the daemon, and what agents are given (<see cref="Paseo.Actors.Mcp.DaemonMcp"/>).</summary>
    public static AkkaConfigurationBuilder WithMcp(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Mcp is not { } mcp ? builder : builder.WithActors((system, registry) =>
        {
            Paseo.Actors.Mcp.DaemonMcp.Get(system).Configure(mcp.Enabled, mcp.InjectIntoAgents, mcp.InjectForbidden);
            if (!mcp.Enabled) return;
            registry.Register<McpSessionsKey>(Subsystem(registry, Paseo.Actors.Mcp.McpSessionsActor.Props(registry.Get<ClientSessionManagerKey>(),
                mcp.MaxSessions, mcp.MaxCallsPerSession), "mcp"));
        });

    /// <summary>Loops: one actor per running loop, its worker and verifier internal agents; one file per loop.</summary>
    public static AkkaConfigurationBuilder WithLoops(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Loops is not { } loops ? builder : builder.WithActors((system, registry) =>
        {
            var actor = Subsystem(registry, Paseo.Actors.Loops.LoopsActor.Props(loops.Directory, registry.Get<AgentSupervisorKey>(), loops.Limits, options.Time), "loops");
            registry.Register<LoopsKey>(actor);
            // Before the agents stop (service-stop): a loop whose worker stopped would otherwise end failed; stopped here, it
            // stays running on disk and the next start ends it as interrupted by the restart (§3.5).
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-loops", async () =>
            {
                try
                {
                    await actor.Ask<Akka.Done>(Paseo.Actors.Loops.LoopsActor.StopForShutdown.Instance, TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    // Stuck: the agents' stop ends the loops anyway.
                }
                return Akka.Done.Instance;
            });
            // At shutdown the loops' last changes (log lines within the write delay) reach the disk before the process ends.
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-loops", async () =>
            {
                try
                {
                    await actor.Ask<Akka.Done>(Paseo.Actors.Loops.LoopsActor.FlushStore.Instance, TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    // The store is gone or stuck: nothing more can be saved.
                }
                return Akka.Done.Instance;
            });
        });

    /// <summary>Schedules: one actor and one timer per schedule, one file each; runs prompt agents.</summary>
    public static AkkaConfigurationBuilder WithSchedules(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Schedules is not { } schedules ? builder : builder.WithActors((system, registry) =>
        {
            var actor = Subsystem(registry, Paseo.Actors.Schedules.SchedulesActor.Props(schedules.Directory, registry.Get<AgentSupervisorKey>(),
                schedules.Limits, options.Time), "schedules");
            registry.Register<SchedulesKey>(actor);
            // At shutdown the schedules' last writes (a run's end) reach the disk before the process ends.
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-schedules", async () =>
            {
                try
                {
                    await actor.Ask<Akka.Done>(Paseo.Actors.Schedules.SchedulesActor.FlushStore.Instance, TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    // The store is gone or stuck: nothing more can be saved.
                }
                return Akka.Done.Instance;
            });
        });

    /// <summary>Chat rooms: one actor per room, stored in one file, mentions delivered to agents.</summary>
    public static AkkaConfigurationBuilder WithChat(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        options.Chat is not { } chat ? builder : builder.WithActors((system, registry) =>
            registry.Register<ChatRoomsKey>(Subsystem(registry, Paseo.Actors.Chat.ChatRoomsActor.Props(chat.StorePath, registry.Get<AgentSupervisorKey>(), chat.Limits, options.Time), "chat")));

    /// <summary>The client keys of relay connections, loaded from disk before the actor system started (a damaged file stops the daemon).</summary>
    public static AkkaConfigurationBuilder WithClientKeyLedger(this AkkaConfigurationBuilder builder, ClientKeyLedger ledger, DaemonIdentity identity) =>
        builder.WithActors((system, registry) =>
            registry.Register<ClientKeyLedgerKey>(Subsystem(registry, ClientKeyLedgerActor.Props(ledger, identity.KeyPair.PublicKey), "client-keys")));

    /// <summary>The outbound relay tunnel: only when the user turned the relay on and named its endpoint.</summary>
    public static AkkaConfigurationBuilder WithRelayTunnel(this AkkaConfigurationBuilder builder, RelayTunnelSettings settings, IFrameConnector connector,
        HandshakeSettings handshake, TimeProvider time) =>
        builder.WithActors((system, registry) =>
            registry.Register<RelayTunnelKey>(Subsystem(registry, RelayTunnelActor.Props(settings, registry.Get<PaseoGuardianKey>(),
                registry.Get<ClientSessionManagerKey>(), registry.Get<ClientKeyLedgerKey>(), connector, handshake, time), "relay")));

    /// <summary>
    /// Starts a subsystem as a child of the root guardian (`/user/paseo/&lt;name&gt;`), so it is supervised by the guardian's
    /// stated strategy rather than Akka's default for `/user` (restart, which would stop every agent of `agents`). Asked
    /// once at start-up, from the host's thread, never an actor's.
    /// </summary>
    public static IActorRef Subsystem(IActorRegistry registry, Props props, string name) =>
        registry.Get<PaseoGuardianKey>().Ask<IActorRef>(new PaseoGuardianProtocol.StartSubsystem(props, name), TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();

    /// <summary>Every actor subsystem of the daemon.</summary>
    public static AkkaConfigurationBuilder WithPaseoActors(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithPaseoGuardian(options.Info, options.Identity).WithClientKeyLedger(options.ClientKeys, options.Identity).WithProviders(options).WithAgents(options).WithTerminals(options).WithWorkspaces(options).WithChat(options).WithSchedules(options).WithLoops(options).WithClientSessions(options).WithMcp(options);
}
