using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Providers.Stdio;
using Paseo.Transport.Configuration;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers.Codex;

/// <summary>
/// `codex`: `codex app-server`, JSON-RPC over stdio, one process per agent (providers.md §4.2). Modes are presets of
/// approval policy and sandbox: `auto` (on-request, workspace-write), `full-access` (never, danger-full-access) and
/// `read-only` (on-request, read-only; internal in Paseo, where Claude's `plan` maps to it — listed here so a user can
/// choose it).
/// The thinking option is Codex's reasoning `effort`.
/// </summary>
public sealed class CodexProvider : IAgentProvider
{
    public const string BuiltInId = "codex";

    public ProviderDescription Description { get; }
    public StdioLaunch Launch { get; }
    public AvailabilityCheck Availability { get; }

    public CodexProvider(ProviderProfile? profile, ProviderProcessSettings settings)
    {
        var id = profile?.Id ?? BuiltInId;
        var command = profile?.Command is { Count: > 0 } c ? c : ["codex"];
        Launch = new StdioLaunch(id, [.. command, "app-server"], profile?.Env ?? new Dictionary<string, string>(), settings);
        _modelsConfigured = profile?.Models is not null;
        var models = profile?.Models?.Select(m => ProviderModels.From(id, m)).ToList()
                     ?? [ProviderModels.Model(id, "gpt-5-codex", "GPT-5 Codex", true), ProviderModels.Model(id, "gpt-5", "GPT-5")];
        _builtInModels = _modelsConfigured ? 0 : models.Count; // listed when the CLI cannot be asked; not added to its answer
        if (profile?.AdditionalModels is { } more) models.AddRange(more.Select(m => ProviderModels.From(id, m)));
        Description = new ProviderDescription(id, profile?.Label ?? "Codex", profile?.Description ?? "OpenAI Codex (codex app-server, with your own login)",
            new AgentCapabilities(Streaming: true, SessionPersistence: true, DynamicModes: true, McpServers: false, ReasoningStream: true, ToolInvocations: true),
            [
                new AgentMode("auto", "Auto", "Works in the workspace; asks before anything else", "ShieldCheck", "moderate"),
                new AgentMode("full-access", "Full Access", "No sandbox, no questions, network on", "ShieldAlert", "dangerous"),
                new AgentMode("read-only", "Read Only", "Reads the workspace, changes nothing, asks before anything else", "ShieldCheck", "safe"),
            ],
            "auto",
            models);
        Availability = profile is { Enabled: false }
            ? AvailabilityCheck.Fixed(ProviderAvailability.Disabled)
            : new AvailabilityCheck(cancel => ProviderAvailability.ProbeAsync(command, Launch.Environment, settings.VersionTimeout, cancel), settings.RecheckAfter);
    }

    public Props SessionProps(ProviderSessionConfig config) => Props.Create(() => new CodexProviderSession(config, Launch));

    private readonly bool _modelsConfigured;

    public bool DiscoversModels => !_modelsConfigured;

    /// <summary>
    /// The models the CLI offers (`model/list` of a short-lived `codex app-server`: the account's models, or those of the
    /// model provider configured in CODEX_HOME), hidden ones left out; a profile's `models` replace them.
    /// </summary>
    public async Task<IReadOnlyList<JsonObject>> ListModelsAsync(string? cwd, ActorSystem system, CancellationToken cancellationToken)
    {
        if (_modelsConfigured) return Description.Models;
        var settings = Launch.Settings;
        using var process = ChildProcess.Start(new ChildProcessStart(Launch.Command, cwd is not null && Directory.Exists(cwd) ? cwd : System.Environment.CurrentDirectory,
            Launch.Environment, settings.MaxLineBytes, settings.OutputBacklog, settings.KillGrace, settings.InputBacklog, settings.MaxStderrLineBytes,
            Processes.DaemonChildProcesses.Get(system).Tracker), _ => { });
        process.WriteLine(new JsonObject
        {
            ["id"] = 1, ["method"] = "initialize",
            ["params"] = new JsonObject { ["clientInfo"] = new JsonObject { ["name"] = "paseo", ["title"] = "Paseo", ["version"] = "0.0.0" } },
        }.ToJsonString());
        process.WriteLine(new JsonObject { ["method"] = "initialized", ["params"] = new JsonObject() }.ToJsonString());
        process.WriteLine(new JsonObject { ["id"] = 2, ["method"] = "model/list", ["params"] = new JsonObject() }.ToJsonString());
        while (true)
        {
            ChildOutput output;
            try
            {
                output = await process.Output.ReadAsync(cancellationToken);
            }
            catch (System.Threading.Channels.ChannelClosedException)
            {
                throw new IOException($"{Launch.Name} exited before answering model/list{(process.StderrTail is { Length: > 0 } tail ? $": {tail}" : "")}");
            }
            if (output is not ChildOutput.Line { Text: var line }) throw new IOException($"{Launch.Name} printed a line over {settings.MaxLineBytes} bytes");
            JsonObject? message;
            try
            {
                message = System.Text.Json.Nodes.JsonNode.Parse(line) as JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
                continue;
            }
            if (message?["id"] is not JsonValue id || !id.TryGetValue<int>(out var number) || number != 2) continue;
            if (message["error"] is JsonObject error) throw new IOException($"{Launch.Name} refused model/list: {WsInbound.Str(error, "message")}");
            var models = (message["result"]?["data"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(m => m["hidden"] is not JsonValue h || !h.TryGetValue<bool>(out var hidden) || !hidden)
                .Select(m =>
                {
                    var modelId = WsInbound.Str(m, "model") ?? WsInbound.Str(m, "id") ?? "";
                    var entry = ProviderModels.Model(Description.Id, modelId, WsInbound.Str(m, "displayName") ?? modelId,
                        m["isDefault"] is JsonValue d && d.TryGetValue<bool>(out var isDefault) && isDefault);
                    if (WsInbound.Str(m, "description") is { } description) entry["description"] = description;
                    return entry;
                })
                .ToList();
            models.AddRange(Description.Models.Skip(_builtInModels)); // the profile's additionalModels
            return models; // (one page: model/list pages are not followed)
        }
    }

    private readonly int _builtInModels;
}
