using System.Diagnostics;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Cli;

namespace Paseo.Host.Tests.Providers;

/// <summary>What the tests that drive real agent CLIs (tests/realcli) share.</summary>
internal static class RealCli
{

    /// <summary>A CLI installed by `npm ci --prefix tests/realcli` (it may be missing: see <see cref="Require"/>).</summary>
    public static string Binary(string name) => Path.Combine(StandIns.TestsFolder, "realcli", "node_modules", ".bin", name);

    /// <summary>
    /// A test that drives a real CLI starts here. When the CLI is not installed the test is reported <b>skipped</b> with the
    /// reason (never passed); under CI=true it fails instead, because CI installs tests/realcli (`./build.sh test`).
    /// </summary>
    public static void Require(string binary, string package)
    {
        if (File.Exists(binary)) return;
        var reason = $"{binary} is missing: `npm ci --prefix tests/realcli` did not install {package} on this machine " +
                     "(./build.sh test runs it; its output is in .test-results/npm-realcli.log)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{reason}. Under CI=true a missing real CLI is a failure, not a skip.");
        throw new SkipException(reason);
    }

    /// <summary>Starts a loopback stand-in of a vendor's API (tests/standins/NAME), which prints "listening on PORT".</summary>
    public static async Task<(Process Process, int Port)> StartApiAsync(string script)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(StandIns.Path(script));
        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process, int.Parse(ready!.Replace("listening on ", "")));
    }

    public static async Task StopAsync(Process? process)
    {
        if (process is { HasExited: false })
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process?.Dispose();
    }

    /// <summary>
    /// Anything a CLI would fetch from the internet (updates, catalogs, packages) goes to a dead port on loopback
    /// instead: tests talk to 127.0.0.1 only. The loopback API stand-ins are exempt (NO_PROXY).
    /// </summary>
    public static void AddOfflineEnvironment(JsonObject env)
    {
        foreach (var name in new[] { "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy" }) env[name] = "http://127.0.0.1:9";
        env["NO_PROXY"] = "127.0.0.1,localhost";
        env["no_proxy"] = "127.0.0.1,localhost";
        env["npm_config_registry"] = "http://127.0.0.1:9/";
    }
}
