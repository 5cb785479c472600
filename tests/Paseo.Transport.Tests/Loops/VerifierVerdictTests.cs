using Paseo.Transport.Loops;

namespace Paseo.Transport.Tests.Loops;

/// <summary>The verifier's JSON protocol (§3.4): the prompt, where the verdict is read from, and what is sent back when it is wrong.</summary>
public sealed class VerifierVerdictTests
{
    [Fact]
    public void The_prompt_is_the_trimmed_request_a_blank_line_and_the_schema()
    {
        var prompt = VerifierVerdict.Prompt("  Check the tests.  ");
        Assert.StartsWith("Check the tests.\n\nYou must respond with JSON only that matches this JSON Schema:\n{\n  \"$ref\": \"#/definitions/LoopVerifierResult\",", prompt);
        Assert.EndsWith("  \"$schema\": \"http://json-schema.org/draft-07/schema#\"\n}", prompt);
        var schema = System.Text.Json.Nodes.JsonNode.Parse(prompt[(prompt.IndexOf('{'))..])!;
        Assert.Equal(["passed", "reason"], schema["definitions"]!["LoopVerifierResult"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(1, schema["definitions"]!["LoopVerifierResult"]!["properties"]!["reason"]!["minLength"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("{\"passed\": true, \"reason\": \"ok\"}", true, "ok")]
    [InlineData("Here it is:\n```json\n{\"passed\": false, \"reason\": \"2 skipped\"}\n```\nDone.", false, "2 skipped")]
    [InlineData("```\n{\"passed\": true, \"reason\": \"fenced without a language\"}\n```", true, "fenced without a language")]
    [InlineData("I think {not json} but then {\"passed\": true, \"reason\": \"the second {brace} parses\", \"extra\": 1} ok", true, "the second {brace} parses")]
    public void A_verdict_is_read_from_a_fence_or_the_first_object_that_parses(string answer, bool passed, string reason)
    {
        var reading = VerifierVerdict.Read(answer);
        Assert.True(reading.Valid, string.Join("; ", reading.Problems));
        Assert.Equal(passed, reading.Passed);
        Assert.Equal(reason, reading.Reason);
    }

    [Theory]
    [InlineData("{\"passed\": true, \"reason\": \"\"}", "reason: String must contain at least 1 character(s)")]
    [InlineData("{\"reason\": \"x\"}", "passed: Required")]
    [InlineData("{\"passed\": \"yes\", \"reason\": \"x\"}", "passed: Expected boolean, received string")]
    [InlineData("[1]", "(root): Expected object, received array")]
    [InlineData("nope", "Invalid JSON: ")]
    public void A_wrong_answer_names_each_problem(string answer, string problem)
    {
        var reading = VerifierVerdict.Read(answer);
        Assert.False(reading.Valid);
        Assert.Contains(reading.Problems, p => p.StartsWith(problem, StringComparison.Ordinal));
    }

    [Fact]
    public void The_retry_repeats_the_prompt_and_lists_the_problems()
    {
        var retry = VerifierVerdict.Retry("Check.", ["reason: Required", "passed: Required"]);
        Assert.StartsWith(VerifierVerdict.Prompt("Check.") + "\n\nPrevious response was invalid with validation errors:\n- reason: Required\n- passed: Required\n\n", retry);
        Assert.EndsWith("Respond again with JSON only that matches the schema.", retry);
    }
}
