using System.Runtime.InteropServices;

namespace Paseo.Host.Native;

/// <summary>The few POSIX calls .NET does not expose: signals, sessions, umask, uid.</summary>
internal static partial class Libc
{
    public const int SIGTERM = 15;
    public const int SIGKILL = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    public const int S_IFMT = 0xF000;
    public const int S_IFSOCK = 0xC000;

    /// <summary>
    /// The file-type bits of a path (lstat), through the .NET runtime's own portable stat shim, whose struct
    /// starts with two int32s (flags, mode) on every platform. Returns -1 when the path cannot be stat'ed.
    /// </summary>
    public static unsafe int FileType(string path)
    {
        var buffer = stackalloc byte[512];
        if (SystemLStat(path, buffer) != 0) return -1;
        return *(int*)(buffer + 4) & S_IFMT;
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int SystemLStat(string path, byte* output);
}
