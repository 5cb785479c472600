using System.Text.Json;
using System.Text.RegularExpressions;

namespace Paseo.Transport.Configuration;

/// <summary>One problem found in a JSON document: where (a key path such as <c>daemon.cors.allowedOrigins[1]</c>) and what.</summary>
public sealed record ConfigIssue(string Path, string Problem)
{
    public override string ToString() => $"{(Path.Length == 0 ? "(root)" : Path)}: {Problem}";
}

/// <summary>
/// A small strict schema language: each node checks one JSON value and reports every issue with its key path.
/// Strict objects reject unknown keys, as Paseo's own schema does at every level.
/// </summary>
public abstract class JsonSchemaNode
{
    public abstract string Expected { get; }

    public abstract void Check(JsonElement value, string path, List<ConfigIssue> issues);

    protected static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string {JsonSerializer.Serialize(value.GetString())}",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString(),
    };

    protected void Mismatch(JsonElement value, string path, List<ConfigIssue> issues) =>
        issues.Add(new ConfigIssue(path, $"expected {Expected}, got {Describe(value)}"));

    public static string Child(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
}

public static class Schema
{
    public static JsonSchemaNode Str(string? pattern = null, string? patternDescription = null) => new StringNode(pattern, patternDescription);
    public static JsonSchemaNode Bool() => new BoolNode();
    public static JsonSchemaNode Int(long min = long.MinValue, long max = long.MaxValue) => new IntNode(min, max);
    public static JsonSchemaNode Number() => new NumberNode();
    public static JsonSchemaNode Literal(long value) => new IntNode(value, value);
    public static JsonSchemaNode Enum(params string[] values) => new EnumNode(values);
    public static JsonSchemaNode True() => new TrueNode();
    public static JsonSchemaNode ArrayOf(JsonSchemaNode item) => new ArrayNode(item);
    public static JsonSchemaNode AnyOf(params JsonSchemaNode[] options) => new AnyOfNode(options);
    public static JsonSchemaNode AnyObject() => new AnyObjectNode();
    public static JsonSchemaNode RecordOf(JsonSchemaNode value, string? keyPattern = null) => new RecordNode(value, keyPattern);
    public static ObjectNode Object(params (string Key, JsonSchemaNode Node)[] fields) => new(fields, strict: true);
    public static ObjectNode OpenObject(params (string Key, JsonSchemaNode Node)[] fields) => new(fields, strict: false);

