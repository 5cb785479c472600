using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>worktree ls|create|archive, agent reload, import.</summary>
public sealed partial class AgentCommands
{
    private static readonly TimeSpan WorktreeTimeout = TimeSpan.FromSeconds(60);

    private static string RepoDirectory(string? cwd)
    {
        var path = Path.GetFullPath(cwd ?? Environment.CurrentDirectory);
        return System.IO.Directory.Exists(path) ? path : throw new CliException("INVALID_CWD", $"--cwd {path}: no such directory");
    }

    private static string ErrorText(JsonNode? error) => error is JsonObject e ? WsInbound.Str(e, "message") ?? e.ToJsonString() : error?.ToString() ?? "failed";

    public Task<int> WorktreeListAsync(CliContext context, string? cwd) => Guard(context, () =>
    {
        var directory = RepoDirectory(cwd);
        return WithClient(context, async client =>
        {
            var response = await client.RequestAsync("paseo_worktree_list_request", new JsonObject { ["cwd"] = directory }, WorktreeTimeout);
            if (response["error"] is JsonObject error) throw new CliException(WsInbound.Str(error, "code") ?? "WORKTREE_LIST_FAILED", ErrorText(error));
            var rows = response["worktrees"]!.AsArray().OfType<JsonObject>().Select(w => (JsonObject)w.DeepClone()).ToList();
            context.Output.List(rows,
            [
                new Column("BRANCH", r => Str(r, "branchName", "(detached)")),
                new Column("PATH", r => HomeShortened(Str(r, "worktreePath"))),
                new Column("HEAD", r => Str(r, "head", "-") is var h && h.Length > 7 ? h[..7] : Str(r, "head", "-")),
                new Column("CREATED", r => Ago(Str(r, "createdAt"))),
            ], r => Str(r, "worktreePath"));
            return 0;
        });
    });

    public Task<int> WorktreeCreateAsync(CliContext context, string? name, string? cwd, string? baseBranch, CancellationToken cancel) => Guard(context, () =>
    {
        var directory = RepoDirectory(cwd);
        return WithClient(context, async client =>
        {
            var request = new JsonObject { ["cwd"] = directory, ["action"] = "branch-off" };
            if (name is not null) request["worktreeSlug"] = name;
            if (baseBranch is not null) request["refName"] = baseBranch;
            var response = await client.RequestAsync("create_paseo_worktree_request", request, WorktreeTimeout, cancel);
            if (response["workspace"] is not JsonObject workspace)
                throw new CliException(WsInbound.Str(response, "errorCode")?.ToUpperInvariant() ?? "WORKTREE_CREATE_FAILED", WsInbound.Str(response, "error") ?? "the worktree was not created");
            var path = Str(workspace, "id");
            // The setup runs in the daemon; its end is pushed to this session.
            var setup = await WaitForSetupAsync(client, path, cancel);
            var record = new JsonObject { ["worktreePath"] = path, ["branchName"] = Str(workspace, "name"), ["setup"] = setup };
            context.Output.Record(record, [("Worktree", path), ("Branch", Str(workspace, "name")), ("Setup", setup)], path);
            return setup == "failed" ? 1 : 0;
        });
    });

    private static async Task<string> WaitForSetupAsync(Paseo.Transport.Client.DaemonClient client, string workspaceId, CancellationToken cancel)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(TimeSpan.FromMinutes(30));
        try
        {
            await foreach (var message in client.Pushes.ReadAllAsync(limit.Token))
            {
                if (WsInbound.Str(message, "type") != "workspace_setup_progress" || message["payload"] is not JsonObject payload) continue;
                if (WsInbound.Str(payload, "workspaceId") != workspaceId) continue;
                var status = WsInbound.Str(payload, "status");
                if (status == "failed") Console.Error.WriteLine(WsInbound.Str(payload, "error"));
                if (status is "completed" or "failed") return status;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return "unknown";
    }

    public Task<int> WorktreeArchiveAsync(CliContext context, string target, string? cwd, bool force) => Guard(context, () =>
    {
        var request = new JsonObject { ["force"] = force };
        if (target.Contains('/')) request["worktreePath"] = Path.GetFullPath(target);
        else
        {
            request["repoRoot"] = RepoDirectory(cwd);
            request["branchName"] = target;
        }
        return WithClient(context, async client =>
        {
            var response = await client.RequestAsync("paseo_worktree_archive_request", request, WorktreeTimeout, responseType: "paseo_worktree_archive_response");
            if (response["success"]?.GetValue<bool>() != true)
                throw new CliException(WsInbound.Str(response["error"] as JsonObject ?? [], "code") ?? "WORKTREE_ARCHIVE_FAILED", ErrorText(response["error"]));
            var removed = response["removedAgents"] as JsonArray ?? [];
            context.Output.Record(new JsonObject { ["archived"] = target, ["removedAgents"] = removed.DeepClone() },
                [("Archived", target), ("Agents deleted", removed.Count == 0 ? "none" : string.Join(", ", removed.Select(a => Short(a!.GetValue<string>()))))], target);
            return 0;
        });
    });

    public Task<int> ReloadAsync(CliContext context, string query) => WithClient(context, async client =>
    {
        var agent = await ResolveAsync(client, query);
        var response = await client.RequestAsync("refresh_agent_request", new JsonObject { ["agentId"] = Id(agent) }, CommandTimeout);
        Report(context, [new JsonObject { ["id"] = WsInbound.Str(response, "agentId") ?? Id(agent) }], "Reloaded");
        return 0;
    });

    public Task<int> ImportAsync(CliContext context, string sessionId, string? provider, string? cwd, IReadOnlyList<string> labels) => Guard(context, () =>
    {
        if (string.IsNullOrWhiteSpace(provider)) throw new CliException("MISSING_PROVIDER", "import: --provider is required");
        var request = new JsonObject { ["provider"] = provider, ["sessionId"] = sessionId };
        if (cwd is not null) request["cwd"] = RepoDirectory(cwd);
        var parsed = Labels(labels);
        if (parsed.Count > 0) request["labels"] = new JsonObject(parsed.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value)));
        return WithClient(context, async client =>
        {
            var response = await client.RequestAsync("import_agent_request", request, CommandTimeout);
            if (WsInbound.Str(response, "status") != "agent_resumed") throw new CliException("IMPORT_FAILED", WsInbound.Str(response, "error") ?? "the session was not imported");
            Report(context, [new JsonObject { ["id"] = WsInbound.Str(response, "agentId") }], "Imported");
            return 0;
        });
    });
}
