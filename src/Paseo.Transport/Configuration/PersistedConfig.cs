using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Configuration;

public sealed record HostnamesSetting(bool AllowAny, IReadOnlyList<string> Patterns)
{
    public static readonly HostnamesSetting None = new(false, []);

    /// <summary>Lists append across sources; `true` anywhere wins.</summary>
    public HostnamesSetting Append(HostnamesSetting other) =>
        new(AllowAny || other.AllowAny, Patterns.Concat(other.Patterns).Distinct(StringComparer.OrdinalIgnoreCase).ToList());
}

public sealed record RelaySetting(bool? Enabled, string? Endpoint, string? PublicEndpoint);

public sealed record McpSetting(bool? Enabled, bool? InjectIntoAgents);

public sealed record LogOutputSetting(string? Level, string? Format);

public sealed record LogFileSetting(string? Level, string? Path, long? MaxSizeBytes, int? MaxFiles);

public sealed record LogSetting(string? Level, string? Format, LogOutputSetting Console, LogFileSetting File);

/// <summary>
/// `agents.providers.&lt;id&gt;` of config.json (providers.md §4.4): a built-in provider's overrides, or a custom profile that
/// extends one. <see cref="Command"/> replaces the binary and its arguments; the legacy object form is not migrated (null).
/// </summary>
public sealed record ProviderProfile(
    string Id,
    string? Extends,
    string? Label,
    string? Description,
    IReadOnlyList<string>? Command,
    IReadOnlyDictionary<string, string> Env,
    bool Enabled,
    IReadOnlyList<JsonNode>? Models,
    IReadOnlyList<JsonNode>? AdditionalModels,
    IReadOnlyList<string> DisallowedTools);

/// <summary>What config.json says, after strict validation. Absent keys are null.</summary>
public sealed record PersistedConfig(
    string? Listen,
    HostnamesSetting Hostnames,
    IReadOnlyList<string> CorsOrigins,
    RelaySetting Relay,
    string? PasswordHash,
    string? AppBaseUrl,
    McpSetting Mcp,
    LogSetting Log,
    IReadOnlyList<ProviderProfile>? ProviderProfiles = null)
{
    public static readonly PersistedConfig Empty = new(null, HostnamesSetting.None, [], new(null, null, null), null, null,
        new(null, null), new(null, null, new(null, null), new(null, null, null, null)));

    public IReadOnlyList<ProviderProfile> Providers => ProviderProfiles ?? [];
}

/// <summary>Reads, creates and edits $PASEO_HOME/config.json. Reading never modifies an existing file.</summary>
public static class ConfigFile
{
    /// <summary>
    /// The file created when none exists: Paseo's defaults, except that the relay is off. Paseo.NET never contacts
    /// a relay the user did not name.
    /// </summary>
    public const string DefaultContent = """
        {
          "version": 1,
          "daemon": {
            "listen": "127.0.0.1:6767",
            "cors": {
              "allowedOrigins": [
                "https://app.paseo.sh"
              ]
            },
            "relay": {
              "enabled": false
            }
          },
          "app": {
            "baseUrl": "https://app.paseo.sh"
          }
        }

        """;

    private static readonly JsonDocumentOptions ParseOptions = new() { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 };

    /// <summary>Size cap: a config file is a few KB; anything huge is a mistake, not a config.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// Loads config.json, creating it with the defaults when it is missing. A valid file that others can read is
    /// tightened to 0600 (it holds the password hash); an invalid one is left exactly as it is.
    /// </summary>
    public static PersistedConfig LoadOrCreate(PaseoHome home)
    {
        if (!File.Exists(home.ConfigJson))
        {
            home.EnsureExists();
            try
            {
                using var stream = PrivateFiles.OpenNewPrivate(home.ConfigJson);
                stream.Write(System.Text.Encoding.UTF8.GetBytes(DefaultContent));
            }
            catch (IOException) when (File.Exists(home.ConfigJson))
            {
                // Another process created it between our check and our create: read theirs.
            }
        }
        var config = Load(home.ConfigJson);
        PrivateFiles.TightenFile(home.ConfigJson);
        return config;
    }

    public static PersistedConfig Load(string path)
    {
        using var document = Parse(path);
        return Read(document.RootElement, path);
    }

