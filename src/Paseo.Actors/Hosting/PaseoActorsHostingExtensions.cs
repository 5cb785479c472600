using Akka.Actor;
using Akka.Hosting;
using Paseo.Actors.Agents;
using Paseo.Actors.Guardian;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions;
using Paseo.Transport.Identity;

namespace Paseo.Actors.Hosting;

/// <summary>Registry key of the root guardian.</summary>
public sealed class PaseoGuardianKey;

/// <summary>Registry key of the agents subsystem (<see cref="AgentSupervisor"/>).</summary>
public sealed class AgentSupervisorKey;

/// <summary>Registry key of the client sessions subsystem (<see cref="ClientSessionManager"/>).</summary>
public sealed class ClientSessionManagerKey;

/// <summary>What the daemon's actors need from the host: where agents are stored, which providers exist, and the limits.</summary>
public sealed record PaseoActorsOptions(
    PaseoGuardianProtocol.ServerInfo Info,
    DaemonIdentity Identity,
    string AgentsDirectory,
    IReadOnlyDictionary<string, IAgentProvider> Providers,
    AgentLimits AgentLimits,
    SessionSettings Sessions,
    TimeProvider Time);

/// <summary>The Akka.Hosting wiring of the daemon's actors: one `With...()` per subsystem, and an aggregate.</summary>
public static class PaseoActorsHostingExtensions
{
    public static AkkaConfigurationBuilder WithPaseoGuardian(this AkkaConfigurationBuilder builder, PaseoGuardianProtocol.ServerInfo info, DaemonIdentity identity) =>
        builder.WithActors((system, registry) =>
            registry.Register<PaseoGuardianKey>(system.ActorOf(PaseoGuardian.Props(info, identity), "paseo")));

    public static AkkaConfigurationBuilder WithAgents(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithActors((system, registry) =>
            registry.Register<AgentSupervisorKey>(system.ActorOf(AgentSupervisor.Props(options.Providers, options.AgentsDirectory, options.AgentLimits, options.Time), "agents")));

    public static AkkaConfigurationBuilder WithClientSessions(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithActors((system, registry) =>
            registry.Register<ClientSessionManagerKey>(system.ActorOf(ClientSessionManager.Props(
                registry.Get<AgentSupervisorKey>(), registry.Get<PaseoGuardianKey>(), options.Providers, options.Sessions), "sessions")));

    /// <summary>Every actor subsystem of the daemon.</summary>
    public static AkkaConfigurationBuilder WithPaseoActors(this AkkaConfigurationBuilder builder, PaseoActorsOptions options) =>
        builder.WithPaseoGuardian(options.Info, options.Identity).WithAgents(options).WithClientSessions(options);
}
