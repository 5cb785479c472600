using System.Text.Json.Nodes;
using Paseo.Host.Cli.Agents;
using Paseo.Host.Cli.Output;
using YamlDotNet.RepresentationModel;

namespace Paseo.Host.Tests.Cli;

/// <summary>The CLI's pieces that need no daemon: tables, YAML, id resolution, durations.</summary>
public sealed class CliOutputTests
{
    private static readonly Column[] Columns =
    [
        new("ID", r => r["id"]!.GetValue<string>()),
        new("STATUS", r => r["status"]!.GetValue<string>(), s => s == "running" ? CliOutput.Green : null),
    ];

    private static JsonObject[] Rows => [new() { ["id"] = "a1", ["status"] = "running" }, new() { ["id"] = "b22222", ["status"] = "idle" }];

    [Fact]
    public void Piped_tables_are_plain_aligned_and_have_no_trailing_spaces()
    {
        var stdout = new StringWriter();
        new CliOutput(stdout, TextWriter.Null, OutputFormat.Table, false, false, noColor: false, interactive: false).List(Rows, Columns, r => r["id"]!.GetValue<string>());
        Assert.Equal("ID      STATUS\na1      running\nb22222  idle\n", stdout.ToString());
    }

    [Fact]
    public void Terminal_tables_colour_the_status_unless_told_not_to()
    {
        var coloured = new StringWriter();
        new CliOutput(coloured, TextWriter.Null, OutputFormat.Table, false, true, noColor: false, interactive: true).List(Rows, Columns, r => "");
        Assert.Equal("a1      \e[32mrunning\e[0m\nb22222  idle\n", coloured.ToString());
        var plain = new StringWriter();
        new CliOutput(plain, TextWriter.Null, OutputFormat.Table, false, true, noColor: true, interactive: true).List(Rows, Columns, r => "");
        Assert.DoesNotContain("\e[", plain.ToString());
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("true")]
    [InlineData("123")]
    [InlineData("- dash")]
    [InlineData("key: value # comment")]
    [InlineData("")]
    [InlineData("line\nbreak \"quoted\"")]
    [InlineData("2026-11-26T10:00:00.000Z")]
    public void Yaml_reads_back_every_string_as_the_same_string(string value)
    {
        var yaml = Yaml.Write(new JsonObject { ["list"] = new JsonArray(new JsonObject { ["v"] = value, ["n"] = 3, ["nothing"] = null }), ["empty"] = new JsonArray() });
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var item = (YamlMappingNode)((YamlSequenceNode)root["list"])[0];
        var scalar = (YamlScalarNode)item["v"];
        Assert.Equal(value, scalar.Value);
        if (value is "true" or "123" or "") Assert.NotEqual(YamlDotNet.Core.ScalarStyle.Plain, scalar.Style);
        Assert.Equal("3", ((YamlScalarNode)item["n"]).Value);
        Assert.Empty((YamlSequenceNode)root["empty"]);
    }

    private static JsonObject Agent(string id, string? title) => new() { ["id"] = id, ["title"] = title };

    [Fact]
    public void Ids_resolve_exact_then_prefix_then_title_and_never_guess()
    {
        JsonObject[] agents = [Agent("abc123", "Build API"), Agent("abd456", "build docs"), Agent("ffff00", "Review")];
        Assert.Equal("abc123", AgentIds.Resolve(agents, "abc123")["id"]!.GetValue<string>());
        Assert.Equal("abc123", AgentIds.Resolve(agents, "abc")["id"]!.GetValue<string>());
        Assert.Equal("ffff00", AgentIds.Resolve(agents, "review")["id"]!.GetValue<string>());
        Assert.Equal("abd456", AgentIds.Resolve(agents, "docs")["id"]!.GetValue<string>());
        Assert.Equal("AMBIGUOUS_AGENT", Assert.Throws<CliException>(() => AgentIds.Resolve(agents, "ab")).Code);
        Assert.Equal("AMBIGUOUS_AGENT", Assert.Throws<CliException>(() => AgentIds.Resolve(agents, "build")).Code);
        Assert.Equal("AGENT_NOT_FOUND", Assert.Throws<CliException>(() => AgentIds.Resolve(agents, "zzz")).Code);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1500ms", 1_500)]
    [InlineData("2", 2_000)]
    public void Durations_read_units(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Durations.Parse(text, "--timeout"));

    [Theory]
    [InlineData("soon")]
    [InlineData("-5s")]
    [InlineData("1e300d")]
    public void Bad_durations_are_refused(string text) =>
        Assert.Equal("INVALID_DURATION", Assert.Throws<CliException>(() => Durations.Parse(text, "--timeout")).Code);
}
