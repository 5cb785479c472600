using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.FrontDoor;

public sealed class HttpAccessRulesTests(PasswordProtectedDaemonFixture fixture) : IClassFixture<PasswordProtectedDaemonFixture>
{
    private InProcessDaemon Daemon => fixture.Daemon;
    private const string Password = PasswordProtectedDaemonFixture.Password;

    private async Task<HttpResponseMessage> GetAsync(string path, string? host = null, string? origin = null, string? authorization = null, HttpMethod? method = null)
    {
        using var http = Daemon.Http();
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (host is not null) request.Headers.Host = host;
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return await http.SendAsync(request);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Theory]
    [InlineData("localhost", HttpStatusCode.OK)]
    [InlineData("localhost:6767", HttpStatusCode.OK)]
    [InlineData("app.localhost", HttpStatusCode.OK)]
    [InlineData("127.0.0.1:6767", HttpStatusCode.OK)]
    [InlineData("203.0.113.9", HttpStatusCode.OK)]
    [InlineData("[::1]:6767", HttpStatusCode.OK)]
    [InlineData("example.com", HttpStatusCode.OK)]
    [InlineData("api.example.com:443", HttpStatusCode.OK)]
    [InlineData("exact.test", HttpStatusCode.OK)]
    [InlineData("badexample.com", HttpStatusCode.Forbidden)]
    [InlineData("sub.exact.test", HttpStatusCode.Forbidden)]
    [InlineData("evil.test", HttpStatusCode.Forbidden)]
    [InlineData("localhost.evil.test", HttpStatusCode.Forbidden)]
    public async Task Host_allowlist_over_http(string host, HttpStatusCode expected)
    {
        using var response = await GetAsync("/api/health", host: host);
        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
            Assert.Equal("Invalid Host header", (await Json(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_request_without_a_host_header_is_refused()
    {
        var (status, _, body) = await RawHttp.SendAsync(Daemon.Port, "GET /api/health HTTP/1.0\r\n\r\n");
        Assert.Equal(403, status);
        Assert.Equal("""{"error":"Invalid Host header"}""", body);
    }

    [Fact]
    public async Task An_empty_host_header_is_refused()
    {
        var (status, _, body) = await RawHttp.SendAsync(Daemon.Port, "GET /api/health HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n");
        Assert.Equal(403, status);
        Assert.Contains("Invalid Host header", body);
    }

    [Fact]
    public async Task Health_needs_no_password_and_has_an_iso_timestamp()
    {
        using var response = await GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body.GetProperty("timestamp").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong")]
    [InlineData("bearer " + Password)]
    [InlineData("Bearer  " + Password + " extra")]
    [InlineData("Basic " + Password)]
    [InlineData("Bearer correct.horse")]
    public async Task Status_refuses_missing_or_wrong_credentials(string? authorization)
    {
        using var response = await GetAsync("/api/status", authorization: authorization);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"error":"Unauthorized"}""", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("Bearer " + Password)]
    [InlineData("Bearer    " + Password)]
    public async Task Status_with_the_right_bearer_token_reports_server_info(string authorization)
    {
        using var response = await GetAsync("/api/status", authorization: authorization);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("server_info", body.GetProperty("status").GetString());
        Assert.Equal(Daemon.Server.Identity.ServerId.Value, body.GetProperty("serverId").GetString());
        Assert.Matches("^srv_", body.GetProperty("serverId").GetString());
        Assert.Equal(Environment.MachineName, body.GetProperty("hostname").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        Assert.Equal(Daemon.Listen.ToString(), body.GetProperty("listen").GetString());
    }

    [Fact]
    public async Task Options_is_204_without_a_password_and_carries_cors_headers_for_an_allowed_origin()
    {
        using var response = await GetAsync("/api/status", origin: "https://app.paseo.sh", method: HttpMethod.Options);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("https://app.paseo.sh", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("GET, POST, DELETE, OPTIONS", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("Content-Type, Authorization", response.Headers.GetValues("Access-Control-Allow-Headers").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());
    }

    [Theory]
    [InlineData("https://app.paseo.sh", true)]
    [InlineData("paseo://app", true)]
    [InlineData("http://localhost:{port}", true)]
    [InlineData("http://127.0.0.1:{port}", true)]
    [InlineData("http://localhost:1", false)]
    [InlineData("https://evil.test", false)]
    public async Task Cors_headers_only_for_allowed_origins(string origin, bool allowed)
    {
        origin = origin.Replace("{port}", Daemon.Port.ToString());
        using var response = await GetAsync("/api/health", origin: origin);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values));
        if (allowed) Assert.Equal(origin, values!.Single());
    }

    [Fact]
    public async Task Options_for_a_disallowed_origin_is_204_without_cors_headers()
    {
        using var response = await GetAsync("/anything", origin: "https://evil.test", method: HttpMethod.Options);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task The_host_check_comes_before_the_password_check()
    {
        using var response = await GetAsync("/api/status", host: "evil.test", authorization: "Bearer " + Password);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_are_404_after_authentication()
    {
        await AssertRefusedThenAnsweredAsync("/nope", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_plain_get_on_ws_is_not_an_upgrade()
    {
        await AssertRefusedThenAnsweredAsync("/ws", HttpStatusCode.UpgradeRequired);
    }

    /// <summary>Without the password the path is 401; with it, the route's own answer.</summary>
    private async Task AssertRefusedThenAnsweredAsync(string path, HttpStatusCode withPassword)
    {
        using var anonymous = await GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var authed = await GetAsync(path, authorization: "Bearer " + Password);
        Assert.Equal(withPassword, authed.StatusCode);
    }
}

/// <summary>
/// What a password-protected daemon serves without the password — its web client's files, fetched with GET or HEAD — and
/// what it never does: another method on those paths, or anything for a workspace service's host name, WebSocket
/// upgrades included.
/// </summary>
public sealed class PasswordExemptionTests(PasswordProtectedDaemonFixture fixture) : IClassFixture<PasswordProtectedDaemonFixture>
{
    private InProcessDaemon Daemon => fixture.Daemon;

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string? host = null, bool upgrade = false)
    {
        using var http = Daemon.Http();
        using var request = new HttpRequestMessage(method, path);
        if (host is not null) request.Headers.Host = host;
        if (upgrade)
        {
            request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
            request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        }
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task The_web_clients_files_need_no_password_for_GET_and_HEAD_only_and_never_for_a_workspace_services_host()
    {
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "/"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Head, "/app.js"));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Post, "/"));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Delete, "/app.js"));

        // A service route (as a running workspace service has): its host name gets no exemption, not even for an upgrade.
        var routes = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Paseo.Transport.Workspaces.ScriptRoutes>(Daemon.Server.App.Services);
        routes.Set("svc.localhost", 9);
        try
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "/", host: $"svc.localhost:{Daemon.Port}"));
            Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "/socket", host: $"svc.localhost:{Daemon.Port}", upgrade: true));
        }
        finally
        {
            routes.Remove("svc.localhost");
        }
    }
}
