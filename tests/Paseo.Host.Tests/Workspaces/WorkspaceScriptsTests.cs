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

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync();
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
    }

    [Fact]
    public async Task A_running_service_does_not_outlive_the_daemon()
    {
        Assert.Null((await StartAsync("web"))["error"]);
        var running = ProtocolClient.Payload(await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "web" && s["lifecycle"]!.GetValue<string>() == "running")), "script_status_update")!;
        var port = running["scripts"]!.AsArray().Single(s => s!["scriptName"]!.GetValue<string>() == "web")!["port"]!.GetValue<int>();
        await Eventually.HoldsAsync(() => Listening(port), "the service listens");
        await _client.DisposeAsync();
        _client = null!;
        await _daemon.DisposeAsync();
        _daemon = null!;
        await Eventually.HoldsAsync(() => !Listening(port), "the service stopped with the daemon");
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

    [Fact]
    public async Task Scripts_are_listed_run_and_their_lifecycle_pushed_and_a_service_is_reached_through_the_daemon()
    {
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
        Assert.True(started.ContainsKey("terminalId"));
        var stopped = await _client.ExpectSessionAsync("script_status_update", p => p["scripts"]!.AsArray().Any(s =>
            s!["scriptName"]!.GetValue<string>() == "test" && s["lifecycle"]!.GetValue<string>() == "stopped" && s["exitCode"]?.GetValue<int>() == 3));
        Assert.Equal(_project, ProtocolClient.Payload(stopped, "script_status_update")!["workspaceId"]!.GetValue<string>());

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
