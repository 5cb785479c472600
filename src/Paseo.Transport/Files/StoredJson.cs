using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Files;

/// <summary>
/// Reading and writing the JSON records the daemon keeps under $PASEO_HOME (chat rooms, schedules): a field that is not
/// what it must be is a <see cref="FormatException"/> naming it, which the stores report as a damaged file.
/// </summary>
public static class StoredJson
{
    /// <summary>Pretty-printed with two spaces, as Paseo writes its files.</summary>
    public static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, IndentSize = 2 };

    public static string Required(JsonObject json, string key) => WsInbound.Str(json, key) ?? throw new FormatException($"\"{key}\" must be a string");

    /// <summary>A string or null (absent is null).</summary>
    public static string? Nullable(JsonObject json, string key) => json[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new FormatException($"\"{key}\" must be a string or null"),
    };

    public static string OneOf(string value, string[] allowed, string what) =>
        allowed.Contains(value) ? value : throw new FormatException($"{what} must be {string.Join(", ", allowed)}, got \"{value}\"");
}
