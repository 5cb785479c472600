using System.Net;
using System.Text.Json;
using Paseo.Host.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;
using Paseo.Transport.Listen;

namespace Paseo.Host.Tests.Lifecycle;

/// <summary>The real `paseo` binary as a subprocess: detached and foreground daemons in a temporary $PASEO_HOME.</summary>
public sealed class DaemonProcessTests : IDisposable
{
    private readonly TestHome _home = new();
    private readonly Dictionary<string, string?> _env;

    public DaemonProcessTests() => _env = PaseoBinary.CleanEnvironment(_home);

    private PidFileRecord? Pid => PidFile.Read(_home.Home.PidFile);

    private Task<PidFileRecord> WaitHealthyAsync() => RunningDaemon.WaitHealthyAsync(_home.Home);

    /// <summary>/api/status of the running daemon refuses an anonymous request and accepts the given password.</summary>
    private static async Task AssertStatusDemandsAsync(PidFileRecord record, string password)
    {
        var (http, baseUri) = DaemonProbe.ClientFor(ListenTarget.Parse(record.Listen), TimeSpan.FromSeconds(10));
        using (http)
        {
            using var anonymous = await http.GetAsync(new Uri(baseUri, "api/status"));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "api/status"));
            request.Headers.Authorization = new("Bearer", password);
            using var authed = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, authed.StatusCode);
        }
    }

    /// <summary>`paseo daemon start --port 0` succeeds and the daemon it names in its pid file answers /api/health.</summary>
    private async Task<PidFileRecord> StartDetachedAsync(IReadOnlyDictionary<string, string?> env)
    {
        var started = await PaseoBinary.RunAsync(env, "daemon", "start", "--port", "0");
        Assert.True(started.ExitCode == 0, started.StdErr + started.StdOut);
        return await WaitHealthyAsync();
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public async Task Start_status_stop_of_a_detached_daemon()
    {
        var started = await PaseoBinary.RunAsync(_env, "daemon", "start", "--port", "0", "--json");
        Assert.True(started.ExitCode == 0, started.StdErr + started.StdOut);
        var startJson = Json(started.StdOut);
        var pid = startJson.GetProperty("pid").GetInt32();
        Assert.True(startJson.GetProperty("started").GetBoolean());
        Assert.True(ProcessLiveness.IsAlive(pid));
        Assert.Equal(pid, Pid!.Pid);

        var status = await PaseoBinary.RunAsync(_env, "daemon", "status", "--json");
        Assert.Equal(0, status.ExitCode);
        var statusJson = Json(status.StdOut);
        Assert.True(statusJson.GetProperty("running").GetBoolean());
        Assert.True(statusJson.GetProperty("healthy").GetBoolean());
        Assert.Equal(pid, statusJson.GetProperty("pid").GetInt32());
        Assert.Equal(startJson.GetProperty("listen").GetString(), statusJson.GetProperty("listen").GetString());

        var table = await PaseoBinary.RunAsync(_env, "status");
        Assert.True(table.ExitCode == 0, table.StdOut + table.StdErr);
        Assert.Contains("Status:  running", table.StdOut);
        Assert.Contains($"PID:     {pid}", table.StdOut);
        Assert.Contains("Health:  ok", table.StdOut);
        Assert.Contains("Uptime:", table.StdOut);

        var second = await PaseoBinary.RunAsync(_env, "daemon", "start", "--port", "0");
        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"already running (pid {pid}", second.StdErr);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.Home.DaemonLog));

        var stopped = await PaseoBinary.RunAsync(_env, "daemon", "stop", "--json");
        Assert.True(stopped.ExitCode == 0, stopped.StdOut + stopped.StdErr);
        Assert.True(Json(stopped.StdOut).GetProperty("stopped").GetBoolean());
        Assert.False(ProcessLiveness.IsAlive(pid));
        Assert.False(File.Exists(_home.Home.PidFile));

        var after = await PaseoBinary.RunAsync(_env, "daemon", "status");
        Assert.Equal(1, after.ExitCode);
        Assert.Contains("not running", after.StdOut);
        var again = await PaseoBinary.RunAsync(_env, "daemon", "stop");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("not running", again.StdOut);
    }

    [Fact]
    public async Task Status_says_how_many_relay_client_keys_are_remembered_and_when_the_ledger_is_full()
    {
        var started = await StartDetachedAsync(_env);
        var status = Json((await PaseoBinary.RunAsync(_env, "daemon", "status", "--json")).StdOut).GetProperty("relayClientKeys");
        Assert.Equal((0, 1_000_000, false), (status.GetProperty("remembered").GetInt64(), status.GetProperty("capacity").GetInt64(), status.GetProperty("full").GetBoolean()));
        Assert.Contains("Relay:   0 of 1000000 client keys remembered", (await PaseoBinary.RunAsync(_env, "daemon", "status")).StdOut);
        Assert.True((await PaseoBinary.RunAsync(_env, "daemon", "stop")).ExitCode == 0);

        // One connection remembered, and room for one: full. The daemon says so when it starts, and status says what to do.
        await File.AppendAllTextAsync(_home.Home.HoconOverride, "paseo.e2ee.remembered-client-keys = 1\n");
        var identity = Paseo.Transport.Identity.DaemonIdentity.Load(_home.Home, new Dictionary<string, string?>());
        using (var ledger = Paseo.Transport.Identity.ClientKeyLedger.Open(_home.Home.ClientKeyLedgerFile, identity.KeyPair.PublicKey, 1))
            Assert.Equal(Paseo.Transport.Identity.ClientKeyClaim.Claimed, ledger.TryClaim(Paseo.Transport.Crypto.BoxKeyPair.Generate().PublicKey, out _));
        started = await StartDetachedAsync(_env);
        var full = Json((await PaseoBinary.RunAsync(_env, "daemon", "status", "--json")).StdOut).GetProperty("relayClientKeys");
        Assert.True(full.GetProperty("full").GetBoolean());
        var table = (await PaseoBinary.RunAsync(_env, "daemon", "status")).StdOut;
        Assert.Contains("Relay:   1 of 1 client keys remembered (FULL: new relay connections are refused; run `paseo daemon pair --rotate`", table);
        Assert.Contains("client key ledger", await File.ReadAllTextAsync(_home.Home.DaemonLog));
        Assert.Contains("is full", await File.ReadAllTextAsync(_home.Home.DaemonLog));
        Assert.True((await PaseoBinary.RunAsync(_env, "daemon", "stop")).ExitCode == 0);
        Assert.False(ProcessLiveness.IsAlive(started.Pid));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_malformed_config_stops_the_daemon_with_exit_2_and_is_left_untouched(bool foreground)
    {
        const string broken = "{\n  \"daemon\": {\n    \"listen\": \"127.0.0.1:0\",\n    \"cors\": {\"allowedOrigins\": \"https://a.test\"}\n  }\n}\n";
        await File.WriteAllTextAsync(_home.Home.ConfigJson, broken);

        var result = foreground
            ? await PaseoBinary.RunAsync(_env, "daemon", "start", "--foreground")
            : await PaseoBinary.RunAsync(_env, "daemon", "start");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(_home.Home.ConfigJson, result.StdErr);
        Assert.Contains("daemon.cors.allowedOrigins: expected an array of strings", result.StdErr);
        Assert.Equal(broken, await File.ReadAllTextAsync(_home.Home.ConfigJson));
        Assert.False(File.Exists(_home.Home.PidFile));
    }

    [Fact]
    public async Task Bad_json_and_a_bad_environment_variable_exit_2()
    {
        await File.WriteAllTextAsync(_home.Home.ConfigJson, "{\"daemon\": ");
        var json = await PaseoBinary.RunAsync(_env, "daemon", "start", "--foreground");
        Assert.Equal(2, json.ExitCode);
        Assert.Contains("invalid JSON at line 1", json.StdErr);
        Assert.Equal("{\"daemon\": ", await File.ReadAllTextAsync(_home.Home.ConfigJson));

        File.Delete(_home.Home.ConfigJson);
        var env = new Dictionary<string, string?>(_env) { ["PASEO_LISTEN"] = "pipe://paseo" };
        var variable = await PaseoBinary.RunAsync(env, "daemon", "start", "--foreground");
        Assert.Equal(2, variable.ExitCode);
        Assert.Contains("PASEO_LISTEN", variable.StdErr);
    }

    [Fact]
    public async Task A_command_sent_while_the_daemon_starts_waits_for_it_to_accept_connections()
    {
        // The pid file of a daemon that holds its home but does not accept yet (this test process plays its pid).
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var record = new PidFileRecord(Environment.ProcessId, "2026-12-06T00:00:00.000Z", Environment.MachineName, 0, $"127.0.0.1:{port}");
        PidFile.Acquire(_home.Home.PidFile, record with { Starting = true });
        try
        {
            var ls = PaseoBinary.RunAsync(_env, "ls", "--json");
            // The daemon then starts listening on that port, and says so in its pid file.
            await using var daemon = await InProcessDaemon.StartAsync(listen: $"127.0.0.1:{port}");
            PidFile.Update(_home.Home.PidFile, record);

            var result = await ls;
            Assert.True(result.ExitCode == 0, result.StdErr);
            Assert.Empty(JsonDocument.Parse(result.StdOut).RootElement.EnumerateArray());
        }
        finally
        {
            // The pid file names this test process: the class's clean-up would stop "the daemon" it names.
            PidFile.Release(_home.Home.PidFile, Environment.ProcessId);
        }
    }

    [Fact]
    public async Task A_port_already_in_use_is_a_clear_error_and_releases_the_pid_file()
    {
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var result = await PaseoBinary.RunAsync(_env, "daemon", "start", "--foreground", "--listen", $"127.0.0.1:{port}");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", result.StdErr);
        Assert.False(File.Exists(_home.Home.PidFile));
    }

    [Fact]
    public async Task Listening_on_all_interfaces_without_a_password_is_refused()
    {
        foreach (var args in new[] { new[] { "daemon", "start", "--foreground", "--listen", "0.0.0.0:0" }, ["daemon", "start", "--listen", "0.0.0.0:0"] })
        {
            var result = await PaseoBinary.RunAsync(_env, args);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("refusing to listen on 0.0.0.0:0 without a password", result.StdErr);
            Assert.Contains("paseo daemon set-password", result.StdErr);
            Assert.False(File.Exists(_home.Home.PidFile));
        }
    }

    [Fact]
    public async Task The_override_starts_an_unprotected_network_daemon_with_a_warning()
    {
        var started = await PaseoBinary.RunAsync(_env, "daemon", "start", "--listen", "0.0.0.0:0", "--allow-unauthenticated-network");
        Assert.True(started.ExitCode == 0, started.StdErr);
        var record = await WaitHealthyAsync();
        Assert.StartsWith("0.0.0.0:", record.Listen);
        await Eventually.HoldsAsync(() => File.ReadAllText(_home.Home.DaemonLog).Contains("without a password (--allow-unauthenticated-network)"), "the warning in daemon.log");
        Assert.Equal(0, (await PaseoBinary.RunAsync(_env, "daemon", "stop")).ExitCode);
    }

    [Fact]
    public async Task Set_password_stores_only_a_hash_and_the_daemon_then_demands_it()
    {
        var set = await PaseoBinary.RunWithStdinAsync(_env, "s3cret.with.dots\n", "daemon", "set-password", "--stdin");
        Assert.True(set.ExitCode == 0, set.StdErr);
        var config = await File.ReadAllTextAsync(_home.Home.ConfigJson);
        Assert.Matches(@"""password"": ""\$2b\$04\$[./A-Za-z0-9]{53}""", config);
        Assert.DoesNotContain("s3cret", config);

        var record = await StartDetachedAsync(_env);
        await AssertStatusDemandsAsync(record, "s3cret.with.dots");
        Assert.Equal(0, (await PaseoBinary.RunAsync(_env, "daemon", "stop")).ExitCode);
    }

    [Fact]
    public async Task Set_password_refuses_an_empty_password_and_changes_nothing()
    {
        var result = await PaseoBinary.RunWithStdinAsync(_env, "\n", "daemon", "set-password", "--stdin");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("empty", result.StdErr);
        Assert.False(File.Exists(_home.Home.ConfigJson));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("comma,separated")]
    [InlineData("slash/ed")]
    [InlineData("équipe")]
    public async Task Set_password_refuses_passwords_that_cannot_travel_as_a_token(string password)
    {
        var result = await PaseoBinary.RunWithStdinAsync(_env, password + "\n", "daemon", "set-password", "--stdin");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot travel in an HTTP Bearer token", result.StdErr);
        Assert.False(File.Exists(_home.Home.ConfigJson));
    }

    [Fact]
    public async Task PASEO_PASSWORD_is_enforced_and_never_written_to_disk()
    {
        const string secret = "plain-env-secret-4711";
        var env = new Dictionary<string, string?>(_env) { ["PASEO_PASSWORD"] = secret };
        var record = await StartDetachedAsync(env);
        await AssertStatusDemandsAsync(record, secret);
        Assert.Equal(0, (await PaseoBinary.RunAsync(env, "daemon", "stop")).ExitCode);

        foreach (var file in Directory.EnumerateFiles(_home.Home.Root, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(secret, await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task A_foreground_daemon_stops_cleanly_on_sigterm_and_removes_its_socket_and_pid_file()
    {
        var socketPath = _home.PathIn("fg.sock");
        await using var daemon = new ForegroundDaemon(_env, "--listen", "unix://" + socketPath);
        await WaitHealthyAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socketPath));
        // A foreground daemon logs to the console (stderr, keeping stdout free for command output).
        await Eventually.HoldsAsync(() => daemon.StdErr.Contains($"listening on unix://{socketPath}"), "the start line on the console");

        Signals.Send(daemon.Process.Id, Signals.SIGTERM);

        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(socketPath));
        Assert.False(File.Exists(_home.Home.PidFile));
    }

    [Fact]
    public async Task A_killed_daemon_leaves_a_stale_socket_that_the_next_start_replaces()
    {
        var socketPath = _home.PathIn("k.sock");
        await using (var first = new ForegroundDaemon(_env, "--listen", "unix://" + socketPath))
        {
            await WaitHealthyAsync();
            Signals.Send(first.Process.Id, Signals.SIGKILL);
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.True(File.Exists(socketPath), "a SIGKILLed daemon leaves its socket file");
        Assert.True(File.Exists(_home.Home.PidFile), "and its pid file");

        await using var second = new ForegroundDaemon(_env, "--listen", "unix://" + socketPath);
        // Healthy with its own pid file record: the stale one was replaced (else this times out).
        var record = await RunningDaemon.WaitHealthyAsync(_home.Home, second.Process.Id);
        Assert.Equal(socketPath, ListenTarget.Parse(record.Listen) is UnixListenTarget unix ? unix.Path : null);
    }

    [Fact]
    public async Task Stop_waits_then_force_kills_a_daemon_that_does_not_stop()
    {
        var record = await StartDetachedAsync(_env);
        Signals.Send(record.Pid, Signals.SIGSTOP);
        try
        {
            var polite = await PaseoBinary.RunAsync(_env, "daemon", "stop", "--timeout", "0.5");
            Assert.Equal(1, polite.ExitCode);
            Assert.Contains("did not stop", polite.StdErr);
            Assert.True(ProcessLiveness.IsAlive(record.Pid));

            var forced = await PaseoBinary.RunAsync(_env, "daemon", "stop", "--timeout", "0.5", "--force", "--json");
            Assert.Equal(0, forced.ExitCode);
            Assert.True(Json(forced.StdOut).GetProperty("forced").GetBoolean());
            Assert.False(ProcessLiveness.IsAlive(record.Pid));
            Assert.False(File.Exists(_home.Home.PidFile));
        }
        finally
        {
            if (ProcessLiveness.IsAlive(record.Pid)) Signals.Send(record.Pid, Signals.SIGKILL);
        }
    }

    [Fact]
    public async Task Restart_replaces_the_running_daemon()
    {
        var before = await StartDetachedAsync(_env);

        var restarted = await PaseoBinary.RunAsync(_env, "daemon", "restart", "--port", "0", "--json");

        Assert.True(restarted.ExitCode == 0, restarted.StdErr + restarted.StdOut);
        var after = await WaitHealthyAsync();
        Assert.NotEqual(before.Pid, after.Pid);
        Assert.False(ProcessLiveness.IsAlive(before.Pid));
        Assert.Equal(0, (await PaseoBinary.RunAsync(_env, "daemon", "stop")).ExitCode);
    }

    public void Dispose()
    {
        // Never leave a daemon behind, whatever the test did.
        if (Pid is { } record && ProcessLiveness.IsAlive(record.Pid))
        {
            try { Signals.Send(record.Pid, Signals.SIGKILL); } catch (InvalidOperationException) { }
        }
        _home.Dispose();
    }
}
