using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Sessions;

/// <summary>The other requests the phone app sends (app-workspaces.md §7), over a real socket with raw JSON.</summary>
public sealed class OtherAppRequestsTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _cwd = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync();
        _cwd = _daemon.TestHome.PathIn("project");
        Directory.CreateDirectory(_cwd);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> Reply(string type, JsonObject fields, string responseType)
    {
        var frame = await _client.RequestAsync(type, fields);
        return ProtocolClient.Payload(frame, responseType) ?? throw new Xunit.Sdk.XunitException($"expected {responseType}, got {frame.ToJsonString()}");
    }

    private static string Code(JsonObject frame) => frame["message"]!["payload"]!["code"]!.GetValue<string>();

    private async Task<string> CreateAgentAsync()
    {
        var created = await Reply("create_agent_request", new JsonObject { ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd } }, "status");
        Assert.Equal("agent_created", created["status"]!.GetValue<string>());
        return created["agentId"]!.GetValue<string>();
    }

    [Fact]
    public async Task Providers_modes_features_diagnostics_and_a_snapshot_refresh()
    {
        var available = await Reply("list_available_providers_request", new JsonObject(), "list_available_providers_response");
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T", available["fetchedAt"]!.GetValue<string>());
        var mock = available["providers"]!.AsArray().Single(p => p!["provider"]!.GetValue<string>() == "mock")!;
        Assert.True(mock["available"]!.GetValue<bool>());

        var modes = await Reply("list_provider_modes_request", new JsonObject { ["provider"] = "mock" }, "list_provider_modes_response");
        Assert.NotEmpty(modes["modes"]!.AsArray());
        Assert.Null(modes["error"]);
        var unknownModes = await Reply("list_provider_modes_request", new JsonObject { ["provider"] = "nope" }, "list_provider_modes_response");
        Assert.False(unknownModes.ContainsKey("modes"));
        Assert.Equal("Unknown provider: nope", unknownModes["error"]!.GetValue<string>());
        Assert.NotNull(unknownModes["fetchedAt"]);

        var features = await Reply("list_provider_features_request", new JsonObject { ["draftConfig"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd } }, "list_provider_features_response");
        Assert.Empty(features["features"]!.AsArray());

        var diagnostic = await Reply("provider_diagnostic_request", new JsonObject { ["provider"] = "mock" }, "provider_diagnostic_response");
        Assert.Contains("mock", diagnostic["diagnostic"]!.GetValue<string>());
        var noDiagnostic = await _client.RequestAsync("provider_diagnostic_request", new JsonObject { ["provider"] = "nope" });
        Assert.Equal("provider_diagnostic_failed", Code(noDiagnostic));
        Assert.Equal("Failed to get provider diagnostic: Unknown provider: nope", noDiagnostic["message"]!["payload"]!["error"]!.GetValue<string>());

        var refresh = await Reply("refresh_providers_snapshot_request", new JsonObject { ["cwd"] = _cwd }, "refresh_providers_snapshot_response");
        Assert.True(refresh["acknowledged"]!.GetValue<bool>());
        var update = ProtocolClient.Payload(await _client.ExpectSessionAsync("providers_snapshot_update"), "providers_snapshot_update")!;
        Assert.Equal(_cwd, update["cwd"]!.GetValue<string>());
        Assert.Contains(update["entries"]!.AsArray(), e => e!["provider"]!.GetValue<string>() == "mock");
    }

    [Fact]
    public async Task Daemon_config_is_read_and_patched_strictly_and_every_session_hears_of_a_change()
    {
        var (other, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = other;
        var config = await Reply("get_daemon_config_request", new JsonObject(), "get_daemon_config_response");
        Assert.False(config["config"]!["mcp"]!["injectIntoAgents"]!.GetValue<bool>());
        var before = File.ReadAllText(_daemon.TestHome.Home.ConfigJson);

        var set = await Reply("set_daemon_config_request", new JsonObject
        {
            ["config"] = new JsonObject { ["mcp"] = new JsonObject { ["injectIntoAgents"] = true }, ["providers"] = new JsonObject { ["claude"] = new JsonObject { ["enabled"] = false } } },
        }, "set_daemon_config_response");
        Assert.True(set["config"]!["mcp"]!["injectIntoAgents"]!.GetValue<bool>());
        Assert.False(set["config"]!["providers"]!["claude"]!["enabled"]!.GetValue<bool>());
        var changed = ProtocolClient.Payload(await other.ExpectSessionAsync("status", p => p["status"]?.GetValue<string>() == "daemon_config_changed"), "status")!;
        Assert.True(changed["config"]!["mcp"]!["injectIntoAgents"]!.GetValue<bool>());
        var written = JsonNode.Parse(File.ReadAllText(_daemon.TestHome.Home.ConfigJson))!;
        Assert.True(written["daemon"]!["mcp"]!["injectIntoAgents"]!.GetValue<bool>());
        Assert.Equal(Paseo.Transport.Files.PrivateFiles.FileMode600, File.GetUnixFileMode(_daemon.TestHome.Home.ConfigJson));
        Assert.NotEqual(before, File.ReadAllText(_daemon.TestHome.Home.ConfigJson));

        var afterGoodWrite = File.ReadAllText(_daemon.TestHome.Home.ConfigJson);
        foreach (var bad in new JsonObject[]
                 {
                     new() { ["mcp"] = new JsonObject { ["injectIntoAgents"] = "yes" } },
                     new() { ["listen"] = "0.0.0.0:1" },
                     new() { ["providers"] = new JsonObject { ["mock"] = new JsonObject { ["additionalModels"] = new JsonArray(new JsonObject { ["id"] = "" }) } } },
                 })
        {
            var refused = await _client.RequestAsync("set_daemon_config_request", new JsonObject { ["config"] = bad });
            Assert.Equal("invalid_daemon_config", Code(refused));
        }
        Assert.Equal(afterGoodWrite, File.ReadAllText(_daemon.TestHome.Home.ConfigJson));
    }

    [Fact]
    public async Task Editors_on_a_machine_without_a_display_and_bad_editor_requests()
    {
        var editors = await Reply("list_available_editors_request", new JsonObject(), "list_available_editors_response");
        var headless = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY"));
        if (headless)
        {
            Assert.Empty(editors["editors"]!.AsArray());
            Assert.Contains("without a display", editors["error"]!.GetValue<string>());
        }
        else Assert.Null(editors["error"]);
        var relative = await Reply("open_in_editor_request", new JsonObject { ["path"] = "src", ["editorId"] = "vscode" }, "open_in_editor_response");
        Assert.Equal("Editor target path must be an absolute local path", relative["error"]!.GetValue<string>());
        var missing = await Reply("open_in_editor_request", new JsonObject { ["path"] = "/no/such/path", ["editorId"] = "vscode" }, "open_in_editor_response");
        Assert.Equal("Path does not exist: /no/such/path", missing["error"]!.GetValue<string>());
        var unknown = await Reply("open_in_editor_request", new JsonObject { ["path"] = _cwd, ["editorId"] = "emacs" }, "open_in_editor_response");
        Assert.Equal("Unknown editor target: emacs", unknown["error"]!.GetValue<string>());
        var blank = await _client.RequestAsync("open_in_editor_request", new JsonObject { ["path"] = _cwd, ["editorId"] = "  " });
        Assert.Equal("unknown_schema", Code(blank));
    }

    [Fact]
    public async Task History_lists_archived_agents_and_refresh_brings_one_back()
    {
        var agentId = await CreateAgentAsync();
        await Reply("archive_agent_request", new JsonObject { ["agentId"] = agentId }, "agent_archived");
        var active = await Reply("fetch_agents_request", new JsonObject(), "fetch_agents_response");
        Assert.DoesNotContain(active["entries"]!.AsArray(), e => e!["agent"]!["id"]!.GetValue<string>() == agentId);
        var history = await Reply("fetch_agent_history_request", new JsonObject
        {
            ["sort"] = new JsonArray(new JsonObject { ["key"] = "updated_at", ["direction"] = "desc" }), ["page"] = new JsonObject { ["limit"] = 200 },
        }, "fetch_agent_history_response");
        Assert.False(history.ContainsKey("subscriptionId"));
        var entry = history["entries"]!.AsArray().Single(e => e!["agent"]!["id"]!.GetValue<string>() == agentId)!;
        WireShapes.Placement(entry["project"]);
        Assert.NotNull(entry["agent"]!["archivedAt"]);

        var refreshed = await Reply("refresh_agent_request", new JsonObject { ["agentId"] = agentId }, "status");
        Assert.Equal("agent_refreshed", refreshed["status"]!.GetValue<string>());
        Assert.Equal(agentId, refreshed["agentId"]!.GetValue<string>());
        var agent = await Reply("fetch_agent_request", new JsonObject { ["agentId"] = agentId }, "fetch_agent_response");
        Assert.Null(agent["agent"]!["archivedAt"]);
        var unknown = await _client.RequestAsync("refresh_agent_request", new JsonObject { ["agentId"] = "no-such-agent" });
        Assert.Equal("refresh_agent_failed", Code(unknown));
        Assert.Equal("Agent not found: no-such-agent", unknown["message"]!["payload"]!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Import_makes_an_agent_around_a_provider_session_once()
    {
        var imported = await Reply("import_agent_request", new JsonObject { ["provider"] = "mock", ["sessionId"] = "session-42", ["cwd"] = _cwd, ["labels"] = new JsonObject { ["from"] = "cli" } }, "status");
        Assert.Equal("agent_resumed", imported["status"]!.GetValue<string>());
        WireShapes.Snapshot(imported["agent"]);
        Assert.Equal("session-42", imported["agent"]!["persistence"]!["sessionId"]!.GetValue<string>());
        var again = await Reply("resume_agent_request", new JsonObject
        {
            ["handle"] = new JsonObject { ["provider"] = "mock", ["sessionId"] = "session-42", ["nativeHandle"] = "session-42" },
        }, "status");
        Assert.Equal(imported["agentId"]!.GetValue<string>(), again["agentId"]!.GetValue<string>());
        var failed = await Reply("import_agent_request", new JsonObject { ["provider"] = "nope", ["sessionId"] = "x" }, "status");
        Assert.Equal("agent_create_failed", failed["status"]!.GetValue<string>());
        Assert.False(failed.ContainsKey("errorCode"));
        var noHandle = await Reply("resume_agent_request", new JsonObject { ["handle"] = null }, "status");
        Assert.Equal("agent_create_failed", noHandle["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Paths_that_cannot_be_paths_are_refused_and_the_session_goes_on()
    {
        foreach (var (type, fields) in new (string, JsonObject)[]
                 {
                     ("checkout_status_request", new JsonObject { ["cwd"] = "" }),
                     ("open_project_request", new JsonObject { ["cwd"] = "a\u0000b" }),
                     ("refresh_providers_snapshot_request", new JsonObject { ["providers"] = new JsonArray(1) }),
                 })
        {
            var refused = await _client.RequestAsync(type, fields);
            Assert.Equal("unknown_schema", Code(refused));
        }
        var blank = await Reply("directory_suggestions_request", new JsonObject { ["query"] = "x", ["cwd"] = "  " }, "directory_suggestions_response");
        Assert.NotNull(blank["error"]);
        Assert.Empty(blank["entries"]!.AsArray());
        var created = await Reply("create_agent_request", new JsonObject { ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = "" } }, "status");
        Assert.Equal("agent_create_failed", created["status"]!.GetValue<string>());
        // Everything still answers: workspaces, agents.
        Assert.NotNull(await Reply("fetch_workspaces_request", new JsonObject(), "fetch_workspaces_response"));
        Assert.Equal("agent_created", (await Reply("create_agent_request", new JsonObject { ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd } }, "status"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Commands_voice_and_the_messages_without_a_reply()
    {
        var agentId = await CreateAgentAsync();
        var commands = await Reply("list_commands_request", new JsonObject { ["agentId"] = agentId }, "list_commands_response");
        Assert.Equal(agentId, commands["agentId"]!.GetValue<string>());
        Assert.Empty(commands["commands"]!.AsArray());
        Assert.Equal("Agent does not support listing commands", commands["error"]!.GetValue<string>());
        var unknown = await Reply("list_commands_request", new JsonObject { ["agentId"] = "nobody" }, "list_commands_response");
        Assert.Equal("Agent not found: nobody", unknown["error"]!.GetValue<string>());

        var voice = await _client.RequestAsync("set_voice_mode", new JsonObject { ["enabled"] = true });
        Assert.Equal("not_supported", Code(voice));
        await _client.SendAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "abort_request" } });
        await _client.SendAsync(new JsonObject { ["type"] = "session", ["message"] = new JsonObject { ["type"] = "register_push_token", ["token"] = "ExponentPushToken[x]" } });
        Assert.NotNull(ProtocolClient.Payload(await _client.RequestAsync("ping", new JsonObject()), "pong"));
        Assert.DoesNotContain(_client.Received, f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "error");
    }
}
