using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Paseo.Host.Hosting;
using Paseo.Host.RelayServer;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Web;

/// <summary>
/// The phone web client (web/): its crypto against the shared vectors, served by a real relay and a real daemon under a
/// strict policy, and a phone-sized Chromium that opens the link `paseo daemon pair` prints and drives a mock agent
/// through the relay — end-to-end encrypted in the browser.
/// </summary>
public sealed partial class WebClientTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);


    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string program, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Wait);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {Wait.TotalSeconds:0} s: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task The_web_clients_crypto_and_pairing_match_the_shared_vectors()
    {
        var web = Path.Combine(TestRepository.Root, "web");
        var built = await RunAsync("node", ["build.mjs", "--tests"], web);
        Assert.True(built.ExitCode == 0, built.StdErr);
        var run = await RunAsync("node", ["--test", "dist-test/"], web);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Matches(@"# pass [1-9]", run.StdOut);
        Assert.Contains("# fail 0", run.StdOut);
    }

    [Fact]
    public async Task What_the_web_client_ships_uses_only_widely_available_Baseline_features()
    {
        // ESLint with web-features' Baseline rules over the bundle (with Preact and tweetnacl), the service worker and the
        // stylesheet: nothing that one of Chromium, Firefox and Safari lacks (web/eslint.config.mjs).
        var web = Path.Combine(TestRepository.Root, "web");
        var lint = await RunAsync("node", ["node_modules/eslint/bin/eslint.js", "--max-warnings", "0", "dist/app.js", "dist/sw.js", "static/app.css"], web);
        Assert.True(lint.ExitCode == 0, lint.StdOut + lint.StdErr);

        // The same check refuses what is not yet everywhere (a file of this test's own, linted by the same rules).
        var probe = Path.Combine(web, "dist", $"baseline-probe-{Environment.ProcessId}.js");
        await File.WriteAllTextAsync(probe, "export const later = Promise.try(() => new URLPattern({ pathname: '/' }));\n");
        try
        {
            var refused = await RunAsync("node", ["node_modules/eslint/bin/eslint.js", Path.GetRelativePath(web, probe)], web);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("promise-try", refused.StdOut);
            Assert.Contains("urlpattern", refused.StdOut);
        }
        finally
        {
            File.Delete(probe);
        }
    }

    [GeneratedRegex(@"<script\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    /// <param name="unknown">What any other path answers (a daemon with a password asks for it first).</param>
    private static async Task AssertServesTheClientAsync(HttpClient http, string host, HttpStatusCode unknown = HttpStatusCode.NotFound)
    {
        using var index = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType!.MediaType);
        var csp = string.Join(";", index.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("script-src 'self';", csp);
        Assert.Contains($"connect-src 'self' ws://{host} wss://{host};", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Equal("nosniff", index.Headers.GetValues("X-Content-Type-Options").Single());
        // No inline script: every script tag loads a file of this host.
        var html = await index.Content.ReadAsStringAsync();
        Assert.All(ScriptTag().Matches(html), tag => Assert.Matches(@"src=""/[a-z]", tag.Value));

        using var app = await http.GetAsync("/app.js");
        Assert.Equal(HttpStatusCode.OK, app.StatusCode);
        Assert.Equal("text/javascript", app.Content.Headers.ContentType!.MediaType);
        Assert.Contains("e2ee_hello", await app.Content.ReadAsStringAsync());
        // Revalidated by its ETag: unchanged, nothing is sent again.
        using var again = new HttpRequestMessage(HttpMethod.Get, "/app.js");
        again.Headers.TryAddWithoutValidation("If-None-Match", app.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(again)).StatusCode);
        Assert.Equal(unknown, (await http.GetAsync("/app.js.map")).StatusCode);
    }

    [Fact]
    public async Task The_relay_and_the_daemon_serve_the_client_under_a_strict_policy_and_a_daemons_password_still_guards_everything_else()
    {
        await using var relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
        await relay.StartAsync();
        using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{relay.Listen.Port}/") })
            await AssertServesTheClientAsync(http, $"127.0.0.1:{relay.Listen.Port}");

        // A daemon with a password: the client's files need none (they hold no secret), the API and /ws do.
        await using var daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["PASEO_PASSWORD"] = "s3cret-phone" });
        using var client = daemon.Http();
        await AssertServesTheClientAsync(client, $"127.0.0.1:{daemon.Port}", unknown: HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/status")).StatusCode);
    }

    /// <summary>A real relay, a daemon that uses it, and the web link `paseo daemon pair` prints for it.</summary>
    private sealed class PairedDaemon : IAsyncDisposable
    {
        public required RelayServerHost Relay { get; set; }
        public required InProcessDaemon Daemon { get; init; }
        public required string RelayEndpoint { get; init; }
        public required Dictionary<string, string?> CliEnv { get; init; }

        public static async Task<PairedDaemon> StartAsync()
        {
            var relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
            await relay.StartAsync();
            var endpoint = $"127.0.0.1:{relay.Listen.Port}";
            var daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["PASEO_RELAY_ENABLED"] = "true", ["PASEO_RELAY_ENDPOINT"] = endpoint });
            await daemon.WaitForRelayControlAsync();
            var env = PaseoBinary.CleanEnvironment(daemon.TestHome);
            env["PASEO_RELAY_ENABLED"] = "true";
            env["PASEO_RELAY_ENDPOINT"] = endpoint;
            return new PairedDaemon { Relay = relay, Daemon = daemon, RelayEndpoint = endpoint, CliEnv = env };
        }

        /// <summary>The web link of the real `paseo daemon pair`.</summary>
        public async Task<string> WebLinkAsync()
        {
            var pair = await PaseoBinary.RunAsync(CliEnv, "daemon", "pair", "--json");
            Assert.True(pair.ExitCode == 0, pair.StdErr);
            var webUrl = JsonNode.Parse(pair.StdOut)!["webUrl"]!.GetValue<string>();
            Assert.StartsWith($"http://{RelayEndpoint}/#offer=", webUrl);
            return webUrl;
        }

        public string Project()
        {
            var cwd = Daemon.TestHome.PathIn("phone-project");
            Directory.CreateDirectory(cwd);
            return cwd;
        }

        private bool _daemonStopped;

        /// <summary>Stops the daemon (the relay stays up).</summary>
        public async Task StopDaemonAsync()
        {
            _daemonStopped = true;
            await Daemon.DisposeAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (!_daemonStopped) await Daemon.DisposeAsync();
            await Relay.DisposeAsync();
        }
    }

    /// <summary>Debian's Chromium and playwright-core (tests/browser), or the test is skipped with why (failed under CI=true); the folder of the browser scripts.</summary>
    private static string RequireBrowser()
    {
        Prerequisites.RequireProgram("chromium");
        var browserTests = Path.Combine(TestRepository.Root, "tests", "browser");
        if (!Directory.Exists(Path.Combine(browserTests, "node_modules", "playwright-core")))
            Prerequisites.Missing("playwright-core (tests/browser) is not installed: ./build.sh test installs it with npm");
        return browserTests;
    }

    /// <summary>
    /// Firefox (firefox-esr, with puppeteer-core) or WebKit (WebKitGTK's MiniBrowser with WebKitWebDriver, selenium-webdriver,
    /// under xvfb-run), or the test is skipped with why (failed under CI=true); the folder of the browser scripts.
    /// </summary>
    private static string RequireEngine(string engine)
    {
        var browserTests = Path.Combine(TestRepository.Root, "tests", "browser");
        if (engine == "firefox")
        {
            Prerequisites.RequireProgram("firefox-esr");
            if (!Directory.Exists(Path.Combine(browserTests, "node_modules", "puppeteer-core")))
                Prerequisites.Missing("puppeteer-core (tests/browser) is not installed: ./build.sh test installs it with npm");
        }
        else
        {
            Prerequisites.RequireProgram("WebKitWebDriver");
            Prerequisites.RequireProgram("xvfb-run");
            if (!Directory.Exists(Path.Combine(browserTests, "node_modules", "selenium-webdriver")))
                Prerequisites.Missing("selenium-webdriver (tests/browser) is not installed: ./build.sh test installs it with npm");
        }
        return browserTests;
    }

    [Theory]
    [InlineData("firefox")]
    [InlineData("webkit")]
    public async Task The_pairing_link_works_the_same_in_Firefox_and_in_WebKit_the_engine_of_Safari(string engine)
    {
        var browserTests = RequireEngine(engine);
        await using var paired = await PairedDaemon.StartAsync();
        var link = await paired.WebLinkAsync();
        var project = paired.Project();
        // WebKitGTK's browser needs a display: a virtual one, for this run only.
        var run = engine == "firefox"
            ? await RunAsync("node", ["web-engines.mjs", engine, link, project], browserTests)
            : await RunAsync("xvfb-run", ["-a", "node", "web-engines.mjs", engine, link, project], browserTests);
        var steps = Checkpoints(run);
        Assert.False(string.IsNullOrEmpty(steps["engine"]["version"]?.ToString()));
        Assert.Equal($"Mock reply to: hello from {engine}", steps["streamed"]["text"]!.GetValue<string>());
        Assert.Equal("Run make test", steps["permission"]["title"]!.GetValue<string>());
        Assert.Contains($"mock · {project}", steps["reopened"]["agent"]!.GetValue<string>());
    }

    /// <summary>
    /// A browser script's checkpoints by name (its JSON lines; other output, such as xvfb-run's, is skipped), once it
    /// ran to the end: no "failed" step, exit code 0, and no error in the page.
    /// </summary>
    private static Dictionary<string, JsonObject> Checkpoints((int ExitCode, string StdOut, string StdErr) run)
    {
        var steps = run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{'))
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(s => s["step"]!.GetValue<string>());
        Assert.False(steps.ContainsKey("failed"), run.StdOut + run.StdErr);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Empty(steps["errors"]["errors"]!.AsArray());
        return steps;
    }

    /// <summary>Runs a scenario of tests/browser/web-phone.mjs in Debian's Chromium; its checkpoints by name.</summary>
    private static async Task<Dictionary<string, JsonObject>> PhonesAsync(params string[] args)
    {
        var browserTests = RequireBrowser();
        return Checkpoints(await RunAsync("node", ["web-phone.mjs", .. args], browserTests));
    }

    [Fact]
    public async Task A_phone_sized_browser_opens_the_pairing_link_and_drives_a_mock_agent_through_the_relay()
    {
        await using var paired = await PairedDaemon.StartAsync();
        var shots = Path.Combine(TestRepository.Root, "docs", "images");
        Directory.CreateDirectory(shots);
        var steps = await PhonesAsync("drive", await paired.WebLinkAsync(), paired.Project(), shots);

        Assert.Equal($"http://{paired.RelayEndpoint}/", steps["online"]["address"]!.GetValue<string>()); // the offer left the address bar
        Assert.Equal("Mock reply to: hello from the phone", steps["streamed"]["text"]!.GetValue<string>());
        Assert.EndsWith(".png", steps["image"]["chip"]!.GetValue<string>());
        Assert.Equal(0, steps["image"]["errors"]!.GetValue<int>());
        Assert.Equal("Run make test", steps["permission"]["title"]!.GetValue<string>());
        Assert.Equal("$ make test", steps["permission"]["detail"]!.GetValue<string>()); // what is approved is shown
        Assert.True(steps.ContainsKey("canceled"));
        Assert.Equal(("bypassPermissions", 0), (steps["mode"]["mode"]!.GetValue<string>(), steps["mode"]["asked"]!.GetValue<int>()));
        Assert.Equal(1, steps["listed"]["agents"]!.GetValue<int>());
    }

    [Fact]
    public async Task Two_phones_at_once_each_see_the_others_agent_live_and_get_only_their_own_replies()
    {
        await using var paired = await PairedDaemon.StartAsync();
        var steps = await PhonesAsync("two-phones", await paired.WebLinkAsync(), paired.Project());
        Assert.Equal(1, steps["b-sees-a"]["agents"]!.GetValue<int>());
        Assert.Equal("running", steps["b-sees-a-live"]["running"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal("idle", steps["b-sees-a-live"]["settled"]!.GetValue<string>(), ignoreCase: true);
        Assert.True(steps["a-sees-b"]["rows"]!.GetValue<int>() >= 4);
        Assert.Equal((0, 0), (steps["strays"]["a"]!.GetValue<int>(), steps["strays"]["b"]!.GetValue<int>()));
    }

    [Fact]
    public async Task A_relay_restarted_mid_turn_shows_reconnecting_then_the_phone_catches_up_with_no_row_twice_and_none_lost_and_earlier_rows_load_on_demand()
    {
        var browserTests = RequireBrowser();
        await using var paired = await PairedDaemon.StartAsync();
        var link = await paired.WebLinkAsync();

        var psi = new ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = browserTests };
        foreach (var a in new[] { "web-phone.mjs", "restart", link, paired.Project() }) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        var stderr = node.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        using var deadline = new CancellationTokenSource(Wait);
        // Mid-turn (the page shows the stream), the relay stops and a new one starts on the same port.
        while (await node.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
        {
            lines.Add(line);
            if (!line.Contains("\"streaming\"", StringComparison.Ordinal)) continue;
            var port = paired.Relay.Listen.Port;
            await paired.Relay.DisposeAsync();
            paired.Relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse($"127.0.0.1:{port}"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
            await paired.Relay.StartAsync();
            await node.StandardInput.WriteLineAsync("restarted");
            node.StandardInput.Close();
        }
        await node.WaitForExitAsync(deadline.Token);
        var steps = lines.Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(s => s["step"]!.GetValue<string>());
        Assert.False(steps.ContainsKey("failed"), string.Join('\n', lines) + await stderr);
        var caughtUp = steps["caught-up"];
        Assert.Contains("reconnecting", caughtUp["states"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("online", caughtUp["states"]!.AsArray()[^1]!.GetValue<string>());

        // What the page shows is the daemon's timeline, exactly: every chunk once, in order.
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(paired.Daemon, clientId: "checker");
        await using var _ = client;
        var agents = ProtocolClient.Payload(await client.RequestAsync("fetch_agents_request"), "fetch_agents_response")!["entries"]!.AsArray();
        var agentId = Assert.Single(agents)!["agent"]!["id"]!.GetValue<string>();
        var page = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
        {
            ["agentId"] = agentId, ["direction"] = "tail", ["limit"] = 1000,
        }), "fetch_agent_timeline_response")!;
        var expected = page["entries"]!.AsArray().Select(e => e!["item"]!).Last(i => i["type"]!.GetValue<string>() == "assistant_message")["text"]!.GetValue<string>();
        var shown = caughtUp["text"]!.GetValue<string>();
        Assert.True(expected == shown, $"the page shows {shown.Length} characters, the daemon has {expected.Length}");
        Assert.Equal(1, caughtUp["rows"]!.GetValue<int>());
        Assert.EndsWith("Mock reply to: [stream 100 6] long turn", expected);

        // Opened again: only the newest rows come at first; "Load earlier" brings back the rest, text joined as it was.
        var back = steps["scrolled-back"];
        Assert.True(back["pages"]!.GetValue<int>() >= 1, "the long turn should not fit in one page");
        Assert.True(expected == back["text"]!.GetValue<string>(), $"after loading earlier rows the page shows {back["text"]!.GetValue<string>().Length} characters, the daemon has {expected.Length}");
        Assert.Equal(1, back["rows"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_page_a_daemon_serves_pairs_with_its_address_and_says_so_when_the_password_is_wrong()
    {
        await using var daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["PASEO_PASSWORD"] = "phone-pass-1" });
        var steps = await PhonesAsync("direct", $"http://127.0.0.1:{daemon.Port}/", "phone-pass-1");
        Assert.Contains("refused the password", steps["wrong-password"]["message"]!.GetValue<string>());
        Assert.StartsWith("online", steps["right-password"]["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_daemon_that_is_not_running_is_said_to_not_answer_rather_than_to_need_a_new_pairing()
    {
        await using var paired = await PairedDaemon.StartAsync();
        var link = await paired.WebLinkAsync();
        await paired.StopDaemonAsync(); // the relay is up; the daemon behind the link is not
        var steps = await PhonesAsync("refused", link);
        Assert.Contains("does not answer", steps["refused"]["message"]!.GetValue<string>());
        Assert.DoesNotContain("pair again", steps["refused"]["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task After_the_pairing_is_rotated_the_old_link_says_to_pair_again_and_a_tampered_link_is_refused()
    {
        await using var paired = await PairedDaemon.StartAsync();
        var oldLink = await paired.WebLinkAsync();
        // A new keypair (the server id kept, so the phone does reach the daemon): the old key no longer opens a session.
        var home = paired.Daemon.TestHome.Home;
        var serverId = paired.Daemon.Server.Identity.ServerId.Value;
        Paseo.Transport.Identity.DaemonIdentity.Rotate(home, new Dictionary<string, string?>());
        File.WriteAllText(home.ServerIdFile, serverId + "\n");
        Assert.True(await paired.Daemon.Server.ReloadIdentityAsync());
        await paired.Daemon.WaitForRelayControlAsync();
        var rotated = await PhonesAsync("refused", oldLink);
        Assert.Contains("pair again", rotated["refused"]["message"]!.GetValue<string>());
        Assert.Equal(0, rotated["refused"]["online"]!.GetValue<int>());

        // One character of the offer changed: the page says the link is damaged and pairs with nothing.
        var fragment = oldLink.IndexOf("#offer=", StringComparison.Ordinal) + "#offer=".Length + 20;
        var tampered = oldLink[..fragment] + (oldLink[fragment] == 'A' ? 'B' : 'A') + oldLink[(fragment + 1)..];
        var refused = await PhonesAsync("refused", tampered, Path.Combine(TestRepository.Root, "docs", "images"));
        Assert.Matches("damaged|not 32 bytes|not version|no relay", refused["refused"]["message"]!.GetValue<string>());
    }
}
