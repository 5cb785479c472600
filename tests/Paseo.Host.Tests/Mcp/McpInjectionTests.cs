using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Paseo.Host.Tests.Providers;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Mcp;

/// <summary>
/// Injection of the daemon's MCP server into the agents it creates (app-orchestration.md §4.2), with the stand-ins of
/// Claude Code, Codex, OpenCode and an ACP agent, which log what they were given: each gets the `paseo` entry with its
/// own callerAgentId and a credential — which the real endpoint accepts, with a daemon password set, for that agent
/// only. Claude's credential is in its environment, not on its command line. With injection off nothing is given, and
/// the app's switch (set_daemon_config_request) turns it on for agents created afterwards.
/// </summary>
public sealed class McpInjectionTests : IDisposable
{
    private const string Password = "inject-s3cret";
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"fake-mcp-{Guid.NewGuid():N}.jsonl");
    private readonly string _claudeLog = Path.Combine(Path.GetTempPath(), $"fake-claude-{Guid.NewGuid():N}.jsonl");

    public void Dispose()
    {
        File.Delete(_log);
        File.Delete(_claudeLog);
    }

    private string Config(bool inject)
    {
        JsonObject Profile(string script, string? extends = null)
        {
            var profile = new JsonObject
            {
                ["command"] = new JsonArray("node", StandIns.Path(script)),
                ["env"] = new JsonObject { ["FAKE_MCP_LOG"] = _log, ["FAKE_CLAUDE_LOG"] = _claudeLog, ["IS_SANDBOX"] = "1" },
            };
            if (extends is not null)
            {
                profile["extends"] = extends;
                profile["label"] = "Fake ACP";
            }
            return profile;
        }
        return new JsonObject
        {
            ["version"] = 1,
            ["daemon"] = new JsonObject { ["mcp"] = new JsonObject { ["injectIntoAgents"] = inject } },
            ["agents"] = new JsonObject
            {
                ["providers"] = new JsonObject
                {
                    ["claude"] = Profile("fake-claude.mjs"), ["codex"] = Profile("fake-codex.mjs"), ["opencode"] = Profile("fake-opencode.mjs"),
                    ["fake-acp"] = Profile("fake-acp.mjs", "acp"),
                },
            },
        }.ToJsonString();
    }

    private static async Task<McpClient> Connect(Uri endpoint, string authorization) =>
        await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp, AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = authorization },
        }));

    private List<JsonObject> Logged() => File.Exists(_log) ? [.. File.ReadAllLines(_log).Select(l => JsonNode.Parse(l)!.AsObject())] : [];

    /// <summary>The URL and Authorization a stand-in was given, whatever the provider's shape.</summary>
    private static (string Url, string Authorization) Entry(JsonObject logged)
    {
        switch (logged["provider"]!.GetValue<string>())
        {
            case "claude":
                var server = logged["config"]!["mcpServers"]!["paseo"]!;
                Assert.Equal("http", server["type"]!.GetValue<string>());
                // Not on the command line: the header names the variable, the value is in the agent's environment.
                Assert.Equal("${PASEO_MCP_AUTHORIZATION}", server["headers"]!["Authorization"]!.GetValue<string>());
                return (server["url"]!.GetValue<string>(), logged["authorization"]!.GetValue<string>());
            case "codex":
                var codex = logged["mcpServers"]!["paseo"]!;
                return (codex["url"]!.GetValue<string>(), codex["http_headers"]!["Authorization"]!.GetValue<string>());
            case "acp":
                var acp = logged["mcpServers"]![0]!;
                Assert.Equal(("http", "paseo"), (acp["type"]!.GetValue<string>(), acp["name"]!.GetValue<string>()));
                var header = acp["headers"]!.AsArray().Single(h => h!["name"]!.GetValue<string>() == "Authorization")!;
                return (acp["url"]!.GetValue<string>(), header["value"]!.GetValue<string>());
            default:
                var add = logged["add"]!;
                Assert.Equal(("paseo", "remote", true), (add["name"]!.GetValue<string>(), add["config"]!["type"]!.GetValue<string>(), add["config"]!["enabled"]!.GetValue<bool>()));
                return (add["config"]!["url"]!.GetValue<string>(), add["config"]!["headers"]!["Authorization"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Every_provider_gets_the_entry_with_a_credential_the_endpoint_accepts_for_that_agent_only()
    {
        await using var daemon = await InProcessDaemon.StartAsync(configJson: Config(inject: true), env: new Dictionary<string, string?> { ["PASEO_PASSWORD"] = Password });
        var work = daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var endpoint = new Uri(daemon.BaseUri, "mcp/agents");
        await using var top = await Connect(endpoint, "Bearer " + Password);

        var agents = new Dictionary<string, string>();
        foreach (var provider in new[] { "claude/sonnet", "codex/fake-large", "fake-acp/fast", "opencode/fake/fake-1" })
        {
            var created = await top.CallToolAsync("create_agent", new Dictionary<string, object?>
            {
                ["title"] = provider.Split('/')[0], ["provider"] = provider, ["initialPrompt"] = "hello", ["cwd"] = work, ["background"] = true,
            });
            Assert.True(created.IsError is not true, string.Join(" ", created.Content.OfType<TextContentBlock>().Select(t => t.Text)));
            agents[provider.Split('/')[0]] = created.StructuredContent!.Value.GetProperty("agentId").GetString()!;
        }

        await Eventually.HoldsAsync(() => Logged().Select(l => l["provider"]!.GetValue<string>()).Distinct().Count() == 4
            && Logged().Any(l => l["connect"] is not null), "every stand-in to log its MCP entry");
        var logged = Logged();
        foreach (var (name, agentId) in agents)
        {
            var entry = logged.First(l => l["provider"]!.GetValue<string>() == (name == "fake-acp" ? "acp" : name) && l["connect"] is null);
            var (url, authorization) = Entry(entry);
            Assert.Equal($"{endpoint}?callerAgentId={agentId}", url);
            Assert.StartsWith("Bearer pma_", authorization);

            // The credential works, with the daemon password set, as that agent (the caller variant of the tools)…
            await using var asAgent = await Connect(new Uri(url), authorization);
            var tools = await asAgent.ListToolsAsync();
            Assert.Equal(29, tools.Count);
            var self = await asAgent.CallToolAsync("get_agent_status", new Dictionary<string, object?> { ["agentId"] = agentId });
            Assert.True(self.IsError is not true);
            Assert.Equal(agentId, self.StructuredContent!.Value.GetProperty("snapshot").GetProperty("id").GetString());
        }
        Assert.Contains(logged, l => l["connect"]?.GetValue<string>() == "paseo");

        // …and for that agent only.
        var (claudeUrl, claudeAuth) = Entry(logged.First(l => l["provider"]!.GetValue<string>() == "claude"));
        var other = claudeUrl.Replace(agents["claude"], agents["codex"], StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Connect(new Uri(other), claudeAuth));
    }

    [Fact]
    public async Task With_injection_off_nothing_is_given_and_the_apps_switch_turns_it_on_for_new_agents()
    {
        await using var daemon = await InProcessDaemon.StartAsync(configJson: Config(inject: false));
        var work = daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
        await using var _client = client;

        async Task<string> Create(string title)
        {
            var frame = await client.RequestAsync("create_agent_request", new JsonObject
            {
                ["config"] = new JsonObject { ["provider"] = "claude", ["cwd"] = work, ["title"] = title }, ["initialPrompt"] = "hello",
            });
            return ProtocolClient.Payload(frame, "status")!["agentId"]!.GetValue<string>();
        }

        var before = await Create("before");
        await Eventually.HoldsAsync(() => StandIns.Starts(_claudeLog).Any(s => s["agentId"]?.GetValue<string>() == before), "the first agent's CLI to start");
        Assert.DoesNotContain("--mcp-config", StandIns.Starts(_claudeLog).Single(s => s["agentId"]!.GetValue<string>() == before)["argv"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Empty(Logged());

        var set = await client.RequestAsync("set_daemon_config_request", new JsonObject { ["config"] = new JsonObject { ["mcp"] = new JsonObject { ["injectIntoAgents"] = true } } });
        Assert.True(ProtocolClient.Payload(set, "set_daemon_config_response")!["config"]!["mcp"]!["injectIntoAgents"]!.GetValue<bool>());
        var after = await Create("after");
        await Eventually.HoldsAsync(() => Logged().Any(l => l["agentId"]?.GetValue<string>() == after), "the second agent's CLI to get the entry");
        Assert.DoesNotContain(Logged(), l => l["agentId"]?.GetValue<string>() == before);
    }
}
