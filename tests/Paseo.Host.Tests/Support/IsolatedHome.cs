using System.Runtime.CompilerServices;

namespace Paseo.Host.Tests.Support;

/// <summary>
/// The tests' processes get a HOME of their own, not the machine user's: login shells the daemon starts (workspace scripts,
/// worktree setup, terminals) would otherwise run that user's profile — on a developer machine one that takes seconds,
/// and whose lock files a killed shell leaves behind (pyenv's rehash lock made every later login shell wait 60 s).
/// </summary>
internal static class IsolatedHome
{
    [ModuleInitializer]
    internal static void Use()
    {
        var home = Directory.CreateTempSubdirectory("paseo-tests-home-").FullName;
        Environment.SetEnvironmentVariable("HOME", home);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(home, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
    }
}
