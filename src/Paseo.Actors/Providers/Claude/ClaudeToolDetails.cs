using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers.Claude;

/// <summary>Claude Code's tools as timeline tool-call details (providers.md §4.1 tool mapping, app-schemas.md §D.2).</summary>
public static class ClaudeToolDetails
{
    public static JsonObject For(string toolName, JsonObject input, string? cwd, string? output = null)
    {
        string? Str(string key) => WsInbound.Str(input, key);
        switch (toolName)
        {
            case "Bash":
                return TimelineItems.ShellDetail(Str("command") ?? "", cwd, output);
            case "Read":
                return TimelineItems.ReadDetail(Str("file_path") ?? "", output);
            case "Write":
                var write = new JsonObject { ["type"] = "write", ["filePath"] = Str("file_path") ?? "" };
                if (Str("content") is { } content) write["content"] = content;
                return write;
            case "Edit":
            case "MultiEdit":
                return TimelineItems.EditDetail(Str("file_path") ?? "", Str("old_string"), Str("new_string"));
            case "Grep":
            case "Glob":
            case "WebSearch":
                var search = new JsonObject
                {
                    ["type"] = "search",
                    ["query"] = Str("pattern") ?? Str("query") ?? "",
                    ["toolName"] = toolName switch { "Grep" => "grep", "Glob" => "glob", _ => "web_search" },
                };
                if (output is not null) search["content"] = output;
                return search;
            case "WebFetch":
                var fetch = new JsonObject { ["type"] = "fetch", ["url"] = Str("url") ?? "" };
                if (Str("prompt") is { } prompt) fetch["prompt"] = prompt;
                if (output is not null) fetch["result"] = output;
                return fetch;
            case "Task":
            case "Agent":
                var task = new JsonObject { ["type"] = "sub_agent", ["log"] = output ?? "", ["actions"] = new JsonArray() };
                if (Str("subagent_type") is { } kind) task["subAgentType"] = kind;
                if (Str("description") is { } description) task["description"] = description;
                return task;
            default:
                return new JsonObject { ["type"] = "unknown", ["input"] = input.DeepClone(), ["output"] = output };
        }
    }

    /// <summary>A tool result's content (a string, or blocks of text) as one string.</summary>
    public static string? ResultText(JsonNode? content) => content switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray blocks => string.Join("\n", blocks.OfType<JsonObject>().Select(b => WsInbound.Str(b, "text")).Where(t => t is not null)),
        _ => null,
    };
}
