namespace Paseo.Host.Tests.Support;

/// <summary>The repository the tests run from (the folder of Paseo.sln above the test binaries).</summary>
public static class TestRepository
{
    public static string Root { get; } = Locate();

    private static string Locate()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Paseo.sln) above " + AppContext.BaseDirectory);
    }
}
