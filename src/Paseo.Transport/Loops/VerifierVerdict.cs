using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Paseo.Transport.Loops;

/// <summary>
/// The verifier's JSON protocol (app-orchestration.md §3.4): the prompt that asks for a verdict, how the verdict is read
/// out of the answer, and the prompt that asks again with what was wrong.
/// </summary>
public static partial class VerifierVerdict
{
    /// <summary>Attempts before the loop fails: the first prompt and two more.</summary>
    public const int MaxAttempts = 3;

    public const string GaveUp = "Agent response did not match the required JSON schema";

    // Pretty-printed with one key per line, as Paseo sends it.
    private const string Schema = """
        {
          "$ref": "#/definitions/LoopVerifierResult",
          "definitions": {
            "LoopVerifierResult": {
              "type": "object",
              "properties": {
                "passed": {
                  "type": "boolean"
                },
                "reason": {
                  "type": "string",
                  "minLength": 1
                }
              },
              "required": [
                "passed",
                "reason"
              ],
              "additionalProperties": false
            }
          },
          "$schema": "http://json-schema.org/draft-07/schema#"
        }
        """;

    public static string Prompt(string verifyPrompt) =>
        verifyPrompt.Trim() + "\n\nYou must respond with JSON only that matches this JSON Schema:\n" + Schema;

    public static string Retry(string verifyPrompt, IReadOnlyList<string> problems) =>
        Prompt(verifyPrompt) + "\n\nPrevious response was invalid with validation errors:\n" +
        string.Join("\n", problems.Select(p => "- " + p)) + "\n\nRespond again with JSON only that matches the schema.";

    /// <summary>A verdict, or the problems to send back (each "path: problem").</summary>
    public sealed record Reading(bool Passed, string? Reason, IReadOnlyList<string> Problems)
    {
        public bool Valid => Problems.Count == 0;
    }

    [GeneratedRegex(@"```(?:json)?[ \t]*\r?\n?(.*?)```", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex Fenced();

    public static Reading Read(string answer)
    {
        var candidate = Extract(answer);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(candidate);
        }
        catch (JsonException e)
        {
            return new Reading(false, null, [$"Invalid JSON: {e.Message}"]);
        }
        if (node is not JsonObject verdict) return new Reading(false, null, [$"(root): Expected object, received {Kind(node)}"]);
        var problems = new List<string>();
        var passed = false;
        string? reason = null;
        switch (verdict["passed"])
        {
            case null when !verdict.ContainsKey("passed"):
                problems.Add("passed: Required");
                break;
            case JsonValue v when v.TryGetValue<bool>(out var b):
                passed = b;
                break;
            case var other:
                problems.Add($"passed: Expected boolean, received {Kind(other)}");
                break;
        }
        switch (verdict["reason"])
        {
            case null when !verdict.ContainsKey("reason"):
                problems.Add("reason: Required");
                break;
            case JsonValue v when v.TryGetValue<string>(out var s):
                if (s.Length == 0) problems.Add("reason: String must contain at least 1 character(s)");
                else reason = s;
                break;
            case var other:
                problems.Add($"reason: Expected string, received {Kind(other)}");
                break;
        }
        return new Reading(passed, reason, problems);
    }

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "array",
        JsonObject => "object",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
        _ => "unknown",
    };

    /// <summary>The first fenced block; else the first balanced object or array that parses; else the whole text.</summary>
    private static string Extract(string answer)
    {
        var fenced = Fenced().Match(answer);
        if (fenced.Success) return fenced.Groups[1].Value.Trim();
        for (var start = 0; start < answer.Length; start++)
        {
            if (answer[start] is not ('{' or '[')) continue;
            if (Balanced(answer, start) is { } end)
            {
                var slice = answer[start..(end + 1)];
                try
                {
                    JsonNode.Parse(slice);
                    return slice;
                }
                catch (JsonException)
                {
                    // Not JSON after all: try the next opening bracket.
                }
            }
        }
        return answer.Trim();
    }

    /// <summary>Where the bracket at <paramref name="start"/> closes, skipping strings; null if it never does.</summary>
    private static int? Balanced(string text, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
                continue;
            }
            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '{' or '[':
                    depth++;
                    break;
                case '}' or ']':
                    if (--depth == 0) return i;
                    break;
            }
        }
        return null;
    }
}
