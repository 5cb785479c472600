using System.Text;
using System.Text.Json.Nodes;
using Paseo.Host.Cli.Agents;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Client;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Chat;

/// <summary>
/// `paseo chat create|ls|inspect|delete|post|read|wait` (app-orchestration.md §5): Paseo's commands, flags, columns and
/// exit codes. One difference: `chat wait` without --timeout waits until a message comes (Paseo's client gives up after
/// 10 s and fails); the daemon drops the wait when the command is stopped.
/// </summary>
public sealed class ChatCommands(AgentCommands connection, IReadOnlyDictionary<string, string?> env)
{
    // Paseo's client timeouts (§0): 10 s per request; a wait gets its timeout + 10 s.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public Task<int> CreateAsync(CliContext context, string name, string? purpose) => connection.WithClient(context, async client =>
    {
        var request = new JsonObject { ["name"] = name };
        if (!string.IsNullOrWhiteSpace(purpose)) request["purpose"] = purpose;
        var room = (JsonObject)(await client.RequestAsync("chat/create", request, RequestTimeout))["room"]!;
        PrintRoom(context, room);
        return 0;
    });

    public Task<int> ListAsync(CliContext context) => connection.WithClient(context, async client =>
    {
        var rooms = (await client.RequestAsync("chat/list", null, RequestTimeout))["rooms"]!.AsArray().OfType<JsonObject>().Select(RoomRow).ToList();
        context.Output.List(rooms, RoomColumns, r => Str(r, "id"));
        return 0;
    });

    public Task<int> InspectAsync(CliContext context, string room) => OneRoomAsync(context, "chat/inspect", room);

    public Task<int> DeleteAsync(CliContext context, string room) => OneRoomAsync(context, "chat/delete", room);

    private Task<int> OneRoomAsync(CliContext context, string type, string room) => connection.WithClient(context, async client =>
    {
        PrintRoom(context, (JsonObject)(await client.RequestAsync(type, new JsonObject { ["room"] = room }, RequestTimeout))["room"]!);
        return 0;
    });

    public Task<int> PostAsync(CliContext context, string room, string message, string? replyTo) => connection.WithClient(context, async client =>
    {
        // Inside an agent, the daemon set PASEO_AGENT_ID in its environment: the post is that agent's.
        var author = env.GetValueOrDefault("PASEO_AGENT_ID")?.Trim() is { Length: > 0 } agent ? agent : "manual";
        var request = new JsonObject { ["room"] = room, ["body"] = message, ["authorAgentId"] = author };
        if (!string.IsNullOrWhiteSpace(replyTo)) request["replyToMessageId"] = replyTo;
        var posted = (JsonObject)(await client.RequestAsync("chat/post", request, RequestTimeout))["message"]!;
        var rows = await MessageRowsAsync(client, [posted]);
        if (context.Output.Quiet) context.Output.Out.WriteLine(Str(rows[0], "id"));
        else if (context.Output.Structured) context.Output.Data(rows[0]);
        else context.Output.Out.Write(Transcript(rows));
        return 0;
    });

    public Task<int> ReadAsync(CliContext context, string room, string? limit, string? since, string? agent) => connection.Guard(context, () =>
    {
        var request = new JsonObject { ["room"] = room };
        if (limit is not null)
            request["limit"] = int.TryParse(limit, out var n) && n >= 0 ? n : throw new CliException("INVALID_LIMIT", $"--limit {limit}: expected a whole number, 0 or more");
        if (since is not null) request["since"] = SinceIso(since);
        if (!string.IsNullOrWhiteSpace(agent)) request["authorAgentId"] = agent;
        return connection.WithClient(context, async client =>
        {
            var messages = (await client.RequestAsync("chat/read", request, RequestTimeout))["messages"]!.AsArray().OfType<JsonObject>().ToList();
            PrintMessages(context, await MessageRowsAsync(client, messages));
            return 0;
        });
    });

    public Task<int> WaitAsync(CliContext context, string room, string? timeout, CancellationToken cancel) => connection.Guard(context, () =>
    {
        TimeSpan? limit = null;
        if (timeout is not null)
        {
            var parsed = Durations.Orchestration(timeout, "INVALID_TIMEOUT");
            limit = parsed > TimeSpan.Zero ? parsed : throw new CliException("INVALID_TIMEOUT", $"--timeout {timeout}: expected a duration above zero, such as 30s or 5m");
        }
        return connection.WithClient(context, async client =>
        {
            // The newest message is the cursor: only what is posted after it is printed.
            var newest = (await client.RequestAsync("chat/read", new JsonObject { ["room"] = room, ["limit"] = 1 }, RequestTimeout))["messages"]!.AsArray();
            var request = new JsonObject { ["room"] = room };
            if (newest.Count > 0) request["afterMessageId"] = Str((JsonObject)newest[0]!, "id");
            if (limit is { } l) request["timeoutMs"] = (long)l.TotalMilliseconds;
            JsonObject reply;
            try
            {
                reply = await client.RequestAsync("chat/wait", request, limit is { } w ? w + RequestTimeout : Timeout.InfiniteTimeSpan, cancel);
            }
            catch (OperationCanceledException)
            {
                return 130; // Ctrl-C: the daemon drops the wait when this connection closes
            }
            var messages = reply["messages"]!.AsArray().OfType<JsonObject>().ToList();
            if (messages.Count > 0) PrintMessages(context, await MessageRowsAsync(client, messages));
            return 0;
        });
    });

    private static string SinceIso(string since)
    {
        // A duration (§2.3) is "that long ago"; anything else must read as a date.
        try
        {
            return IsoTime.Format(DateTimeOffset.UtcNow - Durations.Orchestration(since, "INVALID_SINCE"));
        }
        catch (CliException) when (IsoTime.TryParse(since, out var at))
        {
            return IsoTime.Format(at);
        }
    }

    private static readonly Column[] RoomColumns =
    [
        new("NAME", r => Str(r, "name")), new("ID", r => Str(r, "id")), new("PURPOSE", r => Str(r, "purpose")),
        new("MESSAGES", r => r["messages"]?.ToString() ?? "0"), new("LAST MESSAGE", r => Str(r, "lastMessageAt")),
    ];

    private static JsonObject RoomRow(JsonObject room) => new()
    {
        ["name"] = Str(room, "name"), ["id"] = Str(room, "id"), ["purpose"] = WsInbound.Str(room, "purpose") ?? "-",
        ["messages"] = room["messageCount"]?.GetValue<int>() ?? 0, ["lastMessageAt"] = WsInbound.Str(room, "lastMessageAt") ?? "-",
    };

    /// <summary>One room as §5's room row: a one-row table, the row object as JSON/YAML, its id with -q.</summary>
    private static void PrintRoom(CliContext context, JsonObject room)
    {
        var row = RoomRow(room);
        if (context.Output.Quiet) context.Output.Out.WriteLine(Str(row, "id"));
        else if (context.Output.Structured) context.Output.Data(row);
        else context.Output.List([row], RoomColumns, r => Str(r, "id"));
    }

    private static void PrintMessages(CliContext context, IReadOnlyList<JsonObject> rows)
    {
        if (context.Output.Quiet)
        {
            foreach (var row in rows) context.Output.Out.WriteLine(Str(row, "id"));
            return;
        }
        if (context.Output.Structured)
        {
            context.Output.Data(new JsonArray([.. rows.Select(r => (JsonNode)r)]));
            return;
        }
        context.Output.Out.Write(Transcript(rows));
    }

    /// <summary>Messages as §5's rows: the author's and mentions' agent titles from one fetch_agents (archived included).</summary>
    private static async Task<IReadOnlyList<JsonObject>> MessageRowsAsync(DaemonClient client, IReadOnlyList<JsonObject> messages)
    {
        var titles = new Dictionary<string, string>();
        try
        {
            var agents = await client.RequestAsync("fetch_agents_request", new JsonObject { ["filter"] = new JsonObject { ["includeArchived"] = true } }, RequestTimeout);
            foreach (var entry in agents["entries"]?.AsArray().OfType<JsonObject>() ?? [])
                if (entry["agent"] is JsonObject agent && WsInbound.Str(agent, "id") is { } id && WsInbound.Str(agent, "title") is { Length: > 0 } title)
                    titles[id] = title;
        }
        catch (DaemonRequestException)
        {
            // Names are a nicety: the ids are printed anyway.
        }
        return messages.Select(m =>
        {
            var author = Str(m, "authorAgentId");
            var mentions = m["mentionAgentIds"]?.AsArray().Select(x => x!.GetValue<string>()).ToList() ?? [];
            return new JsonObject
            {
                ["id"] = Str(m, "id"), ["author"] = author, ["authorName"] = titles.GetValueOrDefault(author), ["createdAt"] = Str(m, "createdAt"),
                ["replyTo"] = WsInbound.Str(m, "replyToMessageId") ?? "-",
                ["mentionAgentIds"] = new JsonArray([.. mentions.Select(x => (JsonNode?)JsonValue.Create(x))]),
                ["mentionLabels"] = new JsonArray([.. mentions.Select(x => (JsonNode?)JsonValue.Create(titles.TryGetValue(x, out var t) ? $"{t} ({x})" : x))]),
                ["body"] = Str(m, "body"),
            };
        }).ToList();
    }

    /// <summary>One block per message (§5), blank lines between blocks.</summary>
    public static string Transcript(IReadOnlyList<JsonObject> rows)
    {
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            if (text.Length > 0) text.Append('\n');
            var author = Str(row, "author");
            var who = WsInbound.Str(row, "authorName") is { } name ? $"{name} ({author})" : author;
            var time = Str(row, "createdAt").Replace('T', ' ');
            if (time.EndsWith(".000Z", StringComparison.Ordinal)) time = time[..^5] + "Z";
            text.Append("┌─ ").Append(who).Append(" ── ").Append(time).Append(" ── [msg ").Append(Str(row, "id")).Append("]\n");
            if (Str(row, "replyTo") is var replyTo && replyTo != "-") text.Append("│  reply-to: msg ").Append(replyTo).Append('\n');
            var labels = row["mentionLabels"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
            if (labels.Count > 0) text.Append("│  mentions: ").Append(string.Join(", ", labels)).Append('\n');
            text.Append("│\n");
            foreach (var line in Str(row, "body").Split('\n')) text.Append("│  ").Append(line).Append('\n');
            text.Append("│\n└─\n");
        }
        return text.ToString();
    }

    private static string Str(JsonObject o, string key) => WsInbound.Str(o, key) ?? "";
}
