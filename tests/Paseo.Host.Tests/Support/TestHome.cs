using Paseo.Transport.Configuration;

namespace Paseo.Host.Tests.Support;

/// <summary>
/// A throwaway $PASEO_HOME. Its paseo.hocon lowers the bcrypt cost to 4 so that password tests stay fast
/// (cost 12 is ~0.3 s a verification on this machine).
/// </summary>
public sealed class TestHome : IDisposable
{
    public string Root { get; }
    public PaseoHome Home { get; }

    public TestHome(string? configJson = null, string? extraHocon = null)
    {
        // Short path: unix socket paths are limited to 108 bytes.
        Root = Directory.CreateTempSubdirectory("pt").FullName;
        Home = new PaseoHome(Path.Combine(Root, "home")).EnsureExists();
        File.WriteAllText(Home.HoconOverride, "paseo.auth.bcrypt-cost = 4\n" + (extraHocon ?? ""));
        if (configJson is not null) File.WriteAllText(Home.ConfigJson, configJson);
    }

    public string PathIn(string name) => Path.Combine(Root, name);

    public void Dispose()
    {
        // Terminals outlive their daemon by design; a test's home takes its tmux server with it.
        TerminalSupport.KillServer(Path.Combine(Home.TerminalsDir, "tmux.sock"));
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
