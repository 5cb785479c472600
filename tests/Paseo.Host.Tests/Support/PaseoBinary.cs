using System.Diagnostics;
using System.Text;

namespace Paseo.Host.Tests.Support;

public sealed record PaseoResult(int ExitCode, string StdOut, string StdErr);

/// <summary>
/// The real `paseo` executable (src/Paseo.Host/bin/&lt;Configuration&gt;/net10.0/paseo), run as a subprocess with a
/// clean environment: only PATH, DOTNET_* and what the test sets, so the developer's own PASEO_* never leak in.
/// </summary>
public static class PaseoBinary
{
    public static string Path { get; } = Locate();

    private static string Locate()
    {
        var binDir = AppContext.BaseDirectory; // tests/Paseo.Host.Tests/bin/<Config>/net10.0/
        var configuration = new DirectoryInfo(binDir).Parent!.Name;
        var dir = new DirectoryInfo(binDir);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("cannot find the repository root (Paseo.sln) above " + binDir);
        var path = System.IO.Path.Combine(dir.FullName, "src", "Paseo.Host", "bin", configuration, "net10.0", "paseo");
        if (!File.Exists(path)) throw new InvalidOperationException($"the paseo binary is not built at {path}");
        return path;
    }

    public static Dictionary<string, string?> CleanEnvironment(TestHome home)
    {
        var env = new Dictionary<string, string?>
        {
            ["PATH"] = Environment.GetEnvironmentVariable("PATH"),
            ["HOME"] = home.Root,
            ["PASEO_HOME"] = home.Home.Root,
        };
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal)))
            env[key] = Environment.GetEnvironmentVariable(key);
        return env;
    }

    /// <summary>
    /// Starts <paramref name="program"/> (the paseo binary unless named) with exactly <paramref name="env"/>, and with SIGINT
    /// at its default: a test run launched in the background by a non-interactive shell inherits SIGINT ignored, which
    /// .NET (like any program) then keeps, and a Ctrl-C test would wait for nothing. `env --default-signal` resets it.
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string?> env, string? program = null)
    {
        var psi = new ProcessStartInfo("env")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("--default-signal=INT");
        psi.ArgumentList.Add(program ?? Path);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>Runs to completion (bounded by a timeout, after which the process is killed and the test fails).</summary>
    public static async Task<PaseoResult> RunWithStdinAsync(IReadOnlyDictionary<string, string?> env, string? stdin, params string[] args)
    {
        using var process = Process.Start(StartInfo(args, env))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"paseo {string.Join(' ', args)} did not finish within 60 s");
        }
        return new PaseoResult(process.ExitCode, await stdout, await stderr);
    }

    public static Task<PaseoResult> RunAsync(IReadOnlyDictionary<string, string?> env, params string[] args) => RunWithStdinAsync(env, null, args);
}

/// <summary>A foreground daemon started as a subprocess; it prints nothing we wait on, so readiness is its health endpoint.</summary>
public sealed class ForegroundDaemon : IAsyncDisposable
{
    public Process Process { get; }
    private readonly StringBuilder _stderr = new();

    public ForegroundDaemon(IReadOnlyDictionary<string, string?> env, params string[] extraArgs)
    {
        Process = Process.Start(PaseoBinary.StartInfo(["daemon", "start", "--foreground", .. extraArgs], env))!;
        Process.StandardInput.Close();
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        Process.OutputDataReceived += (_, _) => { };
        Process.BeginErrorReadLine();
        Process.BeginOutputReadLine();
    }

    public string StdErr { get { lock (_stderr) return _stderr.ToString(); } }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await Process.WaitForExitAsync(cts.Token);
        return Process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync();
        }
        Process.Dispose();
    }
}
