using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Host.Mcp;

/// <summary>
/// The 29 tools of the agents' MCP server (app-orchestration.md §4.5; `speak` is for voice sessions, which this daemon
/// has not, so it is not listed, as on Paseo's HTTP route), each with its title, description and JSON Schemas
/// (draft-07; objects closed unless the spec says OPEN). Arguments are checked against the input schema before a tool
/// runs; a result is checked against the output schema before it is sent.
/// </summary>
public static class McpToolCatalogue
{
    public sealed record ToolDefinition(string Name, string Title, string Description, JsonObject Input, JsonObject Output);

    // Schema helpers: s() a string, Obj(required, props) a closed object.
    private static JsonObject S(int? min = null, int? max = null)
    {
        var s = new JsonObject { ["type"] = "string" };
        if (min is { } mn) s["minLength"] = mn;
        if (max is { } mx) s["maxLength"] = mx;
        return s;
    }

    private static JsonObject B() => new() { ["type"] = "boolean" };
    private static JsonObject N() => new() { ["type"] = "number" };
    private static JsonObject I(int? min = null, int? max = null)
    {
        var i = new JsonObject { ["type"] = "integer" };
        if (min is { } mn) i["minimum"] = mn;
        if (max is { } mx) i["maximum"] = mx;
        return i;
    }

    private static JsonObject Nullable(JsonObject schema) => new() { ["anyOf"] = new JsonArray(schema, new JsonObject { ["type"] = "null" }) };
    private static JsonObject Any() => new();
    private static JsonObject Arr(JsonObject items) => new() { ["type"] = "array", ["items"] = items };
    private static JsonObject Enum(params string[] values) => new() { ["type"] = "string", ["enum"] = new JsonArray([.. values.Select(v => (JsonNode?)v)]) };
    private static JsonObject Rec(JsonObject values) => new() { ["type"] = "object", ["additionalProperties"] = values };

    private static JsonObject Obj(string[] required, params (string Name, JsonObject Schema)[] properties) => Obj(required, false, properties);

    private static JsonObject Open(string[] required, params (string Name, JsonObject Schema)[] properties) => Obj(required, true, properties);

    private static JsonObject Obj(string[] required, bool open, (string Name, JsonObject Schema)[] properties)
    {
        var props = new JsonObject();
        foreach (var (name, schema) in properties) props[name] = schema;
        var o = new JsonObject { ["type"] = "object", ["properties"] = props, ["required"] = new JsonArray([.. required.Select(r => (JsonNode?)r)]) };
        if (!open) o["additionalProperties"] = false;
        o["$schema"] = "http://json-schema.org/draft-07/schema#";
        return o;
    }

    private static JsonObject Status() => Enum("initializing", "idle", "running", "error", "closed");
    private static JsonObject Permission() => Open(["id", "provider", "name", "kind"], ("id", S()), ("provider", S()), ("name", S()), ("kind", S()));
    private static JsonObject Success() => Obj(["success"], ("success", B()));

    private static JsonObject ScheduleSummary() => Open(["id", "prompt", "cadence", "target", "status"], ("id", S()), ("prompt", S()), ("cadence", Any()), ("target", Any()), ("status", S()));

    // A function: a schema node can sit in one tree only.
    private static (string Name, JsonObject Schema)[] CreateAgentCommon() =>
    [
        ("title", S(1, 60)), ("provider", S()), ("initialPrompt", S(1)), ("thinking", S()), ("labels", Rec(S())), ("background", B()), ("notifyOnFinish", B()),
    ];

    /// <summary>create_agent's input: the caller variant (an agent's session) or the top-level one (§4.5).</summary>
    public static JsonObject CreateAgentInput(bool caller) => caller
        ? Obj(["title", "provider", "initialPrompt"], [.. CreateAgentCommon(), ("cwd", S())])
        : Obj(["title", "provider", "initialPrompt", "cwd"], [.. CreateAgentCommon(), ("cwd", S()), ("mode", S()), ("worktreeName", S()), ("baseBranch", S()),
            ("refName", S(1)), ("action", Enum("branch-off", "checkout")), ("githubPrNumber", I(1))]);

