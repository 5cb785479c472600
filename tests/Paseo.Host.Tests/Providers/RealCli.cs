using System.Text.Json.Nodes;

namespace Paseo.Host.Tests.Providers;

/// <summary>What the tests that drive real agent CLIs (tests/realcli) share.</summary>
internal static class RealCli
{
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
