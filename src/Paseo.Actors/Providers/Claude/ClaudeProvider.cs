using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Transport.Configuration;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Providers.Claude;

/// <summary>
/// `claude`: the Claude Code CLI in stream-json mode, one long-lived process per agent (providers.md §4.1). A profile
/// (`agents.providers.claude`, or a custom id with `extends:"claude"`) can replace the command, add environment
/// variables, models, and disallowed tools. Paseo.NET passes the user's own environment through and stores no credential.
/// </summary>
public sealed class ClaudeProvider : IAgentProvider
{
    public const string BuiltInId = "claude";

    private static readonly IReadOnlyList<AgentMode> ClaudeModes =
    [
        new("default", "Always Ask", "Asks before running a tool", "ShieldCheck", "safe"),
        new("acceptEdits", "Accept Edits", "Edits files without asking; asks for other tools", "ShieldCheck", "moderate"),
        new("plan", "Plan", "Plans without changing anything", "ShieldCheck", "safe"),
        new("bypassPermissions", "Bypass", "Runs every tool without asking", "ShieldAlert", "dangerous"),
    ];

    public ProviderDescription Description { get; }
    public IReadOnlyList<string> Command { get; }
    public IReadOnlyDictionary<string, string> Environment { get; }
    public IReadOnlyList<string> DisallowedTools { get; }
    public ProviderProcessSettings Settings { get; }
    public AvailabilityCheck Availability { get; }

    public ClaudeProvider(ProviderProfile? profile, ProviderProcessSettings settings)
    {
        var id = profile?.Id ?? BuiltInId;
        Command = profile?.Command is { Count: > 0 } command ? command : ["claude"];
        Environment = profile?.Env ?? new Dictionary<string, string>();
        DisallowedTools = profile?.DisallowedTools ?? [];
        Settings = settings;
        var models = profile?.Models?.Select(m => ProviderModels.From(id, m)).ToList()
                     ?? [ProviderModels.Model(id, "sonnet", "Sonnet", true), ProviderModels.Model(id, "opus", "Opus"), ProviderModels.Model(id, "haiku", "Haiku")];
        if (profile?.AdditionalModels is { } more) models.AddRange(more.Select(m => ProviderModels.From(id, m)));
        Description = new ProviderDescription(
            id,
            profile?.Label ?? "Claude",
            profile?.Description ?? "Claude Code (the claude CLI, with your own login)",
            new AgentCapabilities(Streaming: true, SessionPersistence: true, DynamicModes: true, McpServers: false, ReasoningStream: true, ToolInvocations: true),
            ClaudeModes,
            "default",
            models);
        Availability = profile is { Enabled: false }
            ? AvailabilityCheck.Fixed(ProviderAvailability.Disabled)
            : new AvailabilityCheck(cancel => ProviderAvailability.ProbeAsync(Command, Environment, settings.VersionTimeout, cancel), settings.RecheckAfter);
    }

    public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new ClaudeProviderSession(config, this));

    /// <summary>The variable holding the MCP entry's Authorization header (environments are private to their user; argv is not).</summary>
    public const string McpAuthorizationVariable = "PASEO_MCP_AUTHORIZATION";

    /// <summary>argv for one agent's process (the flags the Agent SDK gives the CLI, providers.md §4.1).</summary>
    public IReadOnlyList<string> Arguments(ProviderSessionConfig config)
    {
        var argv = new List<string>(Command)
        {
            "--output-format", "stream-json", "--verbose", "--input-format", "stream-json",
            "--permission-mode", StartMode(config),
            "--permission-prompt-tool", "stdio",
            "--include-partial-messages",
            "--setting-sources=user,project",
        };
        // What lets bypassPermissions be chosen later. Claude Code refuses to start with it as root (a common VPS setup)
        // unless it is told it runs in a sandbox (IS_SANDBOX=1, the user's call): then it is left out, and a later
        // bypassPermissions is refused by the CLI with its reason, while the agent works in the other modes.
        if (AllowsBypass) argv.Insert(argv.IndexOf("--include-partial-messages"), "--allow-dangerously-skip-permissions");
        if (config.ResumeSessionId is { Length: > 0 } resume) argv.Add($"--resume={resume}");
        if (config.Model is { Length: > 0 } model) argv.AddRange(["--model", model]);
        if (DisallowedTools.Count > 0) argv.AddRange(["--disallowedTools", string.Join(',', DisallowedTools)]);
        if (config.SystemPrompt is { Length: > 0 } system) argv.AddRange(["--append-system-prompt", system]);
        // The daemon's MCP server (app-orchestration.md §4.2). Its credential is not on the command line, which any local
        // user can read: the header names PASEO_MCP_AUTHORIZATION, which Claude Code expands from its own environment.
        if (config.PaseoMcp is { } mcp)
            argv.AddRange(["--mcp-config", new System.Text.Json.Nodes.JsonObject
            {
                ["mcpServers"] = new System.Text.Json.Nodes.JsonObject
                {
                    [mcp.Name] = new System.Text.Json.Nodes.JsonObject
                    {
                        ["type"] = "http", ["url"] = mcp.Url,
                        ["headers"] = new System.Text.Json.Nodes.JsonObject { ["Authorization"] = "${" + McpAuthorizationVariable + "}" },
                    },
                },
            }.ToJsonString()]);
        // thinking:{type:"adaptive"} + effort from the thinking option (providers.md §4.1); none or "auto" leaves the CLI's default.
        if (config.ThinkingOptionId is "low" or "medium" or "high" or "xhigh" or "max")
            argv.AddRange(["--thinking", "adaptive", "--effort", config.ThinkingOptionId]);
        return argv;
    }

    /// <summary>The mode the CLI starts in: the agent's, except bypassPermissions where the CLI would refuse it (root).</summary>
    public string StartMode(ProviderSessionConfig config) =>
        config.ModeId is "bypassPermissions" && !AllowsBypass ? "default" : config.ModeId ?? "default";

    /// <summary>Whether the CLI may be started with --allow-dangerously-skip-permissions (not as root outside a sandbox).</summary>
    public bool AllowsBypass => !Paseo.Transport.Processes.ChildProcess.RunningAsRoot
        || (Environment.TryGetValue("IS_SANDBOX", out var sandbox) ? sandbox : System.Environment.GetEnvironmentVariable("IS_SANDBOX")) == "1";

    /// <summary>The child's extra environment: the profile's, the agent id, and what the Agent SDK sets.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentFor(ProviderSessionConfig config)
    {
        var env = new Dictionary<string, string>(Environment, StringComparer.Ordinal)
        {
            ["PASEO_AGENT_ID"] = config.AgentId,
            ["MCP_TIMEOUT"] = "600000",
            ["MCP_TOOL_TIMEOUT"] = "600000",
            ["CLAUDE_CODE_ENTRYPOINT"] = "sdk-ts",
            ["CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING"] = "true",
        };
        if (config.PaseoMcp is { } mcp) env[McpAuthorizationVariable] = mcp.Authorization;
        return env;
    }
}