    public static IReadOnlyList<ToolDefinition> Tools(bool caller) =>
    [
        new("create_agent", "Create Agent", "Create an agent and start its first prompt; by default wait (up to 30 s) for it to finish or ask for permission.",
            CreateAgentInput(caller),
            Obj(["agentId", "type", "status", "cwd", "currentModeId", "availableModes"], ("agentId", S()), ("type", S()), ("status", Status()), ("cwd", S()),
                ("currentModeId", Nullable(S())), ("availableModes", Arr(Obj(["id", "label"], ("id", S()), ("label", S()), ("description", Nullable(S()))))),
                ("lastMessage", Nullable(S())), ("permission", Nullable(Permission())))),
        new("wait_for_agent", "Wait For Agent", "Wait (up to 30 s) until the agent's current run ends or it asks for permission.",
            Obj(["agentId"], ("agentId", S())),
            Obj(["agentId", "status", "permission", "lastMessage"], ("agentId", S()), ("status", Status()), ("permission", Nullable(Permission())), ("lastMessage", Nullable(S())))),
        new("send_agent_prompt", "Send Agent Prompt", "Send a prompt to an agent (interrupting a running turn); by default wait (up to 30 s).",
            Obj(["agentId", "prompt"], ("agentId", S()), ("prompt", S()), ("sessionMode", S()), ("background", B()), ("notifyOnFinish", B())),
            Obj(["success", "status"], ("success", B()), ("status", Status()), ("lastMessage", Nullable(S())), ("permission", Nullable(Permission())))),
        new("get_agent_status", "Get Agent Status", "The agent's status and snapshot.",
            Obj(["agentId"], ("agentId", S())), Obj(["status", "snapshot"], ("status", Status()), ("snapshot", Open([])))),
        new("list_agents", "List Agents", "A compact list of recent agents.",
            Obj([], ("includeArchived", B()), ("cwd", S()), ("sinceHours", I(1, 720)), ("statuses", Arr(Status())), ("limit", I(1, 200))),
            Obj(["agents"], ("agents", Arr(Open(["id", "shortId", "title", "provider", "status", "cwd"]))))),
        new("cancel_agent", "Cancel Agent", "Cancel the agent's current run and keep the agent.", Obj(["agentId"], ("agentId", S())), Success()),
        new("archive_agent", "Archive Agent", "Archive the agent (interrupts and closes it).", Obj(["agentId"], ("agentId", S())), Success()),
        new("kill_agent", "Kill Agent", "Close the agent's live session; its record is kept.", Obj(["agentId"], ("agentId", S())), Success()),
        new("update_agent", "Update Agent", "Rename the agent and/or merge labels into its labels.",
            Obj(["agentId"], ("agentId", S()), ("name", S()), ("labels", Rec(S()))), Success()),
        new("set_agent_mode", "Set Agent Mode", "Switch the agent's session mode.",
            Obj(["agentId", "modeId"], ("agentId", S()), ("modeId", S())), Obj(["success", "newMode"], ("success", B()), ("newMode", S()))),
        new("get_agent_activity", "Get Agent Activity", "A text digest of the agent's timeline.",
            Obj(["agentId"], ("agentId", S()), ("limit", N())),
            Obj(["agentId", "updateCount", "currentModeId", "content"], ("agentId", S()), ("updateCount", N()), ("currentModeId", Nullable(S())), ("content", S()))),
        new("list_pending_permissions", "List Pending Permissions", "The pending permission requests of every live agent.",
            Obj([]), Obj(["permissions"], ("permissions", Arr(Obj(["agentId", "status", "request"], ("agentId", S()), ("status", Status()), ("request", Permission())))))),
        new("respond_to_permission", "Respond To Permission", "Allow or deny one pending permission request.",
            Obj(["agentId", "requestId", "response"], ("agentId", S()), ("requestId", S()),
                ("response", Open(["behavior"], ("behavior", Enum("allow", "deny"))))), Success()),
        new("list_terminals", "List Terminals", "The terminals of a directory, or all of them.",
            Obj([], ("cwd", S()), ("all", B())), Obj(["terminals"], ("terminals", Arr(Obj(["id", "name", "cwd"], ("id", S()), ("name", S()), ("cwd", S())))))),
        new("create_terminal", "Create Terminal", "Start a terminal (a shell) in a directory.",
            Obj([], ("cwd", S()), ("name", S())), Obj(["id", "name", "cwd"], ("id", S()), ("name", S()), ("cwd", S()))),
        new("kill_terminal", "Kill Terminal", "End a terminal and its program.", Obj(["terminalId"], ("terminalId", S())), Success()),
        new("capture_terminal", "Capture Terminal", "A terminal's lines as plain text.",
            Obj(["terminalId"], ("terminalId", S()), ("start", N()), ("end", N()), ("scrollback", B()), ("stripAnsi", B())),
            Obj(["terminalId", "lines", "totalLines"], ("terminalId", S()), ("lines", Arr(S())), ("totalLines", I(0)))),
        new("send_terminal_keys", "Send Terminal Keys", "Type into a terminal (Enter, Tab, Escape, C-c… unless literal).",
            Obj(["terminalId", "keys"], ("terminalId", S()), ("keys", S()), ("literal", B())), Success()),
        new("create_schedule", "Create Schedule", "Create a recurring schedule (every or cron) for this agent or a new agent per run.",
            Obj(["prompt"], ("prompt", S(1)), ("every", S()), ("cron", S()), ("name", S()), ("target", Enum("self", "new-agent")), ("provider", S()), ("cwd", S()),
                ("maxRuns", I(1)), ("expiresIn", S())), ScheduleSummary()),
        new("list_schedules", "List Schedules", "Every schedule.", Obj([]), Obj(["schedules"], ("schedules", Arr(ScheduleSummary())))),
        new("inspect_schedule", "Inspect Schedule", "One schedule with its runs.", Obj(["id"], ("id", S())),
            Open(["id", "prompt", "cadence", "target", "status", "runs"], ("id", S()), ("runs", Arr(Open([]))))),
        new("pause_schedule", "Pause Schedule", "Pause a schedule.", Obj(["id"], ("id", S())), Success()),
        new("resume_schedule", "Resume Schedule", "Resume a paused schedule.", Obj(["id"], ("id", S())), Success()),
        new("delete_schedule", "Delete Schedule", "Delete a schedule.", Obj(["id"], ("id", S())), Success()),
        new("list_providers", "List Providers", "The registered providers and whether they are available.",
            Obj([]), Obj(["providers"], ("providers", Arr(Open(["id"], ("id", S())))))),
        new("list_models", "List Models", "The models of one provider.",
            Obj(["provider"], ("provider", S())), Obj(["provider", "models"], ("provider", S()), ("models", Arr(Open(["provider", "id"], ("provider", S()), ("id", S())))))),
        new("list_worktrees", "List Worktrees", "The Paseo worktrees of a repository.",
            Obj([], ("cwd", S())), Obj(["worktrees"], ("worktrees", Arr(Open(["path", "createdAt"], ("path", S()), ("createdAt", S())))))),
        new("create_worktree", "Create Worktree", "Create a Paseo worktree: a new branch off a base, an existing branch, or a pull request.",
            Obj(["target"], ("cwd", S()), ("target", new JsonObject
            {
                ["oneOf"] = new JsonArray(
                    Obj(["mode", "newBranch"], ("mode", Enum("branch-off")), ("newBranch", S(1)), ("base", S(1))),
                    Obj(["mode", "branch"], ("mode", Enum("checkout-branch")), ("branch", S(1))),
                    Obj(["mode", "prNumber"], ("mode", Enum("checkout-pr")), ("prNumber", I(1)))),
            })),
            Obj(["branchName", "worktreePath"], ("branchName", S()), ("worktreePath", S()))),
        new("archive_worktree", "Archive Worktree", "Remove a Paseo worktree (its agents are deleted).",
            Obj([], ("cwd", S()), ("worktreePath", S()), ("worktreeSlug", S())), Success()),
    ];

    public static JsonElement Element(JsonObject schema) => JsonSerializer.SerializeToElement(schema);
}
