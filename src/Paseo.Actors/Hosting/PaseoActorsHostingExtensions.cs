using Akka.Hosting;
using Paseo.Actors.Guardian;
using Paseo.Transport.Identity;

namespace Paseo.Actors.Hosting;

/// <summary>Registry key of the root guardian.</summary>
public sealed class PaseoGuardianKey;

/// <summary>The Akka.Hosting wiring of the daemon's actors: one `With...()` per subsystem, and an aggregate.</summary>
public static class PaseoActorsHostingExtensions
{
    public static AkkaConfigurationBuilder WithPaseoGuardian(this AkkaConfigurationBuilder builder, PaseoGuardianProtocol.ServerInfo info, DaemonIdentity identity) =>
        builder.WithActors((system, registry) =>
            registry.Register<PaseoGuardianKey>(system.ActorOf(PaseoGuardian.Props(info, identity), "paseo")));

    /// <summary>Every actor subsystem of the daemon.</summary>
    public static AkkaConfigurationBuilder WithPaseoActors(this AkkaConfigurationBuilder builder, PaseoGuardianProtocol.ServerInfo info, DaemonIdentity identity) =>
        builder.WithPaseoGuardian(info, identity);
}
