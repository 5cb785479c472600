using System.Text.Json;
using static Paseo.Transport.Configuration.Schema;

namespace Paseo.Transport.Configuration;

/// <summary>
/// The schema of $PASEO_HOME/config.json: Paseo's own schema (app-protocol.md §5, providers.md §4.4), strict at
/// every level, so that a config.json Paseo's tools write is read the same way here and a typo is an error.
/// Paseo.NET adds no keys of its own; its extra knobs live in paseo.hocon.
/// </summary>
public static class PaseoConfigSchema
{
    /// <summary>A bcrypt hash as Paseo stores it: <c>$2a$</c>/<c>$2b$</c>/<c>$2y$</c>, two-digit cost, 53 chars of salt+hash.</summary>
    public const string BcryptPattern = @"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$";

    public static readonly string[] BuiltInProviders = ["claude", "codex", "copilot", "opencode", "pi"];
    public static readonly string[] ExtendableProviders = ["claude", "codex", "copilot", "opencode", "pi", "acp"];

    // Paseo logs through pino; these are its level and format names.
    private static readonly JsonSchemaNode LogLevel = Enum("trace", "debug", "info", "warn", "error", "fatal", "silent");
    private static readonly JsonSchemaNode LogFormat = Enum("pretty", "json");

    private static readonly JsonSchemaNode Hostnames = AnyOf(True(), ArrayOf(Str()));

    private static readonly JsonSchemaNode ProviderProfile = Object(
        ("extends", Enum(ExtendableProviders)),
        ("label", Str()),
        ("description", Str()),
        // The legacy form {mode, ...} is still accepted; Paseo migrates it on load.
        ("command", AnyOf(ArrayOf(Str()), OpenObject(("mode", Enum("default", "append", "replace"))).Require("mode", "the legacy command form needs a mode"))),
        ("env", RecordOf(Str())),
        ("models", ArrayOf(AnyOf(Str(), AnyObject()))),
        ("additionalModels", ArrayOf(AnyOf(Str(), AnyObject()))),
        ("disallowedTools", ArrayOf(Str())),
        ("enabled", Bool()),
        ("order", Number()));

    public static readonly JsonSchemaNode Root = Object(
        ("$schema", Str()),
        ("version", Literal(1)),
        ("daemon", Object(
            ("listen", Str()),
            ("hostnames", Hostnames),
            ("allowedHosts", Hostnames),
            ("mcp", Object(("enabled", Bool()), ("injectIntoAgents", Bool()))),
            ("cors", Object(("allowedOrigins", ArrayOf(Str())))),
            ("relay", Object(("enabled", Bool()), ("endpoint", Str()), ("publicEndpoint", Str()))),
            ("auth", Object(("password", Str(BcryptPattern, "a bcrypt hash ($2b$12$ followed by 53 characters); set it with `paseo daemon set-password`")))))),
        ("app", Object(("baseUrl", Str()))),
        ("providers", Object(
            ("openai", Object(("apiKey", Str()))),
            ("local", Object(("modelsDir", Str()))))),
        ("agents", Object(("providers", RecordOf(ProviderProfile, "^[a-z][a-z0-9-]*$")))),
        // Voice features are not implemented by Paseo.NET; their inner keys are Paseo's and are kept as they are.
        ("features", Object(("dictation", AnyObject()), ("voiceMode", AnyObject()))),
        ("log", Object(
            ("level", LogLevel),
            ("format", LogFormat),
            ("console", Object(("level", LogLevel), ("format", LogFormat))),
            ("file", Object(
                ("level", LogLevel),
                ("path", Str()),
                ("rotate", Object(
                    ("maxSize", AnyOf(Str("^[0-9]+[kKmMgG]?[bB]?$", "a size such as \"10m\" or \"512k\""), Int(1))),
                    ("maxFiles", Int(1, 100)))))))));

    /// <summary>Checks a parsed document against the schema, then the rules a schema cannot say.</summary>
    public static List<ConfigIssue> Validate(JsonElement root)
    {
        var issues = new List<ConfigIssue>();
        Root.Check(root, "", issues);
        if (issues.Count == 0) CheckProviderProfiles(root, issues);
        return issues;
    }

    private static void CheckProviderProfiles(JsonElement root, List<ConfigIssue> issues)
    {
        if (!root.TryGetProperty("agents", out var agents) || !agents.TryGetProperty("providers", out var providers)) return;
        foreach (var profile in providers.EnumerateObject())
        {
            var path = $"agents.providers.{profile.Name}";
            var builtIn = BuiltInProviders.Contains(profile.Name);
            if (!builtIn && !profile.Value.TryGetProperty("extends", out _))
                issues.Add(new ConfigIssue($"{path}.extends", $"missing: a custom provider must say which provider it extends ({string.Join(", ", ExtendableProviders)})"));
            if (!builtIn && !profile.Value.TryGetProperty("label", out _))
                issues.Add(new ConfigIssue($"{path}.label", "missing: a custom provider needs a label"));
            if (profile.Value.TryGetProperty("extends", out var ext) && ext.GetString() == "acp"
                && !(profile.Value.TryGetProperty("command", out var cmd) && cmd.ValueKind == JsonValueKind.Array && cmd.GetArrayLength() > 0))
                issues.Add(new ConfigIssue($"{path}.command", "missing: an ACP provider needs a command, e.g. [\"gemini\", \"--acp\"]"));
        }
    }
}
