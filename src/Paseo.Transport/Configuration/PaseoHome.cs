using Paseo.Transport.Files;

namespace Paseo.Transport.Configuration;

/// <summary>
/// The daemon's home folder ($PASEO_HOME, --home, default ~/.paseo) and the well-known files inside it.
/// </summary>
public sealed record PaseoHome(string Root)
{
    public string ConfigJson => Path.Combine(Root, "config.json");
    public string HoconOverride => Path.Combine(Root, "paseo.hocon");
    public string PidFile => Path.Combine(Root, "paseo.pid");
    public string ServerIdFile => Path.Combine(Root, "server-id");
    public string DaemonKeyPairFile => Path.Combine(Root, "daemon-keypair.json");
    /// <summary>Client keys of earlier relay connections under the current keypair (replay protection).</summary>
    public string ClientKeyLedgerFile => Path.Combine(Root, Identity.ClientKeyLedger.FileName);
    public string DaemonLog => Path.Combine(Root, "daemon.log");
    public string AgentsDir => Path.Combine(Root, "agents");
    /// <summary>projects.json and workspaces.json (app-workspaces.md §2.1).</summary>
    public string ProjectsDir => Path.Combine(Root, "projects");
    /// <summary>Paseo-owned worktrees: worktrees/&lt;hash&gt;/&lt;slug&gt; (app-workspaces.md §4.1).</summary>
    public string WorktreesDir => Path.Combine(Root, "worktrees");

    /// <summary>The daemon's tmux server: its private socket and configuration (terminals outlive the daemon here).</summary>
    public string TerminalsDir => Path.Combine(Root, "terminals");

    /// <summary>The chat rooms: chat/rooms.json (app-orchestration.md §1.6).</summary>
    public string ChatRoomsFile => Path.Combine(Root, "chat", "rooms.json");

    /// <summary>One file per schedule: schedules/&lt;id&gt;.json (app-orchestration.md §2.6).</summary>
    public string SchedulesDir => Path.Combine(Root, "schedules");

    /// <summary>One file per loop with its log: loops/&lt;id&gt;.json (Paseo's single loops/loops.json is imported; docs/orchestration.md).</summary>
    public string LoopsDir => Path.Combine(Root, "loops");

    /// <summary>Resolves the home folder: the --home flag, else $PASEO_HOME, else ~/.paseo. `~/` is expanded.</summary>
    public static PaseoHome Resolve(string? flag, IReadOnlyDictionary<string, string?> env)
    {
        var raw = !string.IsNullOrWhiteSpace(flag) ? flag
            : env.TryGetValue("PASEO_HOME", out var fromEnv) && !string.IsNullOrWhiteSpace(fromEnv) ? fromEnv
            : "~/.paseo";
        return new PaseoHome(Path.GetFullPath(ExpandTilde(raw!.Trim(), env)));
    }

    public static string ExpandTilde(string path, IReadOnlyDictionary<string, string?> env)
    {
        if (path != "~" && !path.StartsWith("~/", StringComparison.Ordinal)) return path;
        var home = env.TryGetValue("HOME", out var h) && !string.IsNullOrEmpty(h)
            ? h
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return path == "~" ? home! : Path.Combine(home!, path[2..]);
    }

    /// <summary>Creates the folder with mode 0700 (and tightens an existing one).</summary>
    public PaseoHome EnsureExists()
    {
        PrivateFiles.EnsurePrivateDirectory(Root);
        return this;
    }
}
