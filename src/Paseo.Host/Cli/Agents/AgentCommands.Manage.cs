using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>ls, inspect, stop, archive, delete, agent mode.</summary>
public sealed partial class AgentCommands
{
    public Task<int> ListAsync(CliContext context, bool all, IReadOnlyList<string> labels) => WithClient(context, async client =>
    {
        var labelFilter = Labels(labels);
        var request = new JsonObject();
        if (all) request["filter"] = new JsonObject { ["includeArchived"] = true };
        else request["scope"] = "active";
        if (labelFilter.Count > 0)
        {
            var filter = request["filter"] as JsonObject ?? new JsonObject();
            filter["labels"] = new JsonObject(labelFilter.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value)));
            request["filter"] = filter;
        }
        JsonObject response;
        try
        {
            response = await client.RequestAsync("fetch_agents_request", request, FetchTimeout);
        }
        catch (Paseo.Transport.Client.DaemonRequestException e)
        {
            throw new CliException("LIST_AGENTS_FAILED", e.Message);
        }
        var agents = response["entries"]!.AsArray().Select(e => (JsonObject)e!["agent"]!)
            .Where(a => all || a["archivedAt"] is null)
            // Running first, then idle, then the rest; newest first within each.
            .OrderBy(a => Str(a, "status") switch { "running" => 0, "idle" => 1, _ => 2 })
            .ThenByDescending(a => Str(a, "createdAt"), StringComparer.Ordinal)
            .Select(ListRow)
            .ToList();
        context.Output.List(agents,
        [
            new Column("AGENT ID", r => Str(r, "shortId")),
            new Column("NAME", r => Str(r, "name")),
            new Column("PROVIDER", r => Str(r, "provider")),
            new Column("THINKING", r => Str(r, "thinking")),
            new Column("STATUS", r => Str(r, "status"), StatusStyle),
            new Column("CWD", r => HomeShortened(Str(r, "cwd"))),
            new Column("CREATED", r => Ago(Str(r, "created"))),
        ], r => Str(r, "id"));
        return 0;
    });

    /// <summary>The `paseo ls --json` record of Paseo's CLI: {id, shortId, name, provider, thinking, status, cwd, created}.</summary>
    private static JsonObject ListRow(JsonObject agent)
    {
        var id = Id(agent);
        var model = agent["runtimeInfo"]?["model"] is JsonValue m && m.TryGetValue<string>(out var rm) ? rm : WsInbound.Str(agent, "model");
        var provider = Str(agent, "provider");
        return new JsonObject
        {
            ["id"] = id,
            ["shortId"] = Short(id),
            ["name"] = Str(agent, "title", "-"),
            ["provider"] = model is null ? provider : $"{provider}/{model}",
            ["thinking"] = Str(agent, "effectiveThinkingOptionId", "auto"),
            ["status"] = Str(agent, "status"),
            ["cwd"] = Str(agent, "cwd"),
            ["created"] = Str(agent, "createdAt"),
        };
    }

    public Task<int> InspectAsync(CliContext context, string query) => WithClient(context, async client =>
    {
        var agent = await ResolveAsync(client, query);
        var response = await client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = Id(agent) }, FetchTimeout);
        if (response["agent"] is not JsonObject snap)
            throw new CliException("AGENT_NOT_FOUND", WsInbound.Str(response, "error") ?? $"Agent not found: {query}");
        var pending = snap["pendingPermissions"] as JsonArray ?? [];
        var labels = snap["labels"] as JsonObject ?? [];
        context.Output.Record(snap,
        [
            ("Id", Id(snap)),
            ("Name", Str(snap, "title", "-")),
            ("Provider", Str(snap, "provider")),
            ("Model", Str(snap, "model", "-")),
            ("Mode", Str(snap, "currentModeId", "-")),
            ("Status", Str(snap, "status")),
            ("Cwd", Str(snap, "cwd")),
            ("Created", Str(snap, "createdAt")),
            ("Updated", Str(snap, "updatedAt")),
            ("Archived", Str(snap, "archivedAt", "no")),
            ("Labels", labels.Count == 0 ? "-" : string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}"))),
            ("Pending permissions", pending.Count == 0 ? "none" : string.Join(", ", pending.Select(p => $"{WsInbound.Str((JsonObject)p!, "id")} ({WsInbound.Str((JsonObject)p!, "title")})"))),
            ("Last error", Str(snap, "lastError", "-")),
        ], Id(snap));
        return 0;
    });

    public Task<int> StopAsync(CliContext context, string? query, bool all, string? cwd) => WithClient(context, async client =>
    {
        if (query is null && !all) throw new CliException("MISSING_AGENT", "stop: give an agent id, or --all");
        if (query is not null && all) throw new CliException("INVALID_ARGUMENTS", "stop: give an agent id or --all, not both");
        var agents = await FetchAllAsync(client);
        var targets = all
            ? agents.Where(a => a["archivedAt"] is null && Str(a, "status") == "running" && InCwd(a, cwd)).ToList()
            : [AgentIds.Resolve(agents, query!)];
        var stopped = new List<JsonObject>();
        foreach (var agent in targets)
        {
            var response = await client.RequestAsync("cancel_agent_request", new JsonObject { ["agentId"] = Id(agent) }, CommandTimeout);
            stopped.Add(new JsonObject { ["id"] = Id(agent), ["status"] = response["agent"] is JsonObject after ? Str(after, "status") : "unknown" });
        }
        Report(context, stopped, "Stopped");
        return 0;
    });

    public Task<int> ArchiveAsync(CliContext context, string query, bool force) => WithClient(context, async client =>
    {
        var agent = await ResolveAsync(client, query);
        if (Str(agent, "status") == "running" && !force)
            throw new CliException("AGENT_RUNNING", $"agent {Short(Id(agent))} is running; stop it first or archive with --force (which interrupts it)");
        var response = await client.RequestAsync("archive_agent_request", new JsonObject { ["agentId"] = Id(agent) }, FetchTimeout);
        Report(context, [new JsonObject { ["id"] = Id(agent), ["archivedAt"] = WsInbound.Str(response, "archivedAt") }], "Archived");
        return 0;
    });

    public Task<int> DeleteAsync(CliContext context, string? query, bool all, string? cwd) => WithClient(context, async client =>
    {
        if (query is null && !all) throw new CliException("MISSING_AGENT", "delete: give an agent id, or --all");
        if (query is not null && all) throw new CliException("INVALID_ARGUMENTS", "delete: give an agent id or --all, not both");
        var agents = await FetchAllAsync(client);
        var targets = all ? agents.Where(a => InCwd(a, cwd)).ToList() : [AgentIds.Resolve(agents, query!)];
        var deleted = new List<JsonObject>();
        foreach (var agent in targets)
        {
            await client.RequestAsync("delete_agent_request", new JsonObject { ["agentId"] = Id(agent) }, CommandTimeout);
            deleted.Add(new JsonObject { ["id"] = Id(agent) });
        }
        Report(context, deleted, "Deleted");
        return 0;
    });

    public Task<int> ModeAsync(CliContext context, string query, string? mode, bool list) => WithClient(context, async client =>
    {
        var agent = await ResolveAsync(client, query);
        if (mode is null || list)
        {
            var current = WsInbound.Str(agent, "currentModeId");
            var modes = (agent["availableModes"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(m => new JsonObject
                {
                    ["id"] = Str(m, "id"), ["label"] = Str(m, "label"), ["description"] = Str(m, "description"), ["current"] = Str(m, "id") == current,
                }).ToList();
            context.Output.List(modes,
            [
                new Column("MODE", m => Str(m, "id")),
                new Column("LABEL", m => Str(m, "label")),
                new Column("CURRENT", m => m["current"]!.GetValue<bool>() ? "*" : ""),
                new Column("DESCRIPTION", m => Str(m, "description")),
            ], m => Str(m, "id"));
            return 0;
        }
        var response = await client.RequestAsync("set_agent_mode_request", new JsonObject { ["agentId"] = Id(agent), ["modeId"] = mode }, CommandTimeout);
        if (response["accepted"]?.GetValue<bool>() != true)
            throw new CliException("SET_MODE_FAILED", WsInbound.Str(response, "error") ?? $"the daemon refused mode {mode}");
        Report(context, [new JsonObject { ["id"] = Id(agent), ["mode"] = mode }], $"Mode {mode} set for");
        return 0;
    });

    private static bool InCwd(JsonObject agent, string? cwd) =>
        cwd is null || string.Equals(Str(agent, "cwd").TrimEnd('/'), Path.GetFullPath(cwd).TrimEnd('/'), StringComparison.Ordinal);

    /// <summary>What a command acted on: ids with -q, the records as JSON/YAML, else "Verb abc1234" lines.</summary>
    private static void Report(CliContext context, List<JsonObject> records, string verb)
    {
        var output = context.Output;
        if (output.Quiet)
        {
            foreach (var record in records) output.Out.WriteLine(Str(record, "id"));
        }
        else if (output.Structured)
        {
            output.Data(new JsonArray(records.Select(r => (JsonNode)r).ToArray()));
        }
        else if (records.Count == 0)
        {
            output.Out.WriteLine("No agents matched.");
        }
        else
        {
            foreach (var record in records) output.Out.WriteLine($"{verb} {Short(Str(record, "id"))}");
        }
    }
}
