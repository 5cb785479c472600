using System.Runtime.InteropServices;

namespace Paseo.Transport.Files;

/// <summary>
/// What .NET does not say about a path on Linux: whether it is a regular file (not a FIFO, a device or a socket, whose
/// reads can block or never end), and where it really is once every symbolic link on the way is followed.
/// </summary>
public static partial class UnixFiles
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid, u32 gid, u16 mode
    private const int TypeMask = 0xF000, RegularFile = 0x8000;

    /// <summary>True for a regular file (links followed), false for anything else that exists; null when it cannot be told.</summary>
    public static bool? IsRegularFile(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(path) ? null : false;
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
        var mode = BitConverter.ToUInt16(buffer[StatxModeOffset..]);
        return (mode & TypeMask) == RegularFile;
    }

    /// <summary>The path with every link and `..` resolved (realpath(3)); null when it does not exist or cannot be resolved.</summary>
    public static string? RealPath(string path)
    {
        if (OperatingSystem.IsWindows()) return Path.GetFullPath(path);
        var resolved = RealPathNative(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="root"/> itself or inside it (both already resolved).</summary>
    public static bool IsInside(string path, string root)
    {
        var prefix = root.EndsWith('/') ? root : root + "/";
        return path == root || path.StartsWith(prefix, StringComparison.Ordinal);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr RealPathNative(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr pointer);
}
