using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Git;

namespace Paseo.Transport.Workspaces;

/// <summary>A `scripts.&lt;name&gt;` entry of paseo.json (app-workspaces.md §2.9): a plain script, or a service with a port the daemon proxies.</summary>
public sealed record ScriptDefinition(string Name, string Command, bool IsService, int? Port);

/// <summary>A script as the app sees it (app-workspaces.md §2.4 `Script`).</summary>
public sealed record ScriptState(string Name, bool IsService, string Hostname, int? Port, string? ProxyUrl, string Lifecycle, int? ExitCode, string? TerminalId)
{
    public JsonObject ToJson() => new()
    {
        ["scriptName"] = Name, ["type"] = IsService ? "service" : "script", ["hostname"] = Hostname, ["port"] = IsService ? Port : null,
        ["proxyUrl"] = ProxyUrl, ["lifecycle"] = Lifecycle, ["health"] = null, ["exitCode"] = ExitCode, ["terminalId"] = TerminalId,
    };
}

/// <summary>paseo.json's scripts, read leniently as Paseo does (invalid entries ignored; a file that does not parse is an error).</summary>
public static class WorkspaceScripts
{
    public static (IReadOnlyList<ScriptDefinition> Scripts, string? Error) Read(string cwd)
    {
        var path = Path.Combine(cwd, ProjectConfigFile.FileName);
        if (!File.Exists(path)) return ([], null);
        JsonNode? config;
        try
        {
            if (Files.UnixFiles.IsRegularFile(path) != true) return ([], $"Failed to parse paseo.json at {path}: not a regular file");
            if (new FileInfo(path).Length > ProjectConfigFile.MaxBytes) return ([], $"Failed to parse paseo.json at {path}: larger than {ProjectConfigFile.MaxBytes} bytes");
            config = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return ([], $"Failed to parse paseo.json at {path}: {e.Message}");
        }
        if (config?["scripts"] is not JsonObject scripts) return ([], null);
        var result = new List<ScriptDefinition>();
        foreach (var (name, entry) in scripts)
        {
            if (entry is not JsonObject e || e["command"] is not JsonValue c || !c.TryGetValue<string>(out var command) || command.Trim().Length == 0) continue;
            var service = e["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "service";
            int? port = service && e["port"] is JsonValue p && p.TryGetValue<int>(out var n) && n is > 0 and < 65536 ? n : null;
            result.Add(new ScriptDefinition(name, command, service, port));
        }
        return (result.OrderBy(s => s.Name, NaturalOrder.Instance).ToList(), null);
    }

    /// <summary>`&lt;script&gt;.&lt;branch&gt;.&lt;project&gt;.localhost` for a service (the branch left out when null, main or master); the name for a script.</summary>
    public static string Hostname(ScriptDefinition script, string? branch, string project)
    {
        if (!script.IsService) return script.Name;
        var labels = new List<string> { WorktreeNames.Slugify(script.Name) };
        if (branch is not null and not ("main" or "master")) labels.Add(WorktreeNames.Slugify(branch.Replace('/', '-')));
        labels.Add(WorktreeNames.Slugify(project));
        return string.Join('.', labels.Where(l => l.Length > 0)) + ".localhost";
    }

    /// <summary>`PASEO_SERVICE_&lt;NAME&gt;_PORT`'s NAME: upper-cased, anything not alphanumeric as `_`.</summary>
    public static string EnvName(string script) => new(script.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());

    /// <summary>Numeric-aware, case-insensitive order ("web2" before "web10").</summary>
    private sealed class NaturalOrder : IComparer<string>
    {
        public static readonly NaturalOrder Instance = new();

        public int Compare(string? x, string? y) => string.Compare(Key(x!), Key(y!), StringComparison.Ordinal);

        private static string Key(string s) => System.Text.RegularExpressions.Regex.Replace(s.ToLowerInvariant(), @"\d+", m => m.Value.PadLeft(10, '0'));
    }
}

/// <summary>
/// The daemon's reverse-proxy table for workspace services: `&lt;hostname&gt;` → a loopback port, filled by the scripts actor,
/// read by the front door for every request whose Host is one of them. Also where the front door says which TCP port it
/// bound (services get `PASEO_URL` from it).
/// </summary>
public sealed class ScriptRoutes
{
    private readonly ConcurrentDictionary<string, int> _routes = new(StringComparer.OrdinalIgnoreCase);

    public int? DaemonPort { get; set; }
    public bool Loopback { get; set; } = true;

    public void Set(string hostname, int port) => _routes[hostname] = port;
    public void Remove(string hostname) => _routes.TryRemove(hostname, out _);
    public int? PortOf(string host) => _routes.TryGetValue(host, out var port) ? port : null;
    public bool Any => !_routes.IsEmpty;
}
