using Paseo.Transport.Listen;

namespace Paseo.Transport.Configuration;

/// <summary>What the command line says about the daemon (the last and strongest layer).</summary>
public sealed record DaemonFlags
{
    public string? Home { get; init; }
    public string? Listen { get; init; }
    public int? Port { get; init; }
    public IReadOnlyList<string> Hostnames { get; init; } = [];
    public bool NoRelay { get; init; }
    public string? RelayEndpoint { get; init; }
    /// <summary>`--embedded-relay [host:port]`: run a relay server in the daemon's process and use it.</summary>
    public string? EmbeddedRelay { get; init; }
    public bool NoMcp { get; init; }
    public bool NoInjectMcp { get; init; }
    public bool AllowUnauthenticatedNetwork { get; init; }
}

public sealed record RelayConfig(bool Enabled, string? Endpoint, string? PublicEndpoint);

public sealed record LogConfig(string ConsoleLevel, string ConsoleFormat, string FileLevel, string FilePath, long FileMaxBytes, int FileMaxFiles);

/// <summary>
/// The configuration in effect: defaults &lt; config.json &lt; environment &lt; flags. Lists (hostnames, CORS origins)
/// append across layers, and `true` for hostnames wins.
/// </summary>
public sealed record DaemonConfig(
    PaseoHome Home,
    ListenTarget Listen,
    HostnamesSetting Hostnames,
    IReadOnlyList<string> CorsOrigins,
    string? PasswordHash,
    string? PlaintextPasswordFromEnv,
    RelayConfig Relay,
    string AppBaseUrl,
    bool McpEnabled,
    bool McpInjectIntoAgents,
    LogConfig Log,
    bool AllowUnauthenticatedNetwork,
    IReadOnlyList<ProviderProfile>? ProviderProfiles = null,
    bool McpInjectForbidden = false)
{
    /// <summary>`agents.providers` of config.json, in file order.</summary>
    public IReadOnlyList<ProviderProfile> Providers => ProviderProfiles ?? [];

    public const int DefaultPort = 6767;
    public const string DefaultAppBaseUrl = "https://app.paseo.sh";

    public bool PasswordConfigured => PasswordHash is not null || PlaintextPasswordFromEnv is not null;

    /// <summary>Builds the effective configuration. Reads (and if missing creates) config.json; throws ConfigException.</summary>
    public static DaemonConfig Resolve(DaemonFlags flags, IReadOnlyDictionary<string, string?> env)
    {
        var home = PaseoHome.Resolve(flags.Home, env);
        var file = ConfigFile.LoadOrCreate(home);
        return Resolve(home, file, flags, env);
    }

    public static DaemonConfig Resolve(PaseoHome home, PersistedConfig file, DaemonFlags flags, IReadOnlyDictionary<string, string?> env)
    {
        string? Env(string name) => env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        // listen: default 127.0.0.1:${PORT:-6767} < config < PASEO_LISTEN < --port < --listen (PORT only changes the default, as in Paseo)
        var listenText = $"127.0.0.1:{DefaultPort}";
        var listenSource = "the default";
        if (Env("PORT") is { } port) { listenText = $"127.0.0.1:{ParsePortVariable(port)}"; listenSource = "the environment variable PORT"; }
        if (file.Listen is { } fromFile) { listenText = fromFile; listenSource = $"{home.ConfigJson}: daemon.listen"; }
        if (Env("PASEO_LISTEN") is { } envListen) { listenText = envListen; listenSource = "the environment variable PASEO_LISTEN"; }
        if (flags.Port is { } flagPort)
        {
            if (flagPort is < 0 or > 65535) throw new ConfigException($"--port: expected a port number (0-65535), got {flagPort}");
            listenText = $"127.0.0.1:{flagPort}"; listenSource = "--port";
        }
        if (flags.Listen is { } flagListen) { listenText = flagListen; listenSource = "--listen"; }
        ListenTarget listen;
        try
        {
            listen = ListenTarget.Parse(listenText, env);
        }
        catch (FormatException e)
        {
            throw new ConfigException($"{listenSource}: {e.Message}");
        }

        var hostnames = file.Hostnames
            .Append(ParseHostnamesVariable(Env("PASEO_HOSTNAMES")))
            .Append(ParseHostnamesVariable(Env("PASEO_ALLOWED_HOSTS")));
        foreach (var flag in flags.Hostnames) hostnames = hostnames.Append(ParseHostnamesVariable(flag));

        var cors = file.CorsOrigins.Concat(SplitList(Env("PASEO_CORS_ORIGINS"))).Distinct(StringComparer.Ordinal).ToList();

        // Trimmed, as Paseo does: a trailing newline from an env file is not part of the password.
        var plaintext = env.TryGetValue("PASEO_PASSWORD", out var pw) && !string.IsNullOrWhiteSpace(pw) ? pw.Trim() : null;

        var relayEnabled = file.Relay.Enabled ?? false;
        if (Env("PASEO_RELAY_ENABLED") is { } relayVar) relayEnabled = ParseBoolVariable("PASEO_RELAY_ENABLED", relayVar);
        var relayEndpoint = Env("PASEO_RELAY_ENDPOINT") ?? file.Relay.Endpoint;
        var relayPublic = Env("PASEO_RELAY_PUBLIC_ENDPOINT") ?? file.Relay.PublicEndpoint;
        if (flags.RelayEndpoint is { } flagRelay) { relayEnabled = true; relayEndpoint = flagRelay; }
        if (flags.NoRelay) relayEnabled = false;
        if (relayEnabled && string.IsNullOrWhiteSpace(relayEndpoint))
            throw new ConfigException(
                $"the relay is enabled but no relay endpoint is set. Paseo.NET only connects to a relay you name: set daemon.relay.endpoint in {home.ConfigJson}, " +
                "PASEO_RELAY_ENDPOINT, or --relay host:port (a relay you run yourself, or any Paseo-protocol relay you trust); or disable the relay with daemon.relay.enabled=false or --no-relay");

        var logLevelVariable = Env("PASEO_LOG_LEVEL") is not null ? "PASEO_LOG_LEVEL" : "PASEO_LOG";
        var logLevel = Env(logLevelVariable)?.ToLowerInvariant();
        if (logLevel is not null && !new[] { "trace", "debug", "info", "warn", "error", "fatal", "silent" }.Contains(logLevel))
            throw new ConfigException($"the environment variable {logLevelVariable}: expected one of trace, debug, info, warn, error, fatal, silent, got \"{logLevel}\"");
        var logFormat = Env("PASEO_LOG_FORMAT");
        if (logFormat is not null && logFormat is not ("pretty" or "json"))
            throw new ConfigException($"the environment variable PASEO_LOG_FORMAT: expected \"pretty\" or \"json\", got \"{logFormat}\"");
        var log = new LogConfig(
            ConsoleLevel: logLevel ?? file.Log.Console.Level ?? file.Log.Level ?? "info",
            ConsoleFormat: logFormat ?? file.Log.Console.Format ?? file.Log.Format ?? "pretty",
            FileLevel: file.Log.File.Level ?? file.Log.Level ?? "trace",
            FilePath: file.Log.File.Path is { } p ? Path.GetFullPath(PaseoHome.ExpandTilde(p, env), home.Root) : home.DaemonLog,
            FileMaxBytes: file.Log.File.MaxSizeBytes ?? 10L * 1024 * 1024,
            FileMaxFiles: file.Log.File.MaxFiles ?? 2);

        return new DaemonConfig(
            Home: home,
            Listen: listen,
            Hostnames: hostnames,
            CorsOrigins: cors,
            PasswordHash: file.PasswordHash,
            PlaintextPasswordFromEnv: plaintext,
            Relay: new RelayConfig(relayEnabled, relayEndpoint, relayPublic),
            AppBaseUrl: Env("PASEO_APP_BASE_URL") ?? file.AppBaseUrl ?? DefaultAppBaseUrl,
            McpEnabled: !flags.NoMcp && (file.Mcp.Enabled ?? true),
            McpInjectIntoAgents: !flags.NoInjectMcp && (file.Mcp.InjectIntoAgents ?? false),
            Log: log,
            AllowUnauthenticatedNetwork: flags.AllowUnauthenticatedNetwork,
            ProviderProfiles: file.Providers,
            McpInjectForbidden: flags.NoInjectMcp);
    }

    /// <summary>
    /// Secure by default: a daemon reachable from the network must have a password, unless the user says
    /// explicitly that it should not. Returns the refusal message, or null when the daemon may start.
    /// </summary>
    public string? NetworkExposureRefusal()
    {
        if (Listen.IsLocalOnly || PasswordConfigured || AllowUnauthenticatedNetwork) return null;
        return $"refusing to listen on {Listen} without a password: anyone who can reach this address could run commands on this machine.\n" +
               "Set a password first with `paseo daemon set-password` (or the PASEO_PASSWORD environment variable), " +
               "listen on a loopback address such as 127.0.0.1:6767, or pass --allow-unauthenticated-network if something else guards this address.";
    }

    public bool ExposedWithoutPassword => !Listen.IsLocalOnly && !PasswordConfigured;

    private static int ParsePortVariable(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is >= 0 and <= 65535
            ? p
            : throw new ConfigException($"the environment variable PORT: expected a port number (0-65535), got \"{value}\"");

    private static HostnamesSetting ParseHostnamesVariable(string? value)
    {
        if (value is null) return HostnamesSetting.None;
        return value.Trim().Equals("true", StringComparison.OrdinalIgnoreCase)
            ? new HostnamesSetting(true, [])
            : new HostnamesSetting(false, SplitList(value));
    }

    private static List<string> SplitList(string? value) =>
        value is null ? [] : value.Split(',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    public static bool ParseBoolVariable(string name, string value) => value.Trim().ToLowerInvariant() switch
    {
        "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new ConfigException($"the environment variable {name}: expected 1/true/yes/on or 0/false/no/off, got \"{value}\""),
    };
}
