using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// The CLI's error cases (each with its code, and nothing else harmed), --output-schema, logs -f and attach with Ctrl-C, and a
/// shell loop as a user writes it.
/// </summary>
public sealed class CliErrorsAndStreamsTests
{
    [Fact]
    public async Task Every_error_has_its_code_and_harms_nothing()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var keeper = (await cli.Ok("run", "-d", "[hang] keep", "--provider", "mock", "--title", "build-a", "--cwd", cli.Work, "-q")).Trim();
        await cli.Ok("run", "quick", "--provider", "mock", "--title", "build-b", "--cwd", cli.Work);

        Assert.Equal("MISSING_PROVIDER", (await cli.Error("run", "hi"))["code"]!.GetValue<string>());
        Assert.Equal("AGENT_NOT_FOUND", (await cli.Error("inspect", "nobody"))["code"]!.GetValue<string>());
        var ambiguous = await cli.Error("stop", "build");
        Assert.Equal("AMBIGUOUS_AGENT", ambiguous["code"]!.GetValue<string>());
        Assert.Equal(2, ambiguous["details"]!["candidates"]!.AsArray().Count);
        Assert.Equal("INVALID_DURATION", (await cli.Error("wait", "build-b", "--timeout", "soon"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_FILTER", (await cli.Error("logs", "build-b", "--filter", "bogus"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_LABEL", (await cli.Error("ls", "--label", "nolabel"))["code"]!.GetValue<string>());
        Assert.Equal("AGENT_RUNNING", (await cli.Error("archive", "build-a"))["code"]!.GetValue<string>());
        Assert.Equal("NO_PENDING_PERMISSION", (await cli.Error("permit", "allow", "build-b"))["code"]!.GetValue<string>());
        Assert.Equal("PROVIDER_NOT_FOUND", (await cli.Error("provider", "models", "nope"))["code"]!.GetValue<string>());
        Assert.Equal("INVALID_IMAGE", (await cli.Error("send", "build-b", "look", "--image", Path.Combine(cli.Work, "missing.png")))["code"]!.GetValue<string>());
        Assert.Equal("MISSING_AGENT", (await cli.Error("delete"))["code"]!.GetValue<string>());
        Assert.Equal("AGENT_CREATE_FAILED", (await cli.Error("run", "hi", "--provider", "nope", "--cwd", cli.Work))["code"]!.GetValue<string>());

        // A failing turn and a wait that times out: exit 1, the result still printed for scripts.
        var failed = await cli.Paseo("run", "[fail]", "--provider", "mock", "--cwd", cli.Work, "--json");
        Assert.Equal(1, failed.ExitCode);
        Assert.Equal("AGENT_ERROR", JsonNode.Parse(failed.StdOut)!["code"]!.GetValue<string>());
        var timedOut = await cli.Paseo("wait", "build-a", "--timeout", "300ms");
        Assert.Equal(1, timedOut.ExitCode);
        Assert.Contains("did not finish within the timeout", timedOut.StdErr);

        // Table mode: message on stderr, nothing on stdout.
        var text = await cli.Paseo("inspect", "nobody");
        Assert.Equal((1, "", "paseo: Agent not found: nobody\n"), (text.ExitCode, text.StdOut, text.StdErr));
        var badFormat = await cli.Paseo("ls", "-o", "xml");
        Assert.Equal(1, badFormat.ExitCode);
        Assert.Contains("expected table, json or yaml", badFormat.StdErr);

        // Nothing was harmed: the hanging agent still runs, nothing was stopped or archived by the failed commands.
        var agents = (await cli.Json("ls")).AsArray();
        Assert.Equal("running", agents.Single(a => a!["id"]!.GetValue<string>() == keeper)!["status"]!.GetValue<string>());
        Assert.Equal(3, agents.Count);
    }

    [Fact]
    public async Task A_password_protected_daemon_takes_the_password_from_a_tcp_target_and_refuses_a_wrong_one()
    {
        using var home = new TestHome();
        var env = PaseoBinary.CleanEnvironment(home);
        env["PASEO_PASSWORD"] = "s3cret-pass";
        await using var daemon = new ForegroundDaemon(env, "--port", "0");
        var listen = (await RunningDaemon.WaitHealthyAsync(home.Home)).Listen;
        env.Remove("PASEO_PASSWORD");

        var ok = await PaseoBinary.RunAsync(env, "ls", "--json", "--host", $"tcp://{listen}?password=s3cret-pass");
        Assert.True(ok.ExitCode == 0, ok.StdErr + ok.StdOut);
        Assert.Empty(JsonNode.Parse(ok.StdOut)!.AsArray());
        foreach (var host in new[] { $"tcp://{listen}?password=wrong", listen })
        {
            var refused = await PaseoBinary.RunAsync(env, "ls", "--json", "--host", host);
            Assert.Equal(1, refused.ExitCode);
            Assert.Equal("UNAUTHORIZED", JsonNode.Parse(refused.StdOut)!["error"]!["code"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Images_are_attached_to_run_and_send_and_bad_ones_refused_before_anything_is_sent()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var png = Path.Combine(cli.Work, "shot.png");
        // The smallest valid PNG (1x1, transparent).
        await File.WriteAllBytesAsync(png, Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="));
        var run = await cli.Json("run", "look at this", "--image", png, "--provider", "mock", "--title", "viewer", "--cwd", cli.Work);
        Assert.Equal("idle", run["status"]!.GetValue<string>());
        Assert.Equal("Mock reply to: and this", (await cli.Json("send", "viewer", "and this", "--image", png, "--image", png))["lastMessage"]!.GetValue<string>());

        var text = Path.Combine(cli.Work, "notes.txt");
        await File.WriteAllTextAsync(text, "not an image");
        Assert.Equal("INVALID_IMAGE", (await cli.Error("send", "viewer", "read", "--image", text))["code"]!.GetValue<string>());
        // Refused before sending: the agent's timeline has only the two prompts that were sent.
        var prompts = (await cli.Json("logs", "viewer", "--filter", "text")).AsArray().Count(e => e!["item"]!["type"]!.GetValue<string>() == "user_message");
        Assert.Equal(2, prompts);
    }

    [Fact]
    public async Task On_a_terminal_tables_are_coloured_and_long_waits_show_progress()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        await cli.Ok("run", "-d", "[hang] busy", "--provider", "mock", "--title", "busy", "--cwd", cli.Work);
        // script(1) (util-linux, always on Debian) runs paseo on a pseudo-terminal, as a person would.
        async Task<string> OnTerminal(string command)
        {
            var psi = PaseoBinary.StartInfo(["-qec", command, "/dev/null"], cli.Env, program: "script");
            psi.Environment["PATH"] = Path.GetDirectoryName(PaseoBinary.Path) + ":" + psi.Environment["PATH"];
            psi.Environment["PASEO_HOST"] = cli.Host;
            using var process = Process.Start(psi)!;
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return await output;
        }

        var table = await OnTerminal("paseo ls");
        Assert.Contains("\e[1mAGENT ID\e[0m", table);
        Assert.Contains("\e[32mrunning\e[0m", table);
        Assert.DoesNotContain("\e[", await OnTerminal("paseo ls --no-color"));

        // The wait runs for its whole 3 s timeout: the spinner line is drawn (every 200 ms) and wiped at the end.
        var waited = await OnTerminal("paseo wait busy --timeout 3s");
        Assert.Contains("⠋ waiting for agent", waited);
        Assert.Contains("did not finish within the timeout", waited);
        // Piped, the same wait prints no progress at all.
        var piped = await cli.Paseo("wait", "busy", "--timeout", "1s");
        Assert.DoesNotContain("waiting for agent", piped.StdErr);
    }

    [Fact]
    public async Task Without_a_pid_file_the_cli_finds_the_daemon_from_config_json()
    {
        await using var cli = await CliTarget.StartAsync("unix");
        // A home with no daemon of its own, whose config names the daemon's socket (as a systemd-run daemon would).
        using var other = new TestHome();
        await File.WriteAllTextAsync(other.Home.ConfigJson, new JsonObject { ["version"] = 1, ["daemon"] = new JsonObject { ["listen"] = cli.Host } }.ToJsonString());
        var env = PaseoBinary.CleanEnvironment(other);
        var listed = await PaseoBinary.RunAsync(env, "ls", "--json");
        Assert.True(listed.ExitCode == 0, listed.StdErr + listed.StdOut);
        Assert.Empty(JsonNode.Parse(listed.StdOut)!.AsArray());
    }

    [Fact]
    public async Task Ssl_true_reaches_a_daemon_behind_a_tls_proxy_and_an_untrusted_certificate_is_refused()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        await cli.Ok("run", "behind tls", "--provider", "mock", "--title", "tls", "--cwd", cli.Work);
        var port = int.Parse(cli.Host[(cli.Host.LastIndexOf(':') + 1)..]);
        await using var proxy = new TlsProxy("127.0.0.1", port, cli.Work);
        var target = $"tcp://localhost:{proxy.Port}?ssl=true";

        var untrusted = await PaseoBinary.RunAsync(cli.Env, "ls", "--json", "--host", target);
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Equal("TLS_ERROR", JsonNode.Parse(untrusted.StdOut)!["error"]!["code"]!.GetValue<string>());

        // Trusting the proxy's certificate (as a real CA-signed one would be), the same target works.
        var env = new Dictionary<string, string?>(cli.Env) { ["SSL_CERT_FILE"] = proxy.CertificatePemPath };
        var trusted = await PaseoBinary.RunAsync(env, "ls", "-q", "--host", target);
        Assert.True(trusted.ExitCode == 0, trusted.StdErr + trusted.StdOut);
        Assert.Single(trusted.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Output_schema_prints_only_valid_json_and_refuses_the_rest()
    {
        await using var cli = await CliTarget.StartAsync("tcp");
        var schemaFile = Path.Combine(cli.Work, "schema.json");
        await File.WriteAllTextAsync(schemaFile, """{"type":"object","properties":{"files":{"type":"integer"}},"required":["files"]}""");

        var ok = await cli.Paseo("run", """[say {"files": 3}]""", "--provider", "mock", "--cwd", cli.Work, "--output-schema", schemaFile);
        Assert.Equal((0, "{\"files\":3}\n"), (ok.ExitCode, ok.StdOut));

        var wrongType = await cli.Error("run", """[say {"files": "three"}]""", "--provider", "mock", "--cwd", cli.Work, "--output-schema", schemaFile);
        Assert.Equal("OUTPUT_SCHEMA_MISMATCH", wrongType["code"]!.GetValue<string>());
        Assert.Equal("three", wrongType["details"]!["output"]!["files"]!.GetValue<string>());
        var notJson = await cli.Error("run", "[say three files]", "--provider", "mock", "--cwd", cli.Work, "--output-schema", schemaFile);
        Assert.Equal("OUTPUT_SCHEMA_MISMATCH", notJson["code"]!.GetValue<string>());
        Assert.Contains("not JSON", notJson["message"]!.GetValue<string>());

        // Inline schema; a bad schema is refused before any agent is created.
        var inline = await cli.Ok("run", """[say {"ok": true}]""", "--provider", "mock", "--cwd", cli.Work, "--output-schema", """{"type":"object","required":["ok"]}""");
        Assert.Equal("{\"ok\":true}", inline.Trim());
        var before = (await cli.Json("ls")).AsArray().Count;
        Assert.Equal("INVALID_OUTPUT_SCHEMA", (await cli.Error("run", "x", "--provider", "mock", "--output-schema", "{not json"))["code"]!.GetValue<string>());
        Assert.Equal(before, (await cli.Json("ls")).AsArray().Count);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("unix")]
    [InlineData("relay")]
    public async Task Logs_follow_and_attach_stream_live_output_until_ctrl_c(string transport)
    {
        await using var cli = await CliTarget.StartAsync(transport);
        await cli.Ok("run", "first turn", "--provider", "mock", "--title", "talker", "--cwd", cli.Work);

        await using var follow = new StreamingPaseo(cli.Env, "logs", "talker", "-f", "--host", cli.Host);
        await follow.LineAsync(l => l == "Mock reply to: first turn", "with the history");
        await using var attach = new StreamingPaseo(cli.Env, "attach", "talker", "--json", "--host", cli.Host);
        await attach.ErrorLineAsync(l => l.StartsWith("Attached to "), "saying it is attached");

        await cli.Ok("send", "talker", "[shell echo hi] second turn");
        await follow.LineAsync(l => l == "$ Bash echo hi [completed]", "with the live tool call");
        await follow.LineAsync(l => l == "Mock reply to: [shell echo hi] second turn", "with the live reply, deltas joined");
        var streamed = await attach.LineAsync(l => l.Contains("\"assistant_message\""), "with a JSON timeline row");
        Assert.Equal("talker", (await cli.Json("inspect", "talker"))["title"]!.GetValue<string>());
        Assert.NotNull(JsonNode.Parse(streamed)!["item"]!["text"]);

        Assert.Equal(0, await follow.InterruptAsync());
        Assert.Equal(0, await attach.InterruptAsync());
        Assert.Equal("idle", (await cli.Json("inspect", "talker"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_shell_loop_runs_waits_and_reads_logs_as_a_user_would()
    {
        await using var cli = await CliTarget.StartAsync("unix");
        var script = """
            set -e
            for task in lint test; do
              id=$(paseo run -d --provider mock --title "$task" "[shell make $task] $task done" -q)
              paseo wait "$id" --timeout 1m >/dev/null
              paseo logs "$id" --tail 1
            done
            paseo ls -q | wc -l
            """;
        var psi = PaseoBinary.StartInfo(["-c", script], cli.Env, program: "/bin/sh");
        psi.WorkingDirectory = cli.Work;
        psi.Environment["PATH"] = Path.GetDirectoryName(PaseoBinary.Path) + ":" + psi.Environment["PATH"];
        psi.Environment["PASEO_HOST"] = cli.Host;
        using var shell = Process.Start(psi)!;
        shell.StandardInput.Close();
        var stdout = shell.StandardOutput.ReadToEndAsync();
        var stderr = shell.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await shell.WaitForExitAsync(timeout.Token);
        Assert.True(shell.ExitCode == 0, await stderr);
        Assert.Equal(["Mock reply to: [shell make lint] lint done", "Mock reply to: [shell make test] test done", "2"],
            (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
        // Piped: no progress spinner on stderr.
        Assert.Equal("", await stderr);
    }
}
