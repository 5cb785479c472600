using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Loops;

/// <summary>What a loop asks of each iteration's worker and verifier (app-orchestration.md §3.1), fixed when it is made.</summary>
public sealed record LoopSettings(
    string? Name, string Prompt, string Cwd, string Provider, string? Model, string? WorkerProvider, string? WorkerModel,
    string? VerifierProvider, string? VerifierModel, string? VerifyPrompt, IReadOnlyList<string> VerifyChecks, bool Archive,
    long SleepMs, long? MaxIterations, long? MaxTimeMs)
{
    public string WorkerProviderOrDefault => WorkerProvider ?? Provider;
    public string? WorkerModelOrDefault => WorkerModel ?? Model;
    public string VerifierProviderOrDefault => VerifierProvider ?? Provider;
    public string? VerifierModelOrDefault => VerifierModel ?? Model;
}

/// <summary>One shell check's result (§3.1 CheckResult).</summary>
public sealed record CheckResult(string Command, int ExitCode, bool Passed, string Stdout, string Stderr, string StartedAt, string CompletedAt)
{
    public JsonObject ToJson() => new()
    {
        ["command"] = Command, ["exitCode"] = ExitCode, ["passed"] = Passed, ["stdout"] = Stdout, ["stderr"] = Stderr,
        ["startedAt"] = StartedAt, ["completedAt"] = CompletedAt,
    };

    public static CheckResult FromJson(JsonObject json) => new(StoredJson.Required(json, "command"), LoopJson.Int(json, "exitCode"),
        LoopJson.Bool(json, "passed"), StoredJson.Required(json, "stdout"), StoredJson.Required(json, "stderr"),
        StoredJson.Required(json, "startedAt"), StoredJson.Required(json, "completedAt"));
}

/// <summary>The verifier agent's verdict (§3.1 VerifierResult).</summary>
public sealed record VerifierResult(bool Passed, string Reason, string? VerifierAgentId, string StartedAt, string CompletedAt)
{
    public JsonObject ToJson() => new()
    {
        ["passed"] = Passed, ["reason"] = Reason, ["verifierAgentId"] = VerifierAgentId, ["startedAt"] = StartedAt, ["completedAt"] = CompletedAt,
    };

    public static VerifierResult FromJson(JsonObject json) => new(LoopJson.Bool(json, "passed"), StoredJson.Required(json, "reason"),
        StoredJson.Nullable(json, "verifierAgentId"), StoredJson.Required(json, "startedAt"), StoredJson.Required(json, "completedAt"));
}

/// <summary>One iteration: a worker's run, then its checks and verdict (§3.1 Iteration).</summary>
public sealed record LoopIteration(
    int Index, string? WorkerAgentId, string WorkerStartedAt, string? WorkerCompletedAt, string? VerifierAgentId, string Status,
    string? WorkerOutcome, string? FailureReason, ImmutableList<CheckResult> VerifyChecks, VerifierResult? VerifyPrompt)
{
    public static LoopIteration Start(int index, string now) =>
        new(index, null, now, null, null, LoopStatus.Running, null, null, [], null);

    public JsonObject ToJson() => new()
    {
        ["index"] = Index, ["workerAgentId"] = WorkerAgentId, ["workerStartedAt"] = WorkerStartedAt, ["workerCompletedAt"] = WorkerCompletedAt,
        ["verifierAgentId"] = VerifierAgentId, ["status"] = Status, ["workerOutcome"] = WorkerOutcome, ["failureReason"] = FailureReason,
        ["verifyChecks"] = new JsonArray([.. VerifyChecks.Select(c => (JsonNode)c.ToJson())]), ["verifyPrompt"] = VerifyPrompt?.ToJson(),
    };

    public static LoopIteration FromJson(JsonObject json) => new(
        LoopJson.Int(json, "index"), StoredJson.Nullable(json, "workerAgentId"), StoredJson.Required(json, "workerStartedAt"),
        StoredJson.Nullable(json, "workerCompletedAt"), StoredJson.Nullable(json, "verifierAgentId"),
        StoredJson.OneOf(StoredJson.Required(json, "status"), LoopStatus.All, "an iteration's status"),
        StoredJson.Nullable(json, "workerOutcome") is { } outcome ? StoredJson.OneOf(outcome, ["completed", "failed", "canceled"], "workerOutcome") : null,
        StoredJson.Nullable(json, "failureReason"),
        [.. LoopJson.Objects(json, "verifyChecks").Select(CheckResult.FromJson)],
        json["verifyPrompt"] is JsonObject verdict ? VerifierResult.FromJson(verdict) : null);
}

