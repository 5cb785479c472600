using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Files;

namespace Paseo.Transport.Configuration;

/// <summary>
/// get/set_daemon_config (app-workspaces.md §7): the part of config.json clients may change — `daemon.mcp.injectIntoAgents`
/// and `agents.providers.&lt;id&gt;.enabled/additionalModels` — read and patched with config.json's own strict checks, written
/// atomically. Provider changes take effect when the daemon next starts (its providers are built once, at start).
/// </summary>
public static class DaemonConfigPatch
{
    /// <summary>The MutableConfig of config.json: `{mcp:{injectIntoAgents}, providers:{id:{enabled?, additionalModels?}}}`.</summary>
    public static JsonObject Read(string configPath)
    {
        var root = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? [] : [];
        var inject = root["daemon"]?["mcp"]?["injectIntoAgents"] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False && v.GetValue<bool>();
        var providers = new JsonObject();
        if (root["agents"]?["providers"] is JsonObject configured)
            foreach (var (id, entry) in configured)
            {
                if (entry is not JsonObject e) continue;
                var mutable = new JsonObject();
                if (e["enabled"] is JsonValue enabled) mutable["enabled"] = enabled.DeepClone();
                if (e["additionalModels"] is JsonArray models) mutable["additionalModels"] = models.DeepClone();
                providers[id] = mutable;
            }
        return new JsonObject { ["mcp"] = new JsonObject { ["injectIntoAgents"] = inject }, ["providers"] = providers };
    }

    /// <summary>Applies <paramref name="patch"/>; returns the resulting MutableConfig and whether the file changed. Throws <see cref="ConfigException"/> with the reason.</summary>
    public static (JsonObject Config, bool Changed) Apply(string configPath, JsonObject patch)
    {
        foreach (var (key, _) in patch)
            if (key is not ("mcp" or "providers")) throw new ConfigException($"config.{key}: not a setting clients may change (mcp, providers)");
        var text = File.Exists(configPath) ? File.ReadAllText(configPath) : "{}";
        var root = JsonNode.Parse(text) as JsonObject ?? throw new ConfigException($"{configPath}: not a JSON object");
        if (patch["mcp"] is { } mcp)
        {
            if (mcp is not JsonObject m) throw new ConfigException("config.mcp: expected an object");
            foreach (var (key, value) in m)
            {
                if (key != "injectIntoAgents") throw new ConfigException($"config.mcp.{key}: not a setting clients may change");
                if (value is not JsonValue b || b.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) throw new ConfigException("config.mcp.injectIntoAgents: expected true or false");
                Object(Object(root, "daemon"), "mcp")["injectIntoAgents"] = b.GetValue<bool>();
            }
        }
        if (patch["providers"] is { } providers)
        {
            if (providers is not JsonObject p) throw new ConfigException("config.providers: expected an object");
            foreach (var (id, entry) in p)
            {
                if (entry is not JsonObject e) throw new ConfigException($"config.providers.{id}: expected an object");
                foreach (var (key, value) in e)
                {
                    if (key == "enabled")
                    {
                        if (value is not JsonValue b || b.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) throw new ConfigException($"config.providers.{id}.enabled: expected true or false");
                        Object(Object(Object(root, "agents"), "providers"), id)["enabled"] = b.GetValue<bool>();
                    }
                    else if (key == "additionalModels")
                    {
                        if (value is not JsonArray models || models.Any(mo => mo is not JsonObject o || o["id"] is not JsonValue i || i.GetValueKind() != JsonValueKind.String
                                || o["label"] is not JsonValue l || l.GetValueKind() != JsonValueKind.String || i.GetValue<string>().Length == 0 || l.GetValue<string>().Length == 0))
                            throw new ConfigException($"config.providers.{id}.additionalModels: expected [{{id, label, description?, isDefault?}}] with non-empty id and label");
                        Object(Object(Object(root, "agents"), "providers"), id)["additionalModels"] = models.DeepClone();
                    }
                    else throw new ConfigException($"config.providers.{id}.{key}: not a setting clients may change (enabled, additionalModels)");
                }
            }
        }
        var updated = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        // The same strict reading the daemon does at start: a patch that would make config.json invalid is refused.
        using (var check = JsonDocument.Parse(updated)) ConfigFile.Read(check.RootElement, configPath);
        var changed = updated != text;
        if (changed) PrivateFiles.WriteAtomically(configPath, updated);
        return (Read(configPath), changed);
    }

    private static JsonObject Object(JsonObject parent, string key) =>
        parent[key] as JsonObject ?? (parent[key] is null ? (JsonObject)(parent[key] = new JsonObject()) : throw new ConfigException($"{key}: expected an object"));
}
