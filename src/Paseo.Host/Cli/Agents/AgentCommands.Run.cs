using System.Text.Json.Nodes;
using Paseo.Host.Cli.Output;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Cli.Agents;

/// <summary>The arguments of `paseo run`.</summary>
public sealed record RunOptions(
    string Prompt,
    string? Provider,
    string? Model,
    string? Mode,
    string? Thinking,
    string? Title,
    bool Detach,
    IReadOnlyList<string> Images,
    string? Cwd,
    IReadOnlyList<string> Labels,
    string? WaitTimeout,
    string? OutputSchema,
    string? Worktree = null);

/// <summary>run, send, wait: start or continue a turn, then wait for the agent to finish.</summary>
public sealed partial class AgentCommands
{
    // Image attachments are read whole and sent base64 in one frame: bounded, well under the daemon's frame limit.
    private const long MaxImageBytes = 10 * 1024 * 1024;

    public Task<int> RunAsync(CliContext context, RunOptions options)
    {
        // Everything that can be checked without the daemon is checked first: a typo never creates an agent.
        return Guard(context, () =>
        {
            if (string.IsNullOrWhiteSpace(options.Provider))
                throw new CliException("MISSING_PROVIDER", "run: --provider is required (for example --provider claude or --provider codex/gpt-5)");
            if (string.IsNullOrWhiteSpace(options.Prompt)) throw new CliException("MISSING_PROMPT", "run: a prompt is required");
            var slash = options.Provider.IndexOf('/');
            var provider = slash < 0 ? options.Provider : options.Provider[..slash];
            var model = options.Model ?? (slash < 0 ? null : options.Provider[(slash + 1)..]);
            var labels = Labels(options.Labels);
            var images = LoadImages(options.Images);
            var timeout = options.WaitTimeout is null ? (TimeSpan?)null : Durations.Parse(options.WaitTimeout, "--wait-timeout");
            var schema = options.OutputSchema is null ? null : OutputSchema.Load(options.OutputSchema);
            var cwd = Path.GetFullPath(options.Cwd ?? Environment.CurrentDirectory);
            if (!Directory.Exists(cwd)) throw new CliException("INVALID_CWD", $"--cwd {cwd}: no such directory");

            return WithClient(context, async client =>
            {
                var config = new JsonObject { ["provider"] = provider, ["cwd"] = cwd };
                if (options.Mode is not null) config["modeId"] = options.Mode;
                if (model is not null) config["model"] = model;
                if (options.Thinking is not null) config["thinkingOptionId"] = options.Thinking;
                if (options.Title is not null) config["title"] = options.Title;
                var request = new JsonObject
                {
                    ["config"] = config,
                    ["initialPrompt"] = options.Prompt,
                    ["labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
                };
                if (images.Count > 0) request["images"] = images;
                if (options.Worktree is { Length: > 0 } worktree) request["worktreeName"] = worktree;
                if (schema is not null) request["outputSchema"] = schema.Document.DeepClone();
                var created = await client.RequestAsync("create_agent_request", request, CreateTimeout);
                if (WsInbound.Str(created, "status") != "agent_created")
                    throw new CliException(WsInbound.Str(created, "errorCode") ?? "AGENT_CREATE_FAILED", WsInbound.Str(created, "error") ?? "the daemon could not create the agent");
                var agentId = WsInbound.Str(created, "agentId")!;
                if (options.Detach)
                {
                    var agent = created["agent"] as JsonObject;
                    context.Output.Record(new JsonObject { ["agentId"] = agentId, ["status"] = agent is null ? "running" : Str(agent, "status") },
                        [("Agent", agentId), ("Status", agent is null ? "running" : Str(agent, "status"))], agentId);
                    return 0;
                }
                return await FinishAsync(context, client, agentId, timeout, schema);
            });
        });
    }

    public Task<int> SendAsync(CliContext context, string query, string? prompt, string? promptFlag, string? promptFile, IReadOnlyList<string> imagePaths, bool noWait, string? waitTimeout)
    {
        return Guard(context, () =>
        {
            var text = ReadPrompt(prompt, promptFlag, promptFile);
            var images = LoadImages(imagePaths);
            var timeout = waitTimeout is null ? (TimeSpan?)null : Durations.Parse(waitTimeout, "--wait-timeout");
            return WithClient(context, async client =>
            {
                var agent = await ResolveAsync(client, query);
                var request = new JsonObject { ["agentId"] = Id(agent), ["text"] = text, ["messageId"] = Guid.NewGuid().ToString("D") };
                if (images.Count > 0) request["images"] = images;
                var response = await client.RequestAsync("send_agent_message_request", request, CommandTimeout);
                if (response["accepted"]?.GetValue<bool>() != true)
                    throw new CliException("SEND_FAILED", WsInbound.Str(response, "error") ?? "the daemon did not accept the prompt");
                if (noWait)
                {
                    context.Output.Record(new JsonObject { ["agentId"] = Id(agent), ["accepted"] = true }, [("Agent", Id(agent)), ("Sent", "yes")], Id(agent));
                    return 0;
                }
                return await FinishAsync(context, client, Id(agent), timeout, null);
            });
        });
    }

    public Task<int> WaitAsync(CliContext context, string query, string? timeoutText)
    {
        return Guard(context, () =>
        {
            var timeout = timeoutText is null ? (TimeSpan?)null : Durations.Parse(timeoutText, "--timeout");
            return WithClient(context, async client => await FinishAsync(context, client, Id(await ResolveAsync(client, query)), timeout, null));
        });
    }

    /// <summary>
    /// wait_for_finish_request and the answer: exit 0 when the agent is idle (its last message printed, or only the schema-checked
    /// JSON with --output-schema); exit 1 with AGENT_ERROR, PERMISSION_REQUIRED or WAIT_TIMEOUT otherwise — the structured
    /// formats still print the whole result, so a script knows which agent to look at.
    /// </summary>
    private static async Task<int> FinishAsync(CliContext context, Paseo.Transport.Client.DaemonClient client, string agentId, TimeSpan? timeout, OutputSchema? schema)
    {
        var request = new JsonObject { ["agentId"] = agentId };
        if (timeout is { } t) request["timeoutMs"] = (long)Math.Max(1, t.TotalMilliseconds);
        JsonObject result;
        using (context.Output.Progress(() => $"waiting for agent {Short(agentId)}"))
            result = await client.RequestAsync("wait_for_finish_request", request, (timeout ?? TimeSpan.FromDays(1)) + TimeSpan.FromSeconds(5));
        var status = Str(result, "status");
        var lastMessage = WsInbound.Str(result, "lastMessage");
        var output = context.Output;
        if (status == "idle" && schema is not null)
        {
            var value = schema.Check(lastMessage);
            if (output.Format == OutputFormat.Yaml) output.Data(value);
            else output.Out.WriteLine(value.ToJsonString(CliOutput.JsonLine));
            return 0;
        }
        var (code, message) = status switch
        {
            "idle" => (null, null),
            "permission" => ("PERMISSION_REQUIRED", $"agent {Short(agentId)} is waiting for a permission: see `paseo permit ls {Short(agentId)}`"),
            "timeout" => ("WAIT_TIMEOUT", $"agent {Short(agentId)} did not finish within the timeout"),
            _ => ("AGENT_ERROR", $"agent {Short(agentId)} failed: {WsInbound.Str(result, "error") ?? "unknown error"}"),
        };
        if (output.Quiet)
        {
            output.Out.WriteLine(agentId);
        }
        else if (output.Structured)
        {
            var record = new JsonObject { ["agentId"] = agentId, ["status"] = status, ["lastMessage"] = lastMessage, ["error"] = WsInbound.Str(result, "error") };
            if (code is not null) record["code"] = code;
            output.Data(record);
            return code is null ? 0 : 1;
        }
        else if (lastMessage is not null && status == "idle")
        {
            output.Out.WriteLine(lastMessage);
        }
        if (code is null) return 0;
        output.Err.WriteLine($"paseo: {message}");
        return 1;
    }

    private static string ReadPrompt(string? prompt, string? promptFlag, string? promptFile)
    {
        var given = new[] { prompt, promptFlag, promptFile }.Count(p => p is not null);
        if (given > 1) throw new CliException("INVALID_ARGUMENTS", "send: give the prompt once: as an argument, --prompt or --prompt-file");
        if (promptFile is not null)
        {
            try
            {
                var text = promptFile == "-" ? Console.In.ReadToEnd() : File.ReadAllText(promptFile);
                if (string.IsNullOrWhiteSpace(text)) throw new CliException("MISSING_PROMPT", $"--prompt-file {promptFile} is empty");
                return text;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException("INVALID_PROMPT_FILE", $"--prompt-file {promptFile}: {e.Message}");
            }
        }
        var value = prompt ?? promptFlag;
        if (string.IsNullOrWhiteSpace(value)) throw new CliException("MISSING_PROMPT", "send: a prompt is required (argument, --prompt or --prompt-file)");
        return value;
    }

    private static JsonArray LoadImages(IReadOnlyList<string> paths)
    {
        var images = new JsonArray();
        foreach (var path in paths)
        {
            var mime = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".png" => "image/png",
                ".jpg" or ".jpeg" => "image/jpeg",
                ".gif" => "image/gif",
                ".webp" => "image/webp",
                _ => throw new CliException("INVALID_IMAGE", $"--image {path}: expected a .png, .jpg, .gif or .webp file"),
            };
            try
            {
                var info = new FileInfo(path);
                if (!info.Exists) throw new CliException("INVALID_IMAGE", $"--image {path}: no such file");
                if (info.Length > MaxImageBytes) throw new CliException("INVALID_IMAGE", $"--image {path}: larger than {MaxImageBytes / (1024 * 1024)} MiB");
                images.Add(new JsonObject { ["data"] = Convert.ToBase64String(File.ReadAllBytes(path)), ["mimeType"] = mime });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException("INVALID_IMAGE", $"--image {path}: {e.Message}");
            }
        }
        return images;
    }
}
