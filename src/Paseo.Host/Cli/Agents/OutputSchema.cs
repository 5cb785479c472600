using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Paseo.Host.Cli.Output;

namespace Paseo.Host.Cli.Agents;

/// <summary>
/// `paseo run --output-schema file|json`: the schema goes to the daemon with the request (providers that support structured
/// output use it), and the CLI prints only the agent's final JSON, and only when it validates; otherwise OUTPUT_SCHEMA_MISMATCH
/// with the validation errors and the text the agent gave.
/// </summary>
public sealed class OutputSchema
{
    private readonly JsonSchema _schema;

    public JsonNode Document { get; }

    private OutputSchema(JsonNode document, JsonSchema schema)
    {
        Document = document;
        _schema = schema;
    }

    /// <summary>Inline JSON when the value starts with `{`, otherwise a file path.</summary>
    public static OutputSchema Load(string value)
    {
        string text;
        if (value.TrimStart().StartsWith('{'))
        {
            text = value;
        }
        else
        {
            try
            {
                text = File.ReadAllText(value);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException("INVALID_OUTPUT_SCHEMA", $"--output-schema {value}: {e.Message}");
            }
        }
        try
        {
            var document = JsonNode.Parse(text) ?? throw new JsonException("the schema is null");
            if (document is not JsonObject) throw new JsonException("the schema must be a JSON object");
            return new OutputSchema(document, JsonSchema.FromText(text));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new CliException("INVALID_OUTPUT_SCHEMA", $"--output-schema: not a valid JSON schema: {e.Message}");
        }
    }

    /// <summary>The JSON in the agent's final message (the whole text, or the last ```json fenced block) if it validates.</summary>
    public JsonNode Check(string? lastMessage)
    {
        if (string.IsNullOrWhiteSpace(lastMessage))
            throw new CliException("OUTPUT_SCHEMA_MISMATCH", "the agent gave no final message to check against the output schema");
        var candidate = Extract(lastMessage);
        JsonNode? value;
        try
        {
            value = JsonNode.Parse(candidate);
        }
        catch (JsonException)
        {
            throw new CliException("OUTPUT_SCHEMA_MISMATCH", "the agent's final message is not JSON",
                new JsonObject { ["output"] = lastMessage });
        }
        using var instance = JsonDocument.Parse(candidate);
        var result = _schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });
        if (result.IsValid) return value ?? JsonValue.Create((string?)null)!;
        var errors = new JsonArray();
        foreach (var detail in result.Details ?? [])
            foreach (var (keyword, message) in detail.Errors ?? new Dictionary<string, string>())
                errors.Add($"{(detail.InstanceLocation.ToString() is { Length: > 0 } at ? at : "/")}: {message} ({keyword})");
        if (result.Errors is { } top)
            foreach (var (keyword, message) in top) errors.Add($"/: {message} ({keyword})");
        throw new CliException("OUTPUT_SCHEMA_MISMATCH",
            $"the agent's output does not match the output schema: {string.Join("; ", errors.Select(e => e!.GetValue<string>()).Take(5))}",
            new JsonObject { ["errors"] = errors, ["output"] = value?.DeepClone() });
    }

    private static string Extract(string text)
    {
        var trimmed = text.Trim();
        var fence = trimmed.LastIndexOf("```json", StringComparison.OrdinalIgnoreCase);
        if (fence < 0) return trimmed;
        var start = trimmed.IndexOf('\n', fence);
        var end = start < 0 ? -1 : trimmed.IndexOf("```", start, StringComparison.Ordinal);
        return start < 0 || end < 0 ? trimmed : trimmed[(start + 1)..end].Trim();
    }
}
