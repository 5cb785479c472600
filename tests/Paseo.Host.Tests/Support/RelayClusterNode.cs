using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Paseo.Host.Tests.Support;

/// <summary>
/// One node of a relay cluster: `paseo relay start --cluster` as a process of its own on loopback, with fixed ports (so a
/// restarted node comes back where the load balancer and its peers expect it). Ready when it prints the port it bound.
/// </summary>
public sealed class RelayClusterNode : IAsyncDisposable
{
    private Process _process = null!;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly IReadOnlyDictionary<string, string?> _env;
    private readonly IReadOnlyList<int> _seeds;
    private readonly IReadOnlyList<string> _extraArgs;

    public string Name { get; }
    public int Port { get; }
    public int ClusterPort { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string ClusterAddress => $"akka.tcp://paseo-relay@127.0.0.1:{ClusterPort}";
    public string Log => string.Join('\n', _log);
    public string PidFile => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"paseo-relay-node-{ClusterPort}.pid");
    public int ExitCode => _process.ExitCode;

    /// <summary>Until the process exits by itself (bounded).</summary>
    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);

    private RelayClusterNode(string name, int port, int clusterPort, IReadOnlyList<int> seeds, IReadOnlyDictionary<string, string?> env, IReadOnlyList<string> extraArgs)
    {
        _extraArgs = extraArgs;
        Name = name;
        Port = port;
        ClusterPort = clusterPort;
        _seeds = seeds;
        _env = env;
    }

    /// <param name="seeds">Cluster ports of the seed nodes (the first node's first, on every node).</param>
    public static async Task<RelayClusterNode> StartAsync(string name, int port, int clusterPort, IReadOnlyList<int> seeds, IReadOnlyDictionary<string, string?> env,
        IReadOnlyList<string>? extraArgs = null)
    {
        var node = new RelayClusterNode(name, port, clusterPort, seeds, env, extraArgs ?? []);
        await node.RestartAsync();
        return node;
    }

    /// <summary>Starts (again) on the same ports.</summary>
    public async Task RestartAsync()
    {
        var args = new List<string> { "relay", "start", "--listen", $"127.0.0.1:{Port}", "--cluster", "--cluster-listen", $"127.0.0.1:{ClusterPort}" };
        foreach (var seed in _seeds) args.AddRange(["--seed", $"127.0.0.1:{seed}"]);
        // The relay reads its paseo.hocon from --home only (it keeps no other file there).
        if (_env.GetValueOrDefault("PASEO_HOME") is { } home) args.AddRange(["--home", home]);
        args.AddRange(["--pid-file", PidFile]);
        args.AddRange(_extraArgs);
        _process = Process.Start(PaseoBinary.StartInfo(args, _env))!;
        _process.StandardInput.Close();
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (!line.StartsWith("Relay listening on ", StringComparison.Ordinal)) continue;
            _ = _process.StandardOutput.ReadToEndAsync(); // keep draining
            return;
        }
        throw new InvalidOperationException($"relay node {Name} exited ({_process.ExitCode}) before it listened:\n{Log}");
    }

    public async Task<JsonObject> HealthAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{Port}/health"))!.AsObject();
    }

    /// <summary>Members this node sees as Up (0 while it does not answer).</summary>
    public async Task<int> UpMembersAsync()
    {
        try
        {
            var health = await HealthAsync();
            return health["members"]!.AsArray().Count(m => m!["status"]!.GetValue<string>() == "Up") - health["unreachable"]!.AsArray().Count;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    public async Task<int> RoomsAsync() => (await HealthAsync())["rooms"]!.GetValue<int>();

    public async Task KillAsync()
    {
        Signals.Send(_process.Id, Signals.SIGKILL);
        await _process.WaitForExitAsync();
    }

    /// <summary>`paseo relay stop --pid-file`: SIGTERM, the node hands its rooms over and leaves; returns once the process is gone.</summary>
    public async Task StopAsync()
    {
        var stop = await PaseoBinary.RunAsync(_env, "relay", "stop", "--pid-file", PidFile);
        if (stop.ExitCode != 0 || !stop.StdOut.Contains($"Relay stopped (pid {_process.Id})"))
            throw new InvalidOperationException($"paseo relay stop failed ({stop.ExitCode}): {stop.StdOut} {stop.StdErr}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _process.WaitForExitAsync(timeout.Token);
        if (_process.ExitCode != 0) throw new InvalidOperationException($"relay node {Name} exited with {_process.ExitCode} on a stop:\n{Log}");
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

    /// <summary>Free loopback ports (bound then released: another process could take one in between, which fails the start loudly).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }
}

/// <summary>
/// A TCP load balancer on loopback in front of relay nodes, as HAProxy in TCP mode would be (docs/relay.md): each new
/// connection goes to the next node that accepts it, round robin, skipping nodes that refuse and, with
/// <c>healthChecked</c>, nodes whose `/health` is not 200 (joining or leaving), as HAProxy's `http-check` does. It can record what the
/// nodes sent back (server-to-client WebSocket frames are not masked), which is everything the relay forwarded to the
/// clients behind it, so a test can check that none of it is plaintext.
/// </summary>
public sealed class TcpBalancer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int[] _backends;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _open = [];
    private readonly MemoryStream? _recorded;
    private int _next;
    private readonly bool _healthChecked;
    private static readonly HttpClient Health = new() { Timeout = TimeSpan.FromSeconds(1) };

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Which backend port each connection went to, in order, with the first bytes the client sent (its HTTP request line).</summary>
    public ConcurrentQueue<(int Backend, string RequestLine)> Routed { get; } = new();

    public TcpBalancer(int[] backends, bool record = false, bool healthChecked = false)
    {
        _backends = backends;
        _healthChecked = healthChecked;
        if (record) _recorded = new MemoryStream();
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>Everything the nodes sent back so far.</summary>
    public byte[] Recorded
    {
        get
        {
            lock (_recorded!) return _recorded.ToArray();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        _open.Add(client);
        TcpClient? backend = null;
        var start = Interlocked.Increment(ref _next) - 1;
        for (var i = 0; i < _backends.Length && backend is null; i++)
        {
            var port = _backends[(start + i) % _backends.Length];
            if (_healthChecked && !await HealthyAsync(port)) continue;
            var attempt = new TcpClient();
            try
            {
                await attempt.ConnectAsync(IPAddress.Loopback, port, _stop.Token);
                backend = attempt;
                _open.Add(backend);
                var first = new byte[512];
                var stream = client.GetStream();
                var n = await stream.ReadAsync(first, _stop.Token);
                var text = System.Text.Encoding.ASCII.GetString(first, 0, n);
                Routed.Enqueue((port, text.Split('\n')[0].Trim()));
                await backend.GetStream().WriteAsync(first.AsMemory(0, n), _stop.Token);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                attempt.Dispose();
                if (backend is not null) break;
            }
            catch (Exception)
            {
                attempt.Dispose();
                return;
            }
        }
        if (backend is null)
        {
            client.Dispose();
            return;
        }
        var up = PumpAsync(client.GetStream(), backend.GetStream(), null);
        var down = PumpAsync(backend.GetStream(), client.GetStream(), _recorded);
        await Task.WhenAny(up, down);
        // Either side ended: the other ends too, as a balancer's proxied connection does.
        client.Dispose();
        backend.Dispose();
    }

    private static async Task<bool> HealthyAsync(int port)
    {
        try
        {
            using var response = await Health.GetAsync($"http://127.0.0.1:{port}/health");
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, MemoryStream? record)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (record is not null) lock (record) record.Write(buffer, 0, n);
                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // A reset or a stop ends the pump; the caller closes both sides.
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var c in _open) c.Dispose();
        return ValueTask.CompletedTask;
    }
}
