using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Transport.Tests.Loops;

/// <summary>The one-entry digest of a timeline item that a loop logs for its worker and verifier (§3.3).</summary>
public sealed class TimelineDigestTests
{
    [Theory]
    [InlineData("""{"type":"assistant_message","text":"Fixed it."}""", "Fixed it.")]
    [InlineData("""{"type":"user_message","text":"Make it pass"}""", "[User] Make it pass")]
    [InlineData("""{"type":"reasoning","text":"Hmm"}""", "[Thought] Hmm")]
    [InlineData("""{"type":"tool_call","callId":"c","name":"Bash","detail":{"type":"shell","command":"npm test"},"status":"running","error":null}""", "[Shell] npm test")]
    [InlineData("""{"type":"tool_call","callId":"c","name":"Read","detail":{"type":"read","filePath":"/a/b.ts"},"status":"completed","error":null}""", "[Read] /a/b.ts")]
    [InlineData("""{"type":"tool_call","callId":"c","name":"mcp__x__y","detail":{"type":"unknown","input":null,"output":null},"status":"running","error":null}""", "[mcp__x__y]")]
    [InlineData("""{"type":"todo","items":[{"text":"a","completed":true},{"text":"b","completed":false}]}""", "[Tasks]\n- [x] a\n- [ ] b")]
    [InlineData("""{"type":"error","message":"boom"}""", "[Error] boom")]
    [InlineData("""{"type":"compaction","status":"completed"}""", "[Compacted]")]
    public void Each_item_has_its_entry(string item, string expected) => Assert.Equal(expected, TimelineDigest.Of(JsonNode.Parse(item)!.AsObject()));

    [Theory]
    [InlineData("""{"type":"assistant_message","text":""}""")]
    [InlineData("""{"type":"compaction","status":"loading"}""")]
    public void Items_that_say_nothing_have_none(string item) => Assert.Null(TimelineDigest.Of(JsonNode.Parse(item)!.AsObject()));
}
