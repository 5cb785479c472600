using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Paseo.Host.Hosting;
using Paseo.Host.RelayServer;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Listen;
using Serilog;

namespace Paseo.Host.Tests.Cli;

/// <summary>
/// A real daemon process with the mock provider, and the `paseo` binary pointed at it one of three ways: `--host` TCP, a unix
/// socket, or a pairing link through a real relay (the CLI then runs from another home that knows only the link).
/// </summary>
public sealed class CliTarget : IAsyncDisposable
{
    private readonly TestHome _home;
    private readonly TestHome _cliHome = new();
    private ForegroundDaemon? _daemon;
    private RelayServerHost? _relay;

    public string Kind { get; }
    public string Host { get; private set; } = "";
    public string Work { get; }
    public Dictionary<string, string?> Env { get; }
    public Dictionary<string, string?> DaemonEnv { get; }

    /// <summary>The daemon's home (its config.json, paseo.hocon override, agents).</summary>
    public TestHome DaemonHome => _home;

    private CliTarget(string kind, string? daemonConfigJson, string? daemonHocon)
    {
        _home = new TestHome(daemonConfigJson, daemonHocon);
        Kind = kind;
        DaemonEnv = PaseoBinary.CleanEnvironment(_home);
        Env = PaseoBinary.CleanEnvironment(_cliHome);
        Work = _cliHome.PathIn("work");
        Directory.CreateDirectory(Work);
    }

    public static async Task<CliTarget> StartAsync(string kind, string? daemonConfigJson = null, string? daemonHocon = null,
        IReadOnlyDictionary<string, string>? daemonEnv = null)
    {
        var target = new CliTarget(kind, daemonConfigJson, daemonHocon);
        foreach (var (name, value) in daemonEnv ?? new Dictionary<string, string>()) target.DaemonEnv[name] = value;
        switch (kind)
        {
            case "tcp":
                target._daemon = new ForegroundDaemon(target.DaemonEnv, "--port", "0");
                target.Host = (await RunningDaemon.WaitHealthyAsync(target._home.Home)).Listen;
                break;
            case "unix":
                var socket = target._home.PathIn("d.sock");
                target._daemon = new ForegroundDaemon(target.DaemonEnv, "--listen", "unix://" + socket);
                await RunningDaemon.WaitHealthyAsync(target._home.Home);
                target.Host = "unix://" + socket;
                break;
            case "relay":
                target._relay = RelayServerHost.Build((TcpListenTarget)ListenTarget.Parse("127.0.0.1:0"), null, null, PaseoSettings.Load(null), new LoggerConfiguration().CreateLogger());
                await target._relay.StartAsync();
                var endpoint = $"127.0.0.1:{target._relay.Listen.Port}";
                target._daemon = new ForegroundDaemon(target.DaemonEnv, "--port", "0", "--relay", endpoint);
                await RunningDaemon.WaitHealthyAsync(target._home.Home);
                target.DaemonEnv["PASEO_RELAY_ENDPOINT"] = endpoint;
                var pair = await PaseoBinary.RunAsync(target.DaemonEnv, "daemon", "pair", "--json");
                target.Host = JsonNode.Parse(pair.StdOut)!["url"]!.GetValue<string>();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
        return target;
    }

    /// <summary>`paseo daemon stop` (SIGTERM: a graceful stop), and the daemon process has exited.</summary>
    public async Task StopDaemonAsync()
    {
        var stopped = await PaseoBinary.RunAsync(DaemonEnv, "daemon", "stop");
        Assert.True(stopped.ExitCode == 0, stopped.StdErr + stopped.StdOut);
        await _daemon!.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A new daemon process on the same home (TCP targets), after <see cref="StopDaemonAsync"/>.</summary>
    public async Task RestartDaemonAsync()
    {
        if (Kind != "tcp") throw new InvalidOperationException("restart is for TCP targets");
        if (_daemon is not null) await _daemon.DisposeAsync();
        _daemon = new ForegroundDaemon(DaemonEnv, "--port", "0");
        Host = (await RunningDaemon.WaitHealthyAsync(_home.Home)).Listen;
    }

    /// <summary>`paseo ARGS --host TARGET`, run to completion.</summary>
    public Task<PaseoResult> Paseo(params string[] args) => PaseoBinary.RunAsync(Env, [.. args, "--host", Host]);

    /// <summary>Runs and expects exit 0; returns stdout.</summary>
    public async Task<string> Ok(params string[] args)
    {
        var result = await Paseo(args);
        Assert.True(result.ExitCode == 0, $"paseo {string.Join(' ', args)} exited {result.ExitCode}: {result.StdErr}{result.StdOut}");
        return result.StdOut;
    }

    public async Task<JsonNode> Json(params string[] args) => JsonNode.Parse(await Ok([.. args, "--json"]))!;

    /// <summary>`paseo wait` on an agent that must stop short of finishing (exit 1): its code, e.g. PERMISSION_REQUIRED.</summary>
    public async Task<string?> WaitCodeAsync(string agent)
    {
        var waited = await Paseo("wait", agent, "--json");
        Assert.True(waited.ExitCode == 1, $"paseo wait {agent} exited {waited.ExitCode}, expected 1: {waited.StdOut}{waited.StdErr}");
        return JsonNode.Parse(waited.StdOut)!["code"]?.GetValue<string>();
    }

    /// <summary>Runs and expects exit 1 with a JSON error; returns its code.</summary>
    public async Task<JsonObject> Error(params string[] args)
    {
        var result = await Paseo([.. args, "--json"]);
        Assert.True(result.ExitCode == 1, $"paseo {string.Join(' ', args)} exited {result.ExitCode}, expected 1: {result.StdOut}{result.StdErr}");
        return (JsonObject)JsonNode.Parse(result.StdOut)!["error"]!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_daemon is not null) await _daemon.DisposeAsync();
        if (_relay is not null) await _relay.DisposeAsync();
        _home.Dispose();
        _cliHome.Dispose();
    }
}

/// <summary>A `paseo` process that keeps running (logs -f, attach): its stdout lines as they come, and Ctrl-C.</summary>
public sealed class StreamingPaseo : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _errorLines = Channel.CreateUnbounded<string>();

