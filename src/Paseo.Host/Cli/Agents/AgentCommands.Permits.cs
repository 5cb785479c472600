using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>permit ls|allow|deny, provider ls|models.</summary>
public sealed partial class AgentCommands
{
    public Task<int> PermitListAsync(CliContext context, string? query) => WithClient(context, async client =>
    {
        var agents = await FetchAllAsync(client);
        var scope = query is null ? agents.Where(a => a["archivedAt"] is null).ToList() : [AgentIds.Resolve(agents, query)];
        var rows = scope.SelectMany(agent => Pending(agent).Select(p =>
        {
            var row = new JsonObject
            {
                ["agentId"] = Id(agent),
                ["requestId"] = Str(p, "id"),
                ["name"] = Str(p, "name"),
                ["kind"] = Str(p, "kind"),
                ["title"] = Str(p, "title"),
                ["input"] = p["input"]?.DeepClone(),
            };
            // What a question or a plan carries beyond a tool's input (the choices a client shows).
            foreach (var extra in new[] { "description", "actions", "metadata" })
                if (p[extra] is { } value) row[extra] = value.DeepClone();
            return row;
        })).ToList();
        context.Output.List(rows,
        [
            new Column("AGENT ID", r => Short(Str(r, "agentId"))),
            new Column("REQUEST ID", r => Str(r, "requestId")),
            new Column("TOOL", r => Str(r, "name")),
            new Column("TITLE", r => Str(r, "title")),
        ], r => Str(r, "requestId"));
        return 0;
    });

    public Task<int> PermitAsync(CliContext context, string query, string? requestId, bool all, bool allow, string? input, string? message, bool interrupt)
    {
        return Guard(context, () =>
        {
            JsonObject? updatedInput = null;
            if (input is not null)
            {
                try
                {
                    updatedInput = JsonNode.Parse(input) as JsonObject ?? throw new JsonException("not an object");
                }
                catch (JsonException)
                {
                    throw new CliException("INVALID_INPUT", "--input: expected a JSON object, for example '{\"command\":\"ls\"}'");
                }
            }
            return WithClient(context, async client =>
            {
                var agent = await ResolveAsync(client, query);
                var pending = Pending(agent).ToList();
                List<JsonObject> chosen;
                if (requestId is not null)
                {
                    var match = pending.Where(p => Str(p, "id") == requestId).ToList();
                    if (match.Count == 0) match = pending.Where(p => Str(p, "id").StartsWith(requestId, StringComparison.Ordinal)).ToList();
                    if (match.Count != 1)
                        throw new CliException("PERMISSION_NOT_FOUND", $"agent {Short(Id(agent))} has no single pending permission {requestId}");
                    chosen = match;
                }
                else if (pending.Count == 0)
                {
                    throw new CliException("NO_PENDING_PERMISSION", $"agent {Short(Id(agent))} has no pending permission");
                }
                else if (pending.Count > 1 && !all)
                {
                    throw new CliException("AMBIGUOUS_PERMISSION",
                        $"agent {Short(Id(agent))} has {pending.Count} pending permissions: give a request id or --all");
                }
                else
                {
                    chosen = pending;
                }
                var resolved = new List<JsonObject>();
                foreach (var permission in chosen)
                {
                    var response = new JsonObject { ["behavior"] = allow ? "allow" : "deny" };
                    if (allow && updatedInput is not null) response["updatedInput"] = updatedInput.DeepClone();
                    if (!allow && message is not null) response["message"] = message;
                    if (!allow && interrupt) response["interrupt"] = true;
                    // No direct reply: the daemon broadcasts agent_permission_resolved with the permission's id (or an rpc_error).
                    await client.RequestAsync("agent_permission_response",
                        new JsonObject { ["agentId"] = Id(agent), ["response"] = response }, CommandTimeout, requestId: Str(permission, "id"));
                    resolved.Add(new JsonObject { ["id"] = Id(agent), ["requestId"] = Str(permission, "id"), ["behavior"] = allow ? "allow" : "deny" });
                }
                var output = context.Output;
                if (output.Quiet) foreach (var r in resolved) output.Out.WriteLine(Str(r, "requestId"));
                else if (output.Structured) output.Data(new JsonArray(resolved.Select(r => (JsonNode)r).ToArray()));
                else foreach (var r in resolved) output.Out.WriteLine($"{(allow ? "Allowed" : "Denied")} {Str(r, "requestId")} for {Short(Id(agent))}");
                return 0;
            });
        });
    }

    private static IEnumerable<JsonObject> Pending(JsonObject agent) => (agent["pendingPermissions"] as JsonArray ?? []).OfType<JsonObject>();

    public Task<int> ProviderListAsync(CliContext context) => WithClient(context, async client =>
    {
        var response = await client.RequestAsync("get_providers_snapshot_request", new JsonObject(), FetchTimeout);
        var rows = (response["entries"] as JsonArray ?? []).OfType<JsonObject>().Select(e => (JsonObject)e.DeepClone()).ToList();
        context.Output.List(rows,
        [
            new Column("PROVIDER", e => Str(e, "provider")),
            new Column("LABEL", e => Str(e, "label")),
            new Column("STATUS", e => Str(e, "status"), s => s == "ready" ? CliOutput.Green : CliOutput.Yellow),
            new Column("ENABLED", e => e["enabled"]?.GetValue<bool>() == true ? "yes" : "no"),
            new Column("DEFAULT MODE", e => Str(e, "defaultModeId", "-")),
            new Column("MODES", e => string.Join(",", (e["modes"] as JsonArray ?? []).OfType<JsonObject>().Select(m => Str(m, "id")))),
            new Column("VERSION", e => Str(e, "version", "-")),
            new Column("ERROR", e => Str(e, "error", "")),
        ], e => Str(e, "provider"));
        return 0;
    });

    public Task<int> ProviderModelsAsync(CliContext context, string provider, string? cwd) => WithClient(context, async client =>
    {
        var request = new JsonObject { ["provider"] = provider };
        if (cwd is not null) request["cwd"] = Path.GetFullPath(cwd);
        var response = await client.RequestAsync("list_provider_models_request", request, ListModelsTimeout);
        if (WsInbound.Str(response, "error") is { } error)
        {
            if (response["models"] is not JsonArray) throw new CliException("PROVIDER_NOT_FOUND", error);
            // The provider could not say (its server did not answer): the configured models, and why.
            context.Output.Err.WriteLine($"paseo: {error}");
        }
        var rows = (response["models"] as JsonArray ?? []).OfType<JsonObject>().Select(m => (JsonObject)m.DeepClone()).ToList();
        context.Output.List(rows,
        [
            new Column("MODEL", m => Str(m, "id")),
            new Column("LABEL", m => Str(m, "label")),
            new Column("DEFAULT", m => m["isDefault"] is JsonValue d && d.TryGetValue<bool>(out var isDefault) && isDefault ? "*" : ""),
        ], m => Str(m, "id"));
        return 0;
    });
}
