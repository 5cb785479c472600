using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Host.Daemon;
using Paseo.Transport.Client;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Files;

namespace Paseo.Host.Cli;

/// <summary>
/// The agent commands of `paseo` (app-protocol.md §7): a <see cref="DaemonClient"/> to the daemon found from `--host`,
/// PASEO_HOST, the pid file, or the default; no actor system. `ls` for now.
/// </summary>
public sealed class AgentCommands(IReadOnlyDictionary<string, string?> env, TextWriter stdout, TextWriter stderr)
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(10);

    public async Task<int> ListAsync(string? host, string? homeFlag, bool all, IReadOnlyList<string> labels, bool json, bool quiet)
    {
        var labelFilter = new JsonObject();
        foreach (var label in labels)
        {
            var at = label.IndexOf('=');
            if (at <= 0) return Fail(json, "INVALID_LABEL", $"--label {label}: expected key=value", 1);
            labelFilter[label[..at]] = label[(at + 1)..];
        }
        return await WithClientAsync(host, homeFlag, json, async client =>
        {
            var request = new JsonObject();
            if (all) request["filter"] = new JsonObject { ["includeArchived"] = true };
            else request["scope"] = "active";
            if (labelFilter.Count > 0)
            {
                var filter = request["filter"] as JsonObject ?? new JsonObject();
                filter["labels"] = labelFilter;
                request["filter"] = filter;
            }
            JsonObject response;
            try
            {
                response = await client.RequestAsync("fetch_agents_request", request, ListTimeout);
            }
            catch (DaemonRequestException e)
            {
                return Fail(json, "LIST_AGENTS_FAILED", e.Message, 1);
            }
            var agents = response["entries"]!.AsArray().Select(e => (JsonObject)e!["agent"]!)
                .Where(a => all || a["archivedAt"] is null)
                // Running first, then idle, then the rest; newest first within each.
                .OrderBy(a => Str(a, "status") switch { "running" => 0, "idle" => 1, _ => 2 })
                .ThenByDescending(a => Str(a, "createdAt"), StringComparer.Ordinal)
                .ToList();
            if (quiet)
            {
                foreach (var agent in agents) await stdout.WriteLineAsync(Str(agent, "id"));
                return 0;
            }
            var rows = agents.Select(Row).ToList();
            if (json)
            {
                await stdout.WriteLineAsync(new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["id"] = r.Id, ["shortId"] = r.ShortId, ["name"] = r.Name, ["provider"] = r.Provider, ["thinking"] = r.Thinking,
                    ["status"] = r.Status, ["cwd"] = r.Cwd, ["created"] = r.Created,
                }).ToArray()).ToJsonString());
                return 0;
            }
            await stdout.WriteAsync(Table(["AGENT ID", "NAME", "PROVIDER", "THINKING", "STATUS", "CWD", "CREATED"],
                rows.Select(r => new[] { r.ShortId, r.Name, r.ProviderLabel, r.Thinking, r.Status, HomeShortened(r.Cwd), Ago(r.Created) }).ToList()));
            return 0;
        });
    }

    private sealed record ListRow(string Id, string ShortId, string Name, string Provider, string ProviderLabel, string Thinking, string Status, string Cwd, string Created);

    private static ListRow Row(JsonObject agent)
    {
        var id = Str(agent, "id");
        var model = agent["runtimeInfo"]?["model"] is JsonValue m && m.TryGetValue<string>(out var rm) ? rm : Str(agent, "model", null!);
        var provider = Str(agent, "provider");
        return new ListRow(id, id.Length > 7 ? id[..7] : id, Str(agent, "title", "-"), provider, model is null ? provider : $"{provider}/{model}",
            Str(agent, "effectiveThinkingOptionId", "auto"), Str(agent, "status"), Str(agent, "cwd"), Str(agent, "createdAt"));
    }

    private static string Str(JsonObject obj, string key, string fallback = "") =>
        obj[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : fallback;

    private string HomeShortened(string path)
    {
        var home = env.GetValueOrDefault("HOME");
        return !string.IsNullOrEmpty(home) && path.StartsWith(home, StringComparison.Ordinal) ? "~" + path[home.Length..] : path;
    }

    private static string Ago(string iso)
    {
        if (!DateTimeOffset.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return iso;
        var age = DateTimeOffset.UtcNow - at;
        return age.TotalSeconds < 60 ? "just now"
            : age.TotalMinutes < 60 ? $"{(int)age.TotalMinutes}m ago"
            : age.TotalHours < 24 ? $"{(int)age.TotalHours}h ago"
            : $"{(int)age.TotalDays}d ago";
    }

    private static string Table(string[] headers, List<string[]> rows)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells) =>
            text.Append(string.Join("  ", cells.Select((c, i) => i == cells.Count - 1 ? c : c.PadRight(widths[i])))).Append('\n');
        Line(headers);
        foreach (var row in rows) Line(row);
        return text.ToString();
    }

    /// <summary>Finds the daemon, connects (hello → server_info) and runs the command; an unreachable daemon is DAEMON_NOT_RUNNING.</summary>
    private async Task<int> WithClientAsync(string? hostFlag, string? homeFlag, bool json, Func<DaemonClient, Task<int>> command)
    {
        var home = PaseoHome.Resolve(homeFlag, env);
        DaemonTarget target;
        try
        {
            target = Discover(hostFlag, home);
        }
        catch (FormatException e)
        {
            return Fail(json, "INVALID_HOST", e.Message, 1);
        }
        DaemonClient client;
        try
        {
            client = await DaemonClient.ConnectAsync(target, ClientId(home), DaemonServer.Version, ConnectTimeout);
        }
        catch (DaemonUnreachableException e)
        {
            return Fail(json, "DAEMON_NOT_RUNNING", e.Message, 1);
        }
        await using (client) return await command(client);
    }

    private DaemonTarget Discover(string? hostFlag, PaseoHome home)
    {
        var explicitHost = !string.IsNullOrWhiteSpace(hostFlag) ? hostFlag : env.GetValueOrDefault("PASEO_HOST");
        if (!string.IsNullOrWhiteSpace(explicitHost)) return DaemonTarget.Parse(explicitHost);
        if (PidFile.ReadRunning(home.PidFile) is { } running) return DaemonTarget.Parse(running.Listen);
        return DaemonTarget.Parse("127.0.0.1:6767");
    }

    /// <summary>`$PASEO_HOME/cli-client-id` (`cid_` + 32 hex), created 0600 on first use, so the daemon sees one CLI session.</summary>
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

    private int Fail(bool json, string code, string message, int exitCode)
    {
        if (json) stdout.WriteLine(JsonSerializer.Serialize(new { error = new { code, message } }));
        else stderr.WriteLine($"paseo: {message}");
        return exitCode;
    }
}