    public StreamingPaseo(IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        _process = Process.Start(PaseoBinary.StartInfo(args, env))!;
        _process.StandardInput.Close();
        _ = Pump(_process.StandardOutput, _lines);
        _ = Pump(_process.StandardError, _errorLines);
    }

    private static Task Pump(StreamReader reader, Channel<string> lines) => Task.Run(async () =>
    {
        while (await reader.ReadLineAsync() is { } line) await lines.Writer.WriteAsync(line);
        lines.Writer.TryComplete();
    });

    /// <summary>Reads stdout lines until one satisfies <paramref name="match"/>; fails after 30 s or when the process ends first.</summary>
    public Task<string> LineAsync(Func<string, bool> match, string what) => LineAsync(_lines, match, what);

    /// <summary>The same for stderr.</summary>
    public Task<string> ErrorLineAsync(Func<string, bool> match, string what) => LineAsync(_errorLines, match, what);

    private async Task<string> LineAsync(Channel<string> lines, Func<string, bool> match, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                var line = await lines.Reader.ReadAsync(timeout.Token);
                if (match(line)) return line;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            throw new Xunit.Sdk.XunitException($"no line {what} from paseo ({(_process.HasExited ? $"exited {_process.ExitCode}" : "still running")})");
        }
    }

    /// <summary>SIGINT, as Ctrl-C; returns the exit code.</summary>
    public async Task<int> InterruptAsync()
    {
        Signals.Send(_process.Id, 2);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

/// <summary>
/// A TLS-terminating proxy on loopback (what Caddy or nginx is in front of a daemon on a VPS): accepts TLS with a self-signed
/// certificate for localhost and pipes the bytes to a plain address. <see cref="CertificatePemPath"/> is the certificate, for
/// SSL_CERT_FILE so a `paseo` subprocess trusts it.
/// </summary>
public sealed class TlsProxy : IAsyncDisposable
{
    private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public int Port { get; }
    public string CertificatePemPath { get; }

    public TlsProxy(string forwardHost, int forwardPort, string folder)
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        _certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(created.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx), null);
        CertificatePemPath = Path.Combine(folder, "proxy-cert.pem");
        File.WriteAllText(CertificatePemPath, created.ExportCertificatePem());
        _listener.Start();
        Port = ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                System.Net.Sockets.TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (client)
                    using (var upstream = new System.Net.Sockets.TcpClient())
                    {
                        try
                        {
                            await using var tls = new System.Net.Security.SslStream(client.GetStream());
                            await tls.AuthenticateAsServerAsync(_certificate);
                            await upstream.ConnectAsync(forwardHost, forwardPort);
                            var plain = upstream.GetStream();
                            await Task.WhenAny(tls.CopyToAsync(plain), plain.CopyToAsync(tls));
                        }
                        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or System.Net.Sockets.SocketException)
                        {
                            // A client that gives up mid-handshake: nothing to forward.
                        }
                    }
                });
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _certificate.Dispose();
    }
}
