using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Client;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>Where the daemon is (`--host`, or found from `--home`) and how to print.</summary>
public sealed record CliContext(string? Host, string? Home, CliOutput Output);

/// <summary>
/// The agent commands of `paseo` (app-protocol.md §7). Each finds the daemon (--host, PASEO_HOST, PASEO_LISTEN, the pid
/// file's listen address, config.json's daemon.listen, 127.0.0.1:6767), connects with a <see cref="DaemonClient"/> — directly, or through the relay with end-to-end
/// encryption for a pairing link — and sends the same requests as Paseo's CLI. No actor system: the CLI starts fast.
/// </summary>
public sealed partial class AgentCommands(IReadOnlyDictionary<string, string?> env)
{
    // Client timeouts of Paseo's CLI (§7).
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);
    // As Paseo's client: a provider may start a server to list its models (the daemon gives up at 40 s, list-models-timeout).
    private static readonly TimeSpan ListModelsTimeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(60);

    // Not our assembly's version: the Paseo release whose protocol we speak (a Paseo daemon hides providers from clients it deems legacy).
    private static readonly string AppVersion = PaseoCompatibility.ProtocolVersion;

    /// <summary>Runs a command: validation and daemon errors become the format's error output and exit 1.</summary>
    internal async Task<int> Guard(CliContext context, Func<Task<int>> command)
    {
        try
        {
            return await command();
        }
        catch (CliException e)
        {
            return context.Output.Error(e);
        }
        catch (DaemonRequestException e)
        {
            return context.Output.Error(new CliException(e.Code, e.Message));
        }
    }

    /// <summary>Finds the daemon, connects (hello → server_info) and runs the command; an unreachable daemon is DAEMON_NOT_RUNNING.</summary>
    internal Task<int> WithClient(CliContext context, Func<DaemonClient, Task<int>> command) => Guard(context, async () =>
    {
        var home = PaseoHome.Resolve(context.Home, env);
        DaemonTarget target;
        try
        {
            target = Discover(context.Host, home);
        }
        catch (FormatException e)
        {
            throw new CliException("INVALID_HOST", e.Message);
        }
        DaemonClient client;
        try
        {
            client = await DaemonClient.ConnectAsync(target, ClientId(home), AppVersion, ConnectTimeout);
        }
        catch (DaemonUnreachableException e)
        {
            throw new CliException(e.Code, e.Message);
        }
        await using (client) return await command(client);
    });

    private DaemonTarget Discover(string? hostFlag, PaseoHome home)
    {
        var explicitHost = !string.IsNullOrWhiteSpace(hostFlag) ? hostFlag : env.GetValueOrDefault("PASEO_HOST");
        if (!string.IsNullOrWhiteSpace(explicitHost)) return DaemonTarget.Parse(explicitHost);
        if (env.GetValueOrDefault("PASEO_LISTEN") is { Length: > 0 } listen) return DaemonTarget.Parse(listen);
        if (PidFile.ReadReady(home.PidFile, ConnectTimeout) is { } running) return DaemonTarget.Parse(running.Listen);
        if (ConfiguredListen(home) is { } configured) return DaemonTarget.Parse(configured);
        return DaemonTarget.Parse("127.0.0.1:6767");
    }

    /// <summary>`daemon.listen` of config.json (a daemon started by systemd leaves no pid file the CLI can read, say).</summary>
    private static string? ConfiguredListen(PaseoHome home)
    {
        try
        {
            return File.Exists(home.ConfigJson) && JsonNode.Parse(File.ReadAllText(home.ConfigJson))?["daemon"]?["listen"] is JsonValue v
                   && v.TryGetValue<string>(out var listen) && !string.IsNullOrWhiteSpace(listen) ? listen : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return null; // the daemon reports a broken config itself; the CLI falls back to the default address
        }
    }

    /// <summary>`$PASEO_HOME/cli-client-id` (`cid_` + 32 hex), created 0600 on first use, so the daemon sees one CLI client.</summary>
    private static string ClientId(PaseoHome home)
    {
        var path = Path.Combine(home.Root, "cli-client-id");
        try
        {
            if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 4 } existing) return existing;
            home.EnsureExists();
            var id = "cid_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            PrivateFiles.WriteAtomically(path, id + "\n");
            return id;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "cid_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        }
    }

    /// <summary>Every agent the daemon knows, archived included (client-side id resolution needs them all).</summary>
    private static async Task<List<JsonObject>> FetchAllAsync(DaemonClient client, JsonObject? filter = null)
    {
        var request = new JsonObject { ["filter"] = filter ?? new JsonObject() };
        request["filter"]!["includeArchived"] = true;
        JsonObject response;
        try
        {
            response = await client.RequestAsync("fetch_agents_request", request, FetchTimeout);
        }
        catch (DaemonRequestException e)
        {
            throw new CliException("LIST_AGENTS_FAILED", e.Message);
        }
        return response["entries"]!.AsArray().Select(e => (JsonObject)e!["agent"]!.DeepClone()).ToList();
    }

    private static async Task<JsonObject> ResolveAsync(DaemonClient client, string query) => AgentIds.Resolve(await FetchAllAsync(client), query);

    private static string Id(JsonObject agent) => WsInbound.Str(agent, "id") ?? "";

    private static string Short(string id) => id.Length > 7 ? id[..7] : id;

    private static string Str(JsonObject obj, string key, string fallback = "") => WsInbound.Str(obj, key) ?? fallback;

    private static Dictionary<string, string> Labels(IReadOnlyList<string> labels)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            var at = label.IndexOf('=');
            if (at <= 0) throw new CliException("INVALID_LABEL", $"--label {label}: expected key=value");
            result[label[..at]] = label[(at + 1)..];
        }
        return result;
    }

    private string HomeShortened(string path)
    {
        var home = env.GetValueOrDefault("HOME");
        return !string.IsNullOrEmpty(home) && path.StartsWith(home, StringComparison.Ordinal) ? "~" + path[home.Length..] : path;
    }

    private static string Ago(string iso)
    {
        if (!DateTimeOffset.TryParse(iso, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)) return iso;
        var age = DateTimeOffset.UtcNow - at;
        return age.TotalSeconds < 60 ? "just now"
            : age.TotalMinutes < 60 ? $"{(int)age.TotalMinutes}m ago"
            : age.TotalHours < 24 ? $"{(int)age.TotalHours}h ago"
            : $"{(int)age.TotalDays}d ago";
    }

    private static string? StatusStyle(string status) => status switch
    {
        "running" => CliOutput.Green,
        "idle" => CliOutput.Blue,
        "error" => CliOutput.Red,
        "closed" => CliOutput.Grey,
        _ => null,
    };
}