/// <summary>One line of a loop's log (§3.1 LogEntry). Sources: loop, worker, verifier, verify-check; levels info, error.</summary>
public sealed record LoopLogEntry(long Seq, string Timestamp, int? Iteration, string Source, string Level, string Text)
{
    public JsonObject ToJson() => new()
    {
        ["seq"] = Seq, ["timestamp"] = Timestamp, ["iteration"] = Iteration, ["source"] = Source, ["level"] = Level, ["text"] = Text,
    };

    public static LoopLogEntry FromJson(JsonObject json) => new(
        LoopJson.Long(json, "seq"), StoredJson.Required(json, "timestamp"), json["iteration"] is null ? null : LoopJson.Int(json, "iteration"),
        StoredJson.OneOf(StoredJson.Required(json, "source"), ["loop", "worker", "verifier", "verify-check"], "a log entry's source"),
        StoredJson.OneOf(StoredJson.Required(json, "level"), ["info", "error"], "a log entry's level"), StoredJson.Required(json, "text"));
}

/// <summary>A loop's and an iteration's status.</summary>
public static class LoopStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Stopped = "stopped";
    public static readonly string[] All = [Running, Succeeded, Failed, Stopped];
}

/// <summary>
/// A loop as stored and sent (§3.1): its settings, status, iterations and log. Immutable: each change is a new record
/// (the lists are persistent, so a new log line costs O(log n), not a copy), which the loop's actor hands to the store
/// and to whoever asks without either seeing it change.
/// </summary>
public sealed record Loop(
    string Id, LoopSettings Settings, string Status, string CreatedAt, string UpdatedAt, string? CompletedAt, string? StopRequestedAt,
    ImmutableList<LoopIteration> Iterations, ImmutableList<LoopLogEntry> Logs, long NextLogSeq, int? ActiveIteration,
    string? ActiveWorkerAgentId, string? ActiveVerifierAgentId)
{
    /// <summary>Ids are the first 8 hex digits of a UUID, as Paseo's.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N")[..8];

    public static Loop Create(string id, LoopSettings settings, string now) =>
        new(id, settings, LoopStatus.Running, now, now, null, null, [], [], 1, null, null, null);

    /// <summary>The name or the id: what worker and verifier titles start with.</summary>
    public string Label => Settings.Name ?? Id;

    public bool IsRunning => Status == LoopStatus.Running;

    /// <summary>
    /// A new log line; beyond <paramref name="maxEntries"/> lines, or <paramref name="maxChars"/> characters of text, the
    /// oldest lines go (their seqs are not reused, so a cursor still means "after this line"). The newest line stays.
    /// </summary>
    public Loop Log(string now, int? iteration, string source, string level, string text, int maxEntries, long maxChars = long.MaxValue)
    {
        var logs = Logs.Add(new LoopLogEntry(NextLogSeq, now, iteration, source, level, text));
        if (logs.Count > maxEntries) logs = logs.RemoveRange(0, logs.Count - maxEntries);
        if (maxChars < long.MaxValue)
        {
            var total = logs.Sum(e => (long)e.Text.Length);
            var drop = 0;
            while (total > maxChars && drop < logs.Count - 1) total -= logs[drop++].Text.Length;
            if (drop > 0) logs = logs.RemoveRange(0, drop);
        }
        return this with { Logs = logs, NextLogSeq = NextLogSeq + 1, UpdatedAt = now };
    }

    /// <summary>The active (last) iteration changed.</summary>
    public Loop WithIteration(Func<LoopIteration, LoopIteration> change, string now) =>
        Iterations.IsEmpty ? this : this with { Iterations = Iterations.SetItem(Iterations.Count - 1, change(Iterations[^1])), UpdatedAt = now };

    public LoopIteration? Current => Iterations.IsEmpty ? null : Iterations[^1];

    /// <summary>The loop ended: its status, its end time, no active iteration or agent.</summary>
    public Loop Finish(string status, string now) => this with
    {
        Status = status, CompletedAt = now, UpdatedAt = now, ActiveIteration = null, ActiveWorkerAgentId = null, ActiveVerifierAgentId = null,
    };

    /// <summary>The log lines after <paramref name="afterSeq"/>.</summary>
    public IEnumerable<LoopLogEntry> LogsAfter(long afterSeq) => Logs.Where(e => e.Seq > afterSeq);

    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["name"] = Settings.Name, ["prompt"] = Settings.Prompt, ["cwd"] = Settings.Cwd, ["provider"] = Settings.Provider,
        ["model"] = Settings.Model, ["workerProvider"] = Settings.WorkerProvider, ["workerModel"] = Settings.WorkerModel,
        ["verifierProvider"] = Settings.VerifierProvider, ["verifierModel"] = Settings.VerifierModel, ["verifyPrompt"] = Settings.VerifyPrompt,
        ["verifyChecks"] = new JsonArray([.. Settings.VerifyChecks.Select(c => (JsonNode?)JsonValue.Create(c))]), ["archive"] = Settings.Archive,
        ["sleepMs"] = Settings.SleepMs, ["maxIterations"] = Settings.MaxIterations, ["maxTimeMs"] = Settings.MaxTimeMs,
        ["status"] = Status, ["createdAt"] = CreatedAt, ["updatedAt"] = UpdatedAt, ["startedAt"] = CreatedAt, ["completedAt"] = CompletedAt,
        ["stopRequestedAt"] = StopRequestedAt, ["iterations"] = new JsonArray([.. Iterations.Select(i => (JsonNode)i.ToJson())]),
        ["logs"] = new JsonArray([.. Logs.Select(e => (JsonNode)e.ToJson())]), ["nextLogSeq"] = NextLogSeq, ["activeIteration"] = ActiveIteration,
        ["activeWorkerAgentId"] = ActiveWorkerAgentId, ["activeVerifierAgentId"] = ActiveVerifierAgentId,
    };

    /// <summary>The row of loop/list (§3.1 ListItem).</summary>
    public JsonObject ToListItem() => new()
    {
        ["id"] = Id, ["name"] = Settings.Name, ["status"] = Status, ["cwd"] = Settings.Cwd, ["createdAt"] = CreatedAt, ["updatedAt"] = UpdatedAt,
        ["activeIteration"] = ActiveIteration,
    };

    public static Loop FromJson(JsonObject json)
    {
        var nextLogSeq = LoopJson.Long(json, "nextLogSeq");
        if (nextLogSeq < 1) throw new FormatException("\"nextLogSeq\" must be above 0");
        return new Loop(
            StoredJson.Required(json, "id"),
            new LoopSettings(StoredJson.Nullable(json, "name"), StoredJson.Required(json, "prompt"), StoredJson.Required(json, "cwd"),
                StoredJson.Required(json, "provider"), StoredJson.Nullable(json, "model"), StoredJson.Nullable(json, "workerProvider"),
                StoredJson.Nullable(json, "workerModel"), StoredJson.Nullable(json, "verifierProvider"), StoredJson.Nullable(json, "verifierModel"),
                StoredJson.Nullable(json, "verifyPrompt"),
                json["verifyChecks"] is JsonArray checks
                    ? checks.Select(c => c is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException("\"verifyChecks\" must hold strings")).ToList()
                    : throw new FormatException("\"verifyChecks\" must be an array"),
                json["archive"] is null ? false : LoopJson.Bool(json, "archive"), json["sleepMs"] is null ? 0 : LoopJson.Long(json, "sleepMs"),
                json["maxIterations"] is null ? null : LoopJson.Long(json, "maxIterations"), json["maxTimeMs"] is null ? null : LoopJson.Long(json, "maxTimeMs")),
            StoredJson.OneOf(StoredJson.Required(json, "status"), LoopStatus.All, "a loop's status"),
            StoredJson.Required(json, "createdAt"), StoredJson.Required(json, "updatedAt"), StoredJson.Nullable(json, "completedAt"),
            StoredJson.Nullable(json, "stopRequestedAt"),
            [.. LoopJson.Objects(json, "iterations").Select(LoopIteration.FromJson)],
            [.. LoopJson.Objects(json, "logs").Select(LoopLogEntry.FromJson)],
            nextLogSeq,
            json["activeIteration"] is null ? null : LoopJson.Int(json, "activeIteration"),
            StoredJson.Nullable(json, "activeWorkerAgentId"), StoredJson.Nullable(json, "activeVerifierAgentId"));
    }
}

/// <summary>The number and list fields of the stored loop records.</summary>
internal static class LoopJson
{
    public static long Long(JsonObject json, string key) => json[key] switch
    {
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonValue v when v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
        _ => throw new FormatException($"\"{key}\" must be an integer"),
    };

    public static int Int(JsonObject json, string key) => Long(json, key) is var l and >= int.MinValue and <= int.MaxValue ? (int)l : throw new FormatException($"\"{key}\" is out of range");

    public static bool Bool(JsonObject json, string key) =>
        json[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : throw new FormatException($"\"{key}\" must be true or false");

    public static IEnumerable<JsonObject> Objects(JsonObject json, string key) =>
        json[key] is JsonArray array
            ? array.Select(item => item as JsonObject ?? throw new FormatException($"\"{key}\" must hold objects"))
            : throw new FormatException($"\"{key}\" must be an array");
}
