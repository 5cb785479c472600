using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>paseo.json's scripts (app-workspaces.md §2.4, §2.11): listed in workspaces, started, their lifecycle pushed; services proxied on the daemon's port.</summary>
public sealed class WorkspaceScriptsTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _project = null!;
    private TestHome? _home;

    public async Task InitializeAsync()
    {
        // Scripts run in login shells: with the test's own HOME, not whatever profile the machine's user has.
        _home = new TestHome();
        _daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["HOME"] = _home.Root }, existingHome: _home);
        _project = _daemon.TestHome.PathIn("shop");
        Directory.CreateDirectory(_project);
        File.WriteAllText(Path.Combine(_project, "paseo.json"), new JsonObject
        {
            ["scripts"] = new JsonObject
            {
                ["test"] = new JsonObject { ["command"] = "echo testing; exit 3" },
                ["web"] = new JsonObject
                {
                    ["type"] = "service",
                    ["command"] = "exec node -e \"require('http').createServer((q, s) => s.end('web on ' + process.env.PASEO_PORT + ' for ' + q.url)).listen(process.env.PASEO_PORT, process.env.HOST)\"",
                },
                ["blank"] = new JsonObject { ["command"] = "  " },
            },
        }.ToJsonString());
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
        await _client.RequestAsync("open_project_request", new JsonObject { ["cwd"] = _project });
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_daemon is not null) await _daemon.DisposeAsync();
        _home?.Dispose();
    }

    [SkippableFact]
    public async Task A_running_service_lives_in_its_terminal_and_survives_a_daemon_restart_with_its_route()
    {
        TerminalSupport.Require();
        var started = await StartAsync("web");
        Assert.Null(started["error"]);
        var terminalId = started["terminalId"]!.GetValue<string>();
        var running = ProtocolClient.Payload(await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "web" && s["lifecycle"]!.GetValue<string>() == "running")), "script_status_update")!;
        var web = running["scripts"]!.AsArray().Single(s => s!["scriptName"]!.GetValue<string>() == "web")!;
        Assert.Equal(terminalId, web["terminalId"]!.GetValue<string>());
        var port = web["port"]!.GetValue<int>();
        await Eventually.HoldsAsync(() => Listening(port), "the service listens");
        // The script's terminal is an ordinary one: listed in the workspace, named after the script.
        var listed = ProtocolClient.Payload(await _client.RequestAsync("list_terminals_request", new JsonObject { ["cwd"] = _project }), "list_terminals_response")!;
        Assert.Equal(("web", "web"), (listed["terminals"]![0]!["name"]!.GetValue<string>(), listed["terminals"]![0]!["title"]!.GetValue<string>()));

        await _client.DisposeAsync();
        _client = null!;
        var home = _daemon.TestHome;
        await _daemon.Server.StopAsync();
        await _daemon.Server.DisposeAsync();
        Assert.True(Listening(port), "the service runs on while no daemon does");

        await using var again = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["HOME"] = home.Root }, existingHome: home);
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(again, clientType: "mobile");
        await using var __ = client;
        await Eventually.HoldsAsync(async () =>
        {
            var workspace = ProtocolClient.Payload(await client.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]!.AsArray()
                .FirstOrDefault(w => w!["id"]!.GetValue<string>() == _project);
            return workspace?["scripts"]!.AsArray().Any(s => s!["scriptName"]!.GetValue<string>() == "web" && s["lifecycle"]!.GetValue<string>() == "running"
                && s["terminalId"]?.GetValue<string>() == terminalId && s["port"]?.GetValue<int>() == port) == true;
        }, "the service is found running in its terminal, on its port");
        using var http = new HttpClient();
        await Eventually.HoldsAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{again.Port}/again");
            request.Headers.Host = $"web.shop.localhost:{again.Port}";
            using var response = await http.SendAsync(request);
            return response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync() == $"web on {port} for /again";
        }, "the new daemon routes to the service again");

        // Killing its terminal stops the script.
        await client.RequestAsync("kill_terminal_request", new JsonObject { ["terminalId"] = terminalId });
        await Eventually.HoldsAsync(() => !Listening(port), "the service ended with its terminal");
        _daemon = null!;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.TcpClient();
            socket.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private async Task<JsonObject> StartAsync(string script) => ProtocolClient.Payload(await _client.RequestAsync("start_workspace_script_request", new JsonObject
    {
        ["workspaceId"] = _project, ["scriptName"] = script,
    }), "start_workspace_script_response")!;

    [SkippableFact]
    public async Task Scripts_are_listed_run_and_their_lifecycle_pushed_and_a_service_is_reached_through_the_daemon()
    {
        TerminalSupport.Require();
        await Eventually.HoldsAsync(async () =>
        {
            var workspace = ProtocolClient.Payload(await _client.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]![0]!;
            return workspace["scripts"]!.AsArray().Count == 2;
        }, "the configured scripts are listed (the blank one is not)");
        var listed = ProtocolClient.Payload(await _client.RequestAsync("fetch_workspaces_request", new JsonObject()), "fetch_workspaces_response")!["entries"]![0]!;
        WireShapes.Workspace(listed);
        var test = listed["scripts"]!.AsArray().Single(s => s!["scriptName"]!.GetValue<string>() == "test")!;
        Assert.Equal("script", test["type"]!.GetValue<string>());
        Assert.Equal("test", test["hostname"]!.GetValue<string>());
        Assert.Null(test["port"]);
        Assert.Equal("stopped", test["lifecycle"]!.GetValue<string>());
        var web = listed["scripts"]!.AsArray().Single(s => s!["scriptName"]!.GetValue<string>() == "web")!;
        Assert.Equal("web.shop.localhost", web["hostname"]!.GetValue<string>());
        Assert.Equal($"http://web.shop.localhost:{_daemon.Port}", web["proxyUrl"]!.GetValue<string>());

        var started = await StartAsync("test");
        Assert.Null(started["error"]);
        var terminalId = started["terminalId"]!.GetValue<string>();
        var stopped = await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "test" && s["lifecycle"]!.GetValue<string>() == "stopped" && s["exitCode"]?.GetValue<int>() == 3));
        Assert.Equal(_project, ProtocolClient.Payload(stopped, "script_status_update")!["workspaceId"]!.GetValue<string>());
        // The terminal stays with what the script printed; starting it again runs it in the same terminal.
        var capture = ProtocolClient.Payload(await _client.RequestAsync("capture_terminal_request", new JsonObject { ["terminalId"] = terminalId }), "capture_terminal_response")!;
        Assert.Contains("testing", capture["lines"]!.AsArray().Select(l => l!.GetValue<string>()));
        var again = await StartAsync("test");
        Assert.Equal(terminalId, again["terminalId"]!.GetValue<string>());
        await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "test" && s["lifecycle"]!.GetValue<string>() == "running"));
        await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "test" && s["lifecycle"]!.GetValue<string>() == "stopped" && s["exitCode"]?.GetValue<int>() == 3));

        Assert.Null((await StartAsync("web"))["error"]);
        Assert.Equal("Script 'web' is already running", (await StartAsync("web"))["error"]!.GetValue<string>());
        Assert.Equal("Script 'nope' is not configured in paseo.json", (await StartAsync("nope"))["error"]!.GetValue<string>());
        var running = ProtocolClient.Payload(await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "web" && s["lifecycle"]!.GetValue<string>() == "running")), "script_status_update")!;
        var port = running["scripts"]!.AsArray().Single(s => s!["scriptName"]!.GetValue<string>() == "web")!["port"]!.GetValue<int>();

        using var http = new HttpClient();
        string? body = null;
        await Eventually.HoldsAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_daemon.Port}/hello?x=1");
            request.Headers.Host = $"web.shop.localhost:{_daemon.Port}";
            using var response = await http.SendAsync(request);
            body = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode;
        }, "the service answers through the daemon's port");
        Assert.Equal($"web on {port} for /hello?x=1", body);
        // The daemon's own endpoints are untouched.
        Assert.True((await http.GetAsync($"http://127.0.0.1:{_daemon.Port}/api/health")).IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_paseo_json_that_does_not_parse_is_said_and_an_unknown_workspace_too()
    {
        File.WriteAllText(Path.Combine(_project, "paseo.json"), "{ nope");
        var broken = await StartAsync("test");
        Assert.StartsWith($"Failed to parse paseo.json at {Path.Combine(_project, "paseo.json")}", broken["error"]!.GetValue<string>());
        Assert.Null(broken["terminalId"]);
        var unknown = ProtocolClient.Payload(await _client.RequestAsync("start_workspace_script_request", new JsonObject
        {
            ["workspaceId"] = "/nowhere", ["scriptName"] = "test",
        }), "start_workspace_script_response")!;
        Assert.Equal("Workspace not found: /nowhere", unknown["error"]!.GetValue<string>());
    }
}
