using System.Collections.Immutable;
using Akka.Actor;
using Paseo.Transport.Git;
using Paseo.Transport.Workspaces;

namespace Paseo.Actors.Workspaces;

/// <summary>
/// What every part of the daemon reads about workspaces, as an actor-system extension: the registry as the
/// <see cref="WorkspaceRegistryActor"/> last published it (an immutable value, swapped whole: an agent placing itself in
/// an agent_update or a session filtering by project never asks and never sees half a change), and the one
/// <see cref="GitRunner"/> whose `paseo.git.concurrency` bounds every git process of the daemon.
/// </summary>
public sealed class DaemonWorkspaces : IExtension
{
    private WorkspaceRegistry _current = WorkspaceRegistry.Empty;

    public DaemonWorkspaces(ExtendedActorSystem system)
    {
        var config = system.Settings.Config;
        Settings = config.HasPath("paseo.git.concurrency")
            ? new GitSettings(config.GetInt("paseo.git.concurrency"), config.GetTimeSpan("paseo.git.timeout"), config.GetTimeSpan("paseo.git.long-timeout"),
                config.GetByteSize("paseo.git.max-output-bytes") ?? GitSettings.Default.MaxOutputBytes, (int)(config.GetByteSize("paseo.git.max-stderr-bytes") ?? 2048))
            : GitSettings.Default;
        Git = new GitRunner(Settings);
        // Background fetches have their own two slots and a shorter limit: an unreachable origin never starves the git
        // commands clients wait for.
        Fetcher = new GitRunner(Settings with { Concurrency = 2, LongTimeout = TimeSpan.FromSeconds(60) });
        Gh = new GitRunner(Settings, config.HasPath("paseo.github.cli") ? config.GetString("paseo.github.cli") : "gh");
        GitHub = new GitHubCli(Gh);
    }

    /// <summary>GitHub through the gh CLI (`paseo.github.cli`), with its 30-second answer cache shared by every session.</summary>
    public GitHubCli GitHub { get; }

    public GitSettings Settings { get; }
    public GitRunner Git { get; }
    public GitRunner Fetcher { get; }
    public GitRunner Gh { get; }

    private ImmutableDictionary<string, ImmutableArray<ScriptState>> _scripts = ImmutableDictionary<string, ImmutableArray<ScriptState>>.Empty;

    /// <summary>Each workspace's scripts (configured and running) as last published; written only by the scripts actor.</summary>
    public ImmutableDictionary<string, ImmutableArray<ScriptState>> Scripts
    {
        get => Volatile.Read(ref _scripts);
        internal set => Volatile.Write(ref _scripts, value);
    }

    /// <summary>The registry as last changed; written only by the registry actor.</summary>
    public WorkspaceRegistry Current
    {
        get => Volatile.Read(ref _current);
        internal set => Volatile.Write(ref _current, value);
    }

    public static DaemonWorkspaces Get(ActorSystem system) => system.WithExtension<DaemonWorkspaces, DaemonWorkspacesId>();
}

public sealed class DaemonWorkspacesId : ExtensionIdProvider<DaemonWorkspaces>
{
    public override DaemonWorkspaces CreateExtension(ExtendedActorSystem system) => new(system);
}
