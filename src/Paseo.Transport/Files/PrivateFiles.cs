using System.Text;

namespace Paseo.Transport.Files;

/// <summary>
/// Every file the daemon writes under $PASEO_HOME holds something private (keys, hashes, agent history),
/// so files are 0600 and directories 0700, and writes are atomic: a crash mid-write never leaves half a file.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode DirMode700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates the directory (and parents) if missing, and tightens it to 0700.</summary>
    public static void EnsurePrivateDirectory(string path)
    {
        if (!Directory.Exists(path))
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
            else Directory.CreateDirectory(path, DirMode700);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, DirMode700);
    }

    /// <summary>Writes to a temp file in the same directory, flushes it to disk, then renames it over the target.</summary>
    public static void WriteAtomically(string path, string content) => WriteAtomically(path, Encoding.UTF8.GetBytes(content));

    public static void WriteAtomically(string path, ReadOnlySpan<byte> content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var stream = OpenNewPrivate(temp))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Creates a file that must not exist yet (O_EXCL), mode 0600 from the first byte.</summary>
    public static FileStream OpenNewPrivate(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = FileMode600;
        return new FileStream(path, options);
    }

    /// <summary>Re-tightens an existing file to 0600 (a user may have copied it with looser bits).</summary>
    public static void TightenFile(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path)) File.SetUnixFileMode(path, FileMode600);
    }
}