    private static JsonDocument Parse(string path)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxBytes) throw new ConfigException($"{path}: the file is {info.Length} bytes; a config file may be at most {MaxBytes} bytes");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot be read: {e.Message}");
        }
        try
        {
            return JsonDocument.Parse(bytes, ParseOptions);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "";
            throw new ConfigException($"{path}: invalid JSON{where}: expected a JSON object as Paseo's config.json schema describes ({FirstSentence(e.Message)})");
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>Validates a parsed document and reads the values the daemon uses.</summary>
    public static PersistedConfig Read(JsonElement root, string source)
    {
        var issues = PaseoConfigSchema.Validate(root);
        if (issues.Count > 0)
        {
            var lines = issues.Take(20).Select(i => $"  {i}");
            var more = issues.Count > 20 ? $"\n  ... and {issues.Count - 20} more" : "";
            throw new ConfigException($"{source}: invalid configuration:\n{string.Join('\n', lines)}{more}");
        }

        var daemon = Get(root, "daemon");
        var log = Get(root, "log");
        var logFile = Get(log, "file");
        var rotate = Get(logFile, "rotate");
        return new PersistedConfig(
            Listen: String(daemon, "listen"),
            Hostnames: ReadHostnames(Get(daemon, "hostnames")).Append(ReadHostnames(Get(daemon, "allowedHosts"))),
            CorsOrigins: Strings(Get(Get(daemon, "cors"), "allowedOrigins")),
            Relay: new RelaySetting(Bool(Get(daemon, "relay"), "enabled"), String(Get(daemon, "relay"), "endpoint"), String(Get(daemon, "relay"), "publicEndpoint")),
            PasswordHash: String(Get(daemon, "auth"), "password"),
            AppBaseUrl: String(Get(root, "app"), "baseUrl"),
            Mcp: new McpSetting(Bool(Get(daemon, "mcp"), "enabled"), Bool(Get(daemon, "mcp"), "injectIntoAgents")),
            Log: new LogSetting(
                String(log, "level"), String(log, "format"),
                new LogOutputSetting(String(Get(log, "console"), "level"), String(Get(log, "console"), "format")),
                new LogFileSetting(String(logFile, "level"), String(logFile, "path"),
                    Get(rotate, "maxSize") is { } size ? ByteSize.Parse(size.ValueKind == JsonValueKind.Number ? size.GetRawText() : size.GetString()!, $"{source}: log.file.rotate.maxSize") : null,
                    Get(rotate, "maxFiles") is { } files ? files.GetInt32() : null)),
            ProviderProfiles: ReadProviderProfiles(Get(Get(root, "agents"), "providers")));
    }

    private static List<ProviderProfile> ReadProviderProfiles(JsonElement? providers)
    {
        var profiles = new List<ProviderProfile>();
        if (providers is not { ValueKind: JsonValueKind.Object } all) return profiles;
        foreach (var entry in all.EnumerateObject())
        {
            var p = entry.Value;
            var command = Get(p, "command") is { ValueKind: JsonValueKind.Array } argv ? Strings(argv) : null;
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Get(p, "env") is { ValueKind: JsonValueKind.Object } envObject)
                foreach (var variable in envObject.EnumerateObject()) env[variable.Name] = variable.Value.GetString() ?? "";
            IReadOnlyList<JsonNode>? Nodes(string key) => Get(p, key) is { ValueKind: JsonValueKind.Array } list
                ? list.EnumerateArray().Select(e => JsonNode.Parse(e.GetRawText())!).ToList()
                : null;
            profiles.Add(new ProviderProfile(entry.Name, String(p, "extends"), String(p, "label"), String(p, "description"), command, env,
                Bool(p, "enabled") ?? true, Nodes("models"), Nodes("additionalModels"), Strings(Get(p, "disallowedTools"))));
        }
        return profiles;
    }

    /// <summary>
    /// Stores a bcrypt hash in daemon.auth.password, keeping every other key as it was. The file must be valid
    /// first: a broken file is reported, never overwritten.
    /// </summary>
    public static void SetPasswordHash(PaseoHome home, string bcryptHash)
    {
        LoadOrCreate(home);
        var root = JsonNode.Parse(File.ReadAllText(home.ConfigJson))!.AsObject();
        var daemon = root["daemon"] as JsonObject ?? (JsonObject)(root["daemon"] = new JsonObject());
        var auth = daemon["auth"] as JsonObject ?? (JsonObject)(daemon["auth"] = new JsonObject());
        auth["password"] = bcryptHash;
        var text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        using (var check = JsonDocument.Parse(text)) Read(check.RootElement, home.ConfigJson);
        PrivateFiles.WriteAtomically(home.ConfigJson, text);
    }

    private static JsonElement? Get(JsonElement? parent, string key) =>
        parent is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(key, out var v) ? v : null;

    private static string? String(JsonElement? parent, string key) => Get(parent, key)?.GetString();

    private static bool? Bool(JsonElement? parent, string key) => Get(parent, key)?.GetBoolean();

    private static IReadOnlyList<string> Strings(JsonElement? array) =>
        array is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray().Select(e => e.GetString()!).ToList() : [];

    private static HostnamesSetting ReadHostnames(JsonElement? value) => value switch
    {
        { ValueKind: JsonValueKind.True } => new HostnamesSetting(true, []),
        { ValueKind: JsonValueKind.Array } a => new HostnamesSetting(false, Strings(a)),
        _ => HostnamesSetting.None,
    };
}

/// <summary>Sizes written as Paseo writes them: "10m", "512k", "1g", or a plain byte count.</summary>
public static class ByteSize
{
    public const long Minimum = 1024;
    public const long Maximum = 1L << 40;

    /// <summary>Parses a size; throws <see cref="ConfigException"/> outside 1 KiB .. 1 TiB.</summary>
    public static long Parse(string text, string where = "log.file.rotate.maxSize")
    {
        var t = text.Trim().ToLowerInvariant().TrimEnd('b');
        var multiplier = 1L;
        if (t.EndsWith('k')) multiplier = 1024;
        else if (t.EndsWith('m')) multiplier = 1024 * 1024;
        else if (t.EndsWith('g')) multiplier = 1024L * 1024 * 1024;
        if (multiplier != 1) t = t[..^1];
        if (!long.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n > Maximum / multiplier || n * multiplier < Minimum)
            throw new ConfigException($"{where}: expected a size from 1k to 1024g, got \"{text}\"");
        return n * multiplier;
    }
}
