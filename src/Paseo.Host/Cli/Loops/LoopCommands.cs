using System.Text.Json.Nodes;
using Paseo.Host.Cli.Agents;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Client;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Loops;

/// <summary>
/// `paseo loop run|ls|inspect|logs|stop` (app-orchestration.md §5): Paseo's commands, flags, rows and codes. Unlike
/// Paseo's client, `--archive` is sent (Paseo's drops it), and `--worker-provider` / `--worker-model` reach the
/// request's worker fields, which Paseo's CLI cannot set; `--cwd` names the directory (Paseo's: the shell's only).
/// </summary>
public sealed class LoopCommands(AgentCommands connection)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    // As Paseo's client: loop/run 15 s. A stop waits for the loop to end; here that is quick (a running check is killed).
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    public sealed record RunOptions(string Prompt, string? Provider, string? Model, string? WorkerProvider, string? WorkerModel, string? VerifyProvider,
        string? VerifyModel, string? Verify, IReadOnlyList<string> VerifyChecks, bool Archive, string? Name, string? Sleep, string? MaxIterations, string? MaxTime,
        string? Cwd = null);

    public Task<int> RunAsync(CliContext context, RunOptions o) => connection.Guard(context, () =>
    {
        var request = new JsonObject { ["prompt"] = o.Prompt, ["cwd"] = Path.GetFullPath(o.Cwd ?? Environment.CurrentDirectory) };
        if (o.Prompt.Trim().Length == 0) throw new CliException("INVALID_PROMPT", "The loop's prompt is empty");
        AddProvider(request, "provider", "model", o.Provider, o.Model);
        AddProvider(request, "workerProvider", "workerModel", o.WorkerProvider, o.WorkerModel);
        AddProvider(request, "verifierProvider", "verifierModel", o.VerifyProvider, o.VerifyModel);
        if (o.Verify is not null)
            request["verifyPrompt"] = o.Verify.Trim() is { Length: > 0 } verify ? verify : throw new CliException("INVALID_VERIFY_PROMPT", "--verify is empty");
        if (o.VerifyChecks.Count > 0)
        {
            if (o.VerifyChecks.Any(c => c.Trim().Length == 0)) throw new CliException("INVALID_VERIFY_CHECK", "--verify-check is empty");
            request["verifyChecks"] = new JsonArray([.. o.VerifyChecks.Select(c => (JsonNode?)JsonValue.Create(c.Trim()))]);
        }
        if (o.Archive) request["archive"] = true;
        if (!string.IsNullOrWhiteSpace(o.Name)) request["name"] = o.Name.Trim();
        if (o.Sleep is not null) request["sleepMs"] = (long)Durations.Orchestration(o.Sleep, "INVALID_DURATION").TotalMilliseconds;
        if (o.MaxIterations is not null)
            request["maxIterations"] = int.TryParse(o.MaxIterations, out var max) && max > 0
                ? max : throw new CliException("INVALID_MAX_ITERATIONS", $"--max-iterations {o.MaxIterations}: expected a whole number above 0");
        if (o.MaxTime is not null)
            request["maxTimeMs"] = (long)Durations.Orchestration(o.MaxTime, "INVALID_DURATION").TotalMilliseconds is var ms and > 0
                ? ms : throw new CliException("INVALID_DURATION", $"--max-time {o.MaxTime}: the time must be above zero");
        return connection.WithClient(context, async client =>
        {
            // A daemon error keeps its own code here (§5 renames it for ls, inspect and stop only).
            var loop = (JsonObject)(await client.RequestAsync("loop/run", request, RunTimeout))["loop"]!;
            var row = new JsonObject { ["id"] = Str(loop, "id"), ["status"] = Str(loop, "status"), ["name"] = WsInbound.Str(loop, "name"), ["cwd"] = Str(loop, "cwd") };
            Print(context, row, [new("LOOP ID", r => Str(r, "id")), new("STATUS", r => Str(r, "status")), new("NAME", r => WsInbound.Str(r, "name") ?? "-"), new("CWD", r => Str(r, "cwd"))]);
            return 0;
        });
    });

    /// <summary>`p` or `p/m`; an explicit model flag wins over the `/m` part.</summary>
    private static void AddProvider(JsonObject request, string providerKey, string modelKey, string? provider, string? model)
    {
        string? fromProvider = null;
        if (!string.IsNullOrWhiteSpace(provider))
        {
            var slash = provider.IndexOf('/');
            request[providerKey] = slash < 0 ? provider.Trim() : provider[..slash].Trim();
            if (slash >= 0 && provider[(slash + 1)..].Trim() is { Length: > 0 } m) fromProvider = m;
        }
        if ((string.IsNullOrWhiteSpace(model) ? fromProvider : model.Trim()) is { } chosen) request[modelKey] = chosen;
    }

    public Task<int> ListAsync(CliContext context) => connection.WithClient(context, async client =>
    {
        var loops = (await Failing("LOOP_LIST_FAILED", () => client.RequestAsync("loop/list", null, RequestTimeout)))["loops"]!.AsArray().OfType<JsonObject>()
            .Select(l => new JsonObject
            {
                ["id"] = Str(l, "id"), ["name"] = WsInbound.Str(l, "name"), ["status"] = Str(l, "status"), ["cwd"] = Str(l, "cwd"), ["updated"] = Str(l, "updatedAt"),
                ["activeIteration"] = l["activeIteration"] is JsonValue n ? n.ToJsonString() : "-",
            }).ToList();
        context.Output.List(loops,
        [
            new("LOOP ID", r => Str(r, "id")), new("NAME", r => WsInbound.Str(r, "name") ?? "-"), new("STATUS", r => Str(r, "status")),
            new("ITER", r => Str(r, "activeIteration")), new("CWD", r => Str(r, "cwd")), new("UPDATED", r => Str(r, "updated")),
        ], r => Str(r, "id"));
        return 0;
    });

    public Task<int> InspectAsync(CliContext context, string id) => connection.WithClient(context, async client =>
    {
        var loop = (JsonObject)(await Failing("LOOP_INSPECT_FAILED", () => client.RequestAsync("loop/inspect", new JsonObject { ["id"] = id }, RequestTimeout)))["loop"]!;
        string Value(string key) => loop[key] is null ? "null" : loop[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : loop[key]!.ToJsonString();
        var checks = (loop["verifyChecks"] as JsonArray ?? []).Select(c => c?.GetValue<string>() ?? "").ToList();
        var iterations = (loop["iterations"] as JsonArray ?? []).OfType<JsonObject>().Select(i =>
            $"#{i["index"]} {Str(i, "status")}" + (WsInbound.Str(i, "workerAgentId") is { } w ? $" worker={w}" : "") +
            (WsInbound.Str(i, "verifierAgentId") is { } v ? $" verifier={v}" : "") + (WsInbound.Str(i, "failureReason") is { } r ? $" reason={r}" : ""));
        context.Output.Record((JsonObject)loop.DeepClone(),
        [
            ("Id", Value("id")), ("Name", Value("name")), ("Status", Value("status")), ("Cwd", Value("cwd")), ("Provider", Value("provider")), ("Model", Value("model")),
            ("WorkerProvider", Value("workerProvider")), ("WorkerModel", Value("workerModel")), ("VerifierProvider", Value("verifierProvider")),
            ("VerifierModel", Value("verifierModel")), ("Prompt", Value("prompt")), ("VerifyPrompt", Value("verifyPrompt")),
            ("VerifyChecks", checks.Count == 0 ? "[]" : string.Join(" | ", checks)), ("Archive", Value("archive")), ("SleepMs", Value("sleepMs")),
            ("MaxIterations", Value("maxIterations")), ("MaxTimeMs", Value("maxTimeMs")), ("CreatedAt", Value("createdAt")), ("UpdatedAt", Value("updatedAt")),
            ("CompletedAt", Value("completedAt")), ("Iterations", string.Join(" | ", iterations)),
        ], Str(loop, "id"));
        return 0;
    });

    /// <summary>Prints the log from the start, then polls with the cursor until the loop is no longer running.</summary>
    public Task<int> LogsAsync(CliContext context, string id, string? pollInterval, CancellationToken cancel) => connection.Guard(context, () =>
    {
        var interval = TimeSpan.FromMilliseconds(1000);
        if (pollInterval is not null)
            interval = int.TryParse(pollInterval, out var ms) && ms > 0 ? TimeSpan.FromMilliseconds(ms)
                : throw new CliException("INVALID_POLL_INTERVAL", $"--poll-interval {pollInterval}: expected milliseconds above 0");
        return connection.WithClient(context, async client =>
        {
            long cursor = 0;
            while (true)
            {
                var answer = await Failing("LOOP_LOGS_FAILED", () => client.RequestAsync("loop/logs", new JsonObject { ["id"] = id, ["afterSeq"] = cursor }, RequestTimeout, cancel),
                    "Failed to stream loop logs: ");
                foreach (var entry in answer["entries"]!.AsArray().OfType<JsonObject>())
                {
                    context.Output.Out.WriteLine($"{Str(entry, "timestamp")} {Str(entry, "source")}" +
                        (entry["iteration"] is JsonValue n ? $" iteration={n.ToJsonString()}" : "") + (Str(entry, "level") == "error" ? " ERROR" : ""));
                    context.Output.Out.WriteLine(Str(entry, "text"));
                }
                cursor = answer["nextCursor"]!.GetValue<long>();
                if (Str((JsonObject)answer["loop"]!, "status") != "running") return 0;
                await Task.Delay(interval, cancel);
            }
        });
    });

    public Task<int> StopAsync(CliContext context, string id) => connection.WithClient(context, async client =>
    {
        var loop = (JsonObject)(await Failing("LOOP_STOP_FAILED", () => client.RequestAsync("loop/stop", new JsonObject { ["id"] = id }, StopTimeout)))["loop"]!;
        var row = new JsonObject { ["id"] = Str(loop, "id"), ["status"] = Str(loop, "status"), ["activeIteration"] = loop["activeIteration"]?.DeepClone() };
        Print(context, row, [new("LOOP ID", r => Str(r, "id")), new("STATUS", r => Str(r, "status")), new("ITER", r => r["activeIteration"]?.ToJsonString() ?? "-")]);
        return 0;
    });

    /// <summary>A daemon error under the command's own code (§5: LOOP_*_FAILED), its text kept.</summary>
    private static async Task<JsonObject> Failing(string code, Func<Task<JsonObject>> request, string prefix = "")
    {
        try
        {
            return await request();
        }
        catch (DaemonRequestException e)
        {
            throw new CliException(code, prefix + e.Message);
        }
    }

    private static void Print(CliContext context, JsonObject row, Column[] columns)
    {
        if (context.Output.Quiet) context.Output.Out.WriteLine(Str(row, "id"));
        else if (context.Output.Structured) context.Output.Data(row);
        else context.Output.List([row], columns, r => Str(r, "id"));
    }

    private static string Str(JsonObject o, string key) => WsInbound.Str(o, key) ?? "";
}
