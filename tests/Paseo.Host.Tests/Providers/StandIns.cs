using System.Text.Json.Nodes;

namespace Paseo.Host.Tests.Providers;

/// <summary>The agent-CLI stand-ins of tests/standins, and the log each keeps of its starts.</summary>
internal static class StandIns
{
    /// <summary>The repository's tests/ folder (found from the test binaries upwards).</summary>
    public static string TestsFolder
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
            return System.IO.Path.Combine(dir!.FullName, "tests");
        }
    }

    /// <summary>A stand-in script, e.g. fake-codex.mjs.</summary>
    public static string Path(string script) => System.IO.Path.Combine(TestsFolder, "standins", script);

    /// <summary>One JSON line per start the stand-in wrote to its log (FAKE_*_LOG): {pid, argv, agentId, cwd, …}.</summary>
    public static List<JsonObject> Starts(string log) =>
        File.Exists(log) ? File.ReadAllLines(log).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList() : [];
}
