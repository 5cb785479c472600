using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Paseo.Actors.Mcp;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Mcp;

/// <summary>
/// The agents' MCP server (app-orchestration.md §4) on a real daemon with a password set, driven by the official C#
/// SDK client over Streamable HTTP: the tool list and server info, an agent created, prompted and waited for, a caller
/// agent's session with its own credential (the child gets the parent label), and the refusals — a forged callerAgentId,
/// a missing credential, no password — and the errors of §4.4.
/// </summary>
public sealed class McpServerTests : IAsyncLifetime
{
    private const string Password = "mcp-s3cret";
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync() =>
        _daemon = await InProcessDaemon.StartAsync(
            configJson: """{"version":1,"daemon":{"mcp":{"injectIntoAgents":true}}}""",
            env: new Dictionary<string, string?> { ["PASEO_PASSWORD"] = Password });

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    private Uri Endpoint(string? caller = null) =>
        new(_daemon.BaseUri, "mcp/agents" + (caller is null ? "" : "?callerAgentId=" + caller));

    private DaemonMcp Mcp => DaemonMcp.Get(_daemon.Server.App.Services.GetRequiredService<ActorSystem>());

    private async Task<McpClient> Connect(Uri endpoint, string? authorization)
    {
        var headers = new Dictionary<string, string>();
        if (authorization is not null) headers["Authorization"] = authorization;
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp, AdditionalHeaders = headers,
        });
        return await McpClient.CreateAsync(transport);
    }

    private static async Task<JsonObject> Call(McpClient client, string tool, object args)
    {
        var result = await client.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(args)));
        Assert.True(result.IsError is not true, $"{tool}: {string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text))}");
        Assert.Empty(result.Content);
        return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!.AsObject();
    }

    [Fact]
    public async Task A_top_level_client_with_the_password_lists_the_tools_and_creates_prompts_and_waits_for_an_agent()
    {
        await using var client = await Connect(Endpoint(), "Bearer " + Password);
        Assert.Equal("agent-mcp", client.ServerInfo!.Name);
        var tools = await client.ListToolsAsync();
        Assert.Equal(29, tools.Count);
        Assert.Contains(tools, t => t.Name == "create_agent" && t.ProtocolTool.OutputSchema is not null);
        var create = tools.Single(t => t.Name == "create_agent").ProtocolTool.InputSchema;
        Assert.Contains("cwd", create.GetProperty("required").EnumerateArray().Select(e => e.GetString()));

        var work = _daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var created = await Call(client, "create_agent", new { title = "helper", provider = "mock/mock-1", initialPrompt = "[say first answer]", cwd = work });
        Assert.Equal(("mock", "idle", "first answer", work), (created["type"]!.GetValue<string>(), created["status"]!.GetValue<string>(),
            created["lastMessage"]!.GetValue<string>(), created["cwd"]!.GetValue<string>()));
        Assert.Null(created["permission"]);
        var agentId = created["agentId"]!.GetValue<string>();

        var sent = await Call(client, "send_agent_prompt", new { agentId, prompt = "[say second answer]" });
        Assert.Equal((true, "second answer"), (sent["success"]!.GetValue<bool>(), sent["lastMessage"]!.GetValue<string>()));
        var waited = await Call(client, "wait_for_agent", new { agentId });
        Assert.Equal(("idle", agentId), (waited["status"]!.GetValue<string>(), waited["agentId"]!.GetValue<string>()));

        var listed = (await Call(client, "list_agents", new { cwd = work }))["agents"]!.AsArray();
        Assert.Equal(agentId, Assert.Single(listed)!["id"]!.GetValue<string>());
        Assert.Equal(agentId[..7], listed[0]!["shortId"]!.GetValue<string>());
        var activity = await Call(client, "get_agent_activity", new { agentId });
        Assert.StartsWith("Showing all ", activity["content"]!.GetValue<string>());
        Assert.Contains("second answer", activity["content"]!.GetValue<string>());
        Assert.Equal("idle", (await Call(client, "get_agent_status", new { agentId }))["status"]!.GetValue<string>());

        // A permission: the wait returns at once with it; answering it through the tool lets the turn finish.
        var asking = await Call(client, "send_agent_prompt", new { agentId, prompt = "[permission rm -rf build]" });
        var permission = asking["permission"]!.AsObject();
        var pending = (await Call(client, "list_pending_permissions", new { }))["permissions"]!.AsArray();
        Assert.Equal(permission["id"]!.GetValue<string>(), Assert.Single(pending)!["request"]!["id"]!.GetValue<string>());
        await Call(client, "respond_to_permission", new { agentId, requestId = permission["id"]!.GetValue<string>(), response = new { behavior = "allow" } });
        // (The answer has no reply: the next waits see the permission until the agent has taken it.)
        await Eventually.HoldsAsync(async () => await Call(client, "wait_for_agent", new { agentId }) is var w && w["permission"] is null
            && w["status"]!.GetValue<string>() == "idle", "the allowed turn to finish");
        Assert.Equal(new JsonObject { ["success"] = true }.ToJsonString(), (await Call(client, "archive_agent", new { agentId })).ToJsonString());
    }

    [Fact]
    public async Task A_callers_session_needs_its_own_credential_and_makes_children_labelled_with_it()
    {
        await using var top = await Connect(Endpoint(), "Bearer " + Password);
        var work = _daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var parent = (await Call(top, "create_agent", new { title = "parent", provider = "mock/mock-1", initialPrompt = "[say ready]", cwd = work }))["agentId"]!.GetValue<string>();

        // Its injected credential, without the password: the caller variant (cwd defaults to the parent's).
        await using var asParent = await Connect(Endpoint(parent), "Bearer " + Mcp.Credentials.TokenFor(parent));
        var create = (await asParent.ListToolsAsync()).Single(t => t.Name == "create_agent").ProtocolTool.InputSchema;
        Assert.DoesNotContain("cwd", create.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        var child = await Call(asParent, "create_agent", new { title = "child", provider = "mock/mock-1", initialPrompt = "[say child done]", background = true });
        Assert.Equal(work, child["cwd"]!.GetValue<string>());
        var status = await Call(top, "get_agent_status", new { agentId = child["agentId"]!.GetValue<string>() });
        Assert.Equal(parent, status["snapshot"]!["labels"]!["paseo.parent-agent-id"]!.GetValue<string>());

        // notifyOnFinish: when the child finishes, the parent gets a prompt saying so (a turn of its own), not as a user message.
        var notified = await Call(asParent, "create_agent", new { title = "notified", provider = "mock/mock-1", initialPrompt = "[say finished work]",
            background = true, notifyOnFinish = true });
        var notice = $"<paseo-system>\nAgent {notified["agentId"]!.GetValue<string>()} (notified) finished.\n</paseo-system>";
        await Eventually.HoldsAsync(async () => (await Call(top, "get_agent_activity", new { agentId = parent }))["content"]!.GetValue<string>().Contains("Mock reply to: " + notice),
            "the parent's turn on the notice");
        Assert.DoesNotContain("[User] <paseo-system>", (await Call(top, "get_agent_activity", new { agentId = parent }))["content"]!.GetValue<string>());

        // kill_agent: the session closed, the record kept; a prompt starts it again.
        var childId = child["agentId"]!.GetValue<string>();
        await Call(top, "kill_agent", new { agentId = childId });
        Assert.Equal("closed", (await Call(top, "get_agent_status", new { agentId = childId }))["status"]!.GetValue<string>());
        Assert.Equal("again", (await Call(top, "send_agent_prompt", new { agentId = childId, prompt = "[say again]" }))["lastMessage"]!.GetValue<string>());

        // Another agent's id with this credential, no credential, or a top-level client without the password: refused.
        var other = (await Call(top, "create_agent", new { title = "other", provider = "mock/mock-1", initialPrompt = "[say x]", cwd = work, background = true }))["agentId"]!.GetValue<string>();
        await AssertRefused(Endpoint(other), "Bearer " + Mcp.Credentials.TokenFor(parent));
        await AssertRefused(Endpoint(parent), null);
        await AssertRefused(Endpoint(parent), "Bearer " + Password);
        await AssertRefused(Endpoint(), null);

        // A caller that is no agent (a valid credential for an id the daemon does not know): the tools say so.
        var ghost = Guid.NewGuid().ToString("D");
        await using var asGhost = await Connect(Endpoint(ghost), "Bearer " + Mcp.Credentials.TokenFor(ghost));
        var refused = await asGhost.CallToolAsync("list_agents", new Dictionary<string, object?>());
        Assert.True(refused.IsError);
        Assert.Equal($"Parent agent {ghost} not found", Assert.IsType<TextContentBlock>(Assert.Single(refused.Content)).Text);
    }

    [Fact]
    public async Task A_session_stays_its_openers_and_a_deleted_agents_credential_drives_nothing()
    {
        await using var top = await Connect(Endpoint(), "Bearer " + Password);
        var work = _daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var agent = (await Call(top, "create_agent", new { title = "a", provider = "mock/mock-1", initialPrompt = "[say a]", cwd = work }))["agentId"]!.GetValue<string>();
        var token = "Bearer " + Mcp.Credentials.TokenFor(agent);

        // The agent's session, then the same session id from a top-level client with the password: refused.
        using var http = new HttpClient();
        async Task<HttpResponseMessage> Post(Uri endpoint, string authorization, string body, string? session = null)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
            if (session is not null) request.Headers.Add("mcp-session-id", session);
            return await http.SendAsync(request);
        }
        using var opened = await Post(Endpoint(agent), token,
            """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""");
        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        var session = opened.Headers.GetValues("mcp-session-id").Single();
        using var hijack = await Post(Endpoint(), "Bearer " + Password, """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""", session);
        Assert.NotEqual(HttpStatusCode.OK, hijack.StatusCode);

        // Other spellings of the path get the same rule.
        using var upper = await Post(new Uri(_daemon.BaseUri, "MCP/agents?callerAgentId=" + agent), "Bearer " + Password,
            """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""");
        Assert.Equal(HttpStatusCode.Unauthorized, upper.StatusCode);

        // A WebSocket upgrade there is refused (the access rule is for HTTP requests).
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() =>
            socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_daemon.Port}/mcp/agents"), CancellationToken.None));
        Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);

        // Archived, the agent's credential still opens a session (it is an HMAC) but every tool says the caller is gone.
        await using var asAgent = await Connect(Endpoint(agent), token);
        await Call(top, "archive_agent", new { agentId = agent });
        var refused = await asAgent.CallToolAsync("list_providers", new Dictionary<string, object?>());
        Assert.True(refused.IsError);
        Assert.Equal($"Parent agent {agent} not found", Assert.IsType<TextContentBlock>(Assert.Single(refused.Content)).Text);
    }

    private async Task AssertRefused(Uri endpoint, string? authorization)
    {
        // The raw initialize, as any client sends it: 401 before any MCP session exists.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        if (authorization is not null) request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(response.Headers.Contains("mcp-session-id"));
    }

    [Fact]
    public async Task Paseos_own_typescript_sdk_client_lists_the_tools_and_creates_and_waits_for_an_agent()
    {
        var script = Path.Combine(TestRepository.Root, "tests", "interop", "mcp-client.mjs");
        Assert.True(File.Exists(Path.Combine(TestRepository.Root, "tests", "interop", "node_modules", "@modelcontextprotocol", "sdk", "package.json")),
            "run ./build.sh test (npm ci in tests/interop)");
        var work = _daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var psi = new System.Diagnostics.ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, Endpoint().ToString(), "Bearer " + Password, work }) psi.ArgumentList.Add(arg);
        using var node = System.Diagnostics.Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(node.ExitCode == 0, await stderr);
        var seen = JsonNode.Parse(await stdout)!;
        Assert.Equal("agent-mcp", seen["server"]!["name"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(seen["sessionId"]?.GetValue<string>()));
        Assert.Equal(29, seen["tools"]!.AsArray().Count);
        Assert.Equal(("idle", "typescript sdk"), (seen["created"]!["status"]!.GetValue<string>(), seen["created"]!["lastMessage"]!.GetValue<string>()));
        Assert.Equal("idle", seen["waited"]!["status"]!.GetValue<string>());
        Assert.Equal(-32602, seen["invalidCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task Requests_outside_a_session_are_refused_and_a_body_over_the_limit_is_413()
    {
        using var http = new HttpClient();
        async Task<HttpStatusCode> Post(string body, string? session = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint()) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Password);
            if (session is not null) request.Headers.Add("mcp-session-id", session);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }
        // Not an initialize and no session: 400 (Paseo's too); an unknown session: 404, on which MCP clients start a new one.
        Assert.Equal(HttpStatusCode.BadRequest, await Post("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}"""));
        Assert.Equal(HttpStatusCode.NotFound, await Post("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", "no-such-session"));
        // paseo.mcp.max-request-body-bytes (Paseo's 100 KB).
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await Post("{\"x\":\"" + new string('a', 200_000) + "\"}"));
    }

    [Fact]
    public async Task Beyond_max_sessions_the_oldest_sessions_calls_fail_with_the_reason()
    {
        await using var small = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["PASEO_PASSWORD"] = Password }, extraHocon: "paseo.mcp.max-sessions = 1\n");
        var endpoint = new Uri(small.BaseUri, "mcp/agents");
        await using var first = await Connect(endpoint, "Bearer " + Password);
        Assert.NotEmpty((await Call(first, "list_providers", new { }))["providers"]!.AsArray());
        await using var second = await Connect(endpoint, "Bearer " + Password);
        Assert.NotEmpty((await Call(second, "list_providers", new { }))["providers"]!.AsArray());
        // The first session's client actor was ended for the second: its calls fail at once, saying so.
        await Eventually.HoldsAsync(async () => (await first.CallToolAsync("list_providers", new Dictionary<string, object?>())) is { IsError: true } failed
            && failed.Content.OfType<TextContentBlock>().Single().Text == "This MCP session has ended; start a new one", "the evicted session's calls to fail");
    }

    [Fact]
    public async Task With_no_mcp_there_is_no_endpoint()
    {
        await using var off = await InProcessDaemon.StartAsync(flags: new Paseo.Transport.Configuration.DaemonFlags { NoMcp = true });
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(off.BaseUri, "mcp/agents"))
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Bad_arguments_are_protocol_errors_and_failing_tools_are_error_results()
    {
        await using var client = await Connect(Endpoint(), "Bearer " + Password);
        var invalid = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("create_agent", new Dictionary<string, object?> { ["title"] = "x" }).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, invalid.ErrorCode);
        Assert.Contains("Invalid arguments for tool create_agent", invalid.Message);
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("no_such_tool", new Dictionary<string, object?>()).AsTask());
        Assert.Contains("Tool no_such_tool not found", unknown.Message);

        var failed = await client.CallToolAsync("create_agent", new Dictionary<string, object?>
        {
            ["title"] = "x", ["provider"] = "mock", ["initialPrompt"] = "hi", ["cwd"] = "/tmp",
        });
        Assert.True(failed.IsError);
        Assert.Equal("provider must be provider/model, for example codex/gpt-5.4", Assert.IsType<TextContentBlock>(Assert.Single(failed.Content)).Text);
        var missing = await client.CallToolAsync("wait_for_agent", new Dictionary<string, object?> { ["agentId"] = Guid.NewGuid().ToString("D") });
        Assert.True(missing.IsError);
        Assert.StartsWith("Agent ", Assert.IsType<TextContentBlock>(Assert.Single(missing.Content)).Text);
        // speak is for voice sessions only (§4.5): not on this route.
        Assert.Contains("Tool speak not found", (await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.CallToolAsync("speak", new Dictionary<string, object?> { ["text"] = "hello" }).AsTask())).Message);
    }

    [SkippableFact]
    public async Task Schedules_and_terminals_go_through_the_tools()
    {
        Prerequisites.RequireProgram("tmux");
        await using var client = await Connect(Endpoint(), "Bearer " + Password);
        var work = _daemon.TestHome.PathIn("work");
        Directory.CreateDirectory(work);
        var schedule = await Call(client, "create_schedule", new { prompt = "nightly", cron = "0 3 * * *", provider = "mock", cwd = work, name = "n" });
        var id = schedule["id"]!.GetValue<string>();
        Assert.Equal("cron", schedule["cadence"]!["type"]!.GetValue<string>());
        Assert.Contains((await Call(client, "list_schedules", new { }))["schedules"]!.AsArray(), s => s!["id"]!.GetValue<string>() == id);
        Assert.True((await Call(client, "pause_schedule", new { id }))["success"]!.GetValue<bool>());
        Assert.Equal("paused", (await Call(client, "inspect_schedule", new { id }))["status"]!.GetValue<string>());
        await Call(client, "delete_schedule", new { id });
        var zero = await client.CallToolAsync("create_schedule", new Dictionary<string, object?> { ["prompt"] = "x", ["every"] = "0", ["provider"] = "mock", ["cwd"] = work });
        Assert.True(zero.IsError);

        var providers = (await Call(client, "list_providers", new { }))["providers"]!.AsArray();
        Assert.Contains(providers, p => p!["id"]!.GetValue<string>() == "mock" && p["status"]!.GetValue<string>() == "available");
        Assert.Equal("mock-1", (await Call(client, "list_models", new { provider = "mock" }))["models"]![0]!["id"]!.GetValue<string>());

        var terminal = await Call(client, "create_terminal", new { cwd = work, name = "t1" });
        var terminalId = terminal["id"]!.GetValue<string>();
        await Call(client, "send_terminal_keys", new { terminalId, keys = "echo mcp-typed-$((40+2))", literal = true });
        await Call(client, "send_terminal_keys", new { terminalId, keys = "Enter" });
        await Eventually.HoldsAsync(async () => (await Call(client, "capture_terminal", new { terminalId }))["lines"]!.AsArray().Any(l => l!.GetValue<string>() == "mcp-typed-42"),
            "the typed command's output in the terminal");
        Assert.Contains((await Call(client, "list_terminals", new { cwd = work }))["terminals"]!.AsArray(), t => t!["id"]!.GetValue<string>() == terminalId);
        await Call(client, "kill_terminal", new { terminalId });
        await Eventually.HoldsAsync(async () => (await Call(client, "list_terminals", new { all = true }))["terminals"]!.AsArray().All(t => t!["id"]!.GetValue<string>() != terminalId),
            "the killed terminal gone from the list");
        var again = await client.CallToolAsync("kill_terminal", new Dictionary<string, object?> { ["terminalId"] = terminalId });
        Assert.Equal((true, $"Terminal {terminalId} not found"), (again.IsError == true, Assert.IsType<TextContentBlock>(Assert.Single(again.Content)).Text));
    }
}