    private sealed class StringNode(string? pattern, string? patternDescription) : JsonSchemaNode
    {
        private readonly Regex? _regex = pattern is null ? null : new Regex(pattern, RegexOptions.CultureInvariant);
        public override string Expected => patternDescription ?? "a string";

        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.String) { Mismatch(value, path, issues); return; }
            if (_regex is not null && !_regex.IsMatch(value.GetString()!))
                issues.Add(new ConfigIssue(path, $"expected {Expected}, got a string that does not match"));
        }
    }

    private sealed class BoolNode : JsonSchemaNode
    {
        public override string Expected => "true or false";
        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) Mismatch(value, path, issues);
        }
    }

    private sealed class TrueNode : JsonSchemaNode
    {
        public override string Expected => "true";
        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.True) Mismatch(value, path, issues);
        }
    }

    private sealed class IntNode(long min, long max) : JsonSchemaNode
    {
        public override string Expected => min == max ? $"the number {min}"
            : min == long.MinValue ? "a whole number" : $"a whole number from {min}" + (max == long.MaxValue ? " up" : $" to {max}");

        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n) || n < min || n > max)
                Mismatch(value, path, issues);
        }
    }

    private sealed class NumberNode : JsonSchemaNode
    {
        public override string Expected => "a number";
        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.Number) Mismatch(value, path, issues);
        }
    }

    private sealed class EnumNode(string[] values) : JsonSchemaNode
    {
        public override string Expected => "one of " + string.Join(", ", values.Select(v => $"\"{v}\""));
        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.String || !values.Contains(value.GetString(), StringComparer.Ordinal))
                Mismatch(value, path, issues);
        }
    }

    private sealed class ArrayNode(JsonSchemaNode item) : JsonSchemaNode
    {
        public override string Expected => $"an array of {Plural(item.Expected)}";

        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.Array) { Mismatch(value, path, issues); return; }
            var i = 0;
            foreach (var element in value.EnumerateArray()) item.Check(element, $"{path}[{i++}]", issues);
        }

        private static string Plural(string expected) => expected.StartsWith("a ", StringComparison.Ordinal) ? expected[2..] + "s"
            : expected.StartsWith("an ", StringComparison.Ordinal) ? expected[3..] + "s" : expected;
    }

    private sealed class AnyOfNode(JsonSchemaNode[] options) : JsonSchemaNode
    {
        public override string Expected => string.Join(" or ", options.Select(o => o.Expected));

        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            List<ConfigIssue>? best = null;
            foreach (var option in options)
            {
                var attempt = new List<ConfigIssue>();
                option.Check(value, path, attempt);
                if (attempt.Count == 0) return;
                // An option whose issues are deeper than this node matched the value's shape: report those.
                if (best is null || attempt.All(i => i.Path != path)) best = attempt;
            }
            if (best is not null && best.All(i => i.Path != path)) issues.AddRange(best);
            else Mismatch(value, path, issues);
        }
    }

    private sealed class AnyObjectNode : JsonSchemaNode
    {
        public override string Expected => "an object";
        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.Object) Mismatch(value, path, issues);
        }
    }

    private sealed class RecordNode(JsonSchemaNode valueNode, string? keyPattern) : JsonSchemaNode
    {
        private readonly Regex? _key = keyPattern is null ? null : new Regex(keyPattern, RegexOptions.CultureInvariant);
        public override string Expected => "an object";

        public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
        {
            if (value.ValueKind != JsonValueKind.Object) { Mismatch(value, path, issues); return; }
            foreach (var property in value.EnumerateObject())
            {
                var childPath = Child(path, property.Name);
                if (_key is not null && !_key.IsMatch(property.Name))
                    issues.Add(new ConfigIssue(childPath, $"invalid key: expected a name matching {keyPattern}"));
                else valueNode.Check(property.Value, childPath, issues);
            }
        }
    }
}

/// <summary>An object with known keys. Strict objects report unknown keys; open ones pass them through.</summary>
public sealed class ObjectNode : JsonSchemaNode
{
    private readonly Dictionary<string, JsonSchemaNode> _fields;
    private readonly bool _strict;
    private readonly List<(Func<JsonElement, bool> When, string Key, string Why)> _required = [];

    internal ObjectNode((string Key, JsonSchemaNode Node)[] fields, bool strict)
    {
        _fields = fields.ToDictionary(f => f.Key, f => f.Node, StringComparer.Ordinal);
        _strict = strict;
    }

    public override string Expected => "an object";

    /// <summary>Marks a key as required when the object satisfies a condition (e.g. custom provider ids need a label).</summary>
    public ObjectNode Require(string key, string why, Func<JsonElement, bool>? when = null)
    {
        _required.Add((when ?? (_ => true), key, why));
        return this;
    }

    public override void Check(JsonElement value, string path, List<ConfigIssue> issues)
    {
        if (value.ValueKind != JsonValueKind.Object) { Mismatch(value, path, issues); return; }
        foreach (var property in value.EnumerateObject())
        {
            var childPath = Child(path, property.Name);
            if (_fields.TryGetValue(property.Name, out var node)) node.Check(property.Value, childPath, issues);
            else if (_strict)
                issues.Add(new ConfigIssue(childPath, $"unknown key (expected one of: {string.Join(", ", _fields.Keys)})"));
        }
        foreach (var (when, key, why) in _required)
        {
            if (!value.TryGetProperty(key, out _) && when(value))
                issues.Add(new ConfigIssue(Child(path, key), $"missing: {why}"));
        }
    }
}
