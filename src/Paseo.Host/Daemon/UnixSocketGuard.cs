using System.Net.Sockets;
using Paseo.Host.Native;
using Paseo.Transport.Configuration;

namespace Paseo.Host.Daemon;

/// <summary>
/// Kestrel refuses to bind over an existing socket file, and a crashed daemon leaves one behind. Before
/// binding: a socket file that answers belongs to a live daemon (an error); one that refuses connections is
/// stale and removed; anything that is not a socket is never deleted.
/// </summary>
public static class UnixSocketGuard
{
    public static void PrepareToBind(string path)
    {
        var dir = Path.GetDirectoryName(path);
        if (dir is not null && !Directory.Exists(dir))
            throw new ConfigException($"cannot listen on unix://{path}: the directory {dir} does not exist");
        // lstat: a dangling symlink counts as "exists, not a socket", never as free space to bind over.
        var type = Libc.FileType(path);
        if (type == -1) return;
        if (type != Libc.S_IFSOCK)
            throw new ConfigException($"cannot listen on unix://{path}: the path exists and is not a socket; it was left untouched");
        if (Answers(path))
            throw new ConfigException($"another daemon is listening on unix://{path}");
        File.Delete(path);
    }

    public static bool Answers(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException e)
        {
            // Permission denied and the like: we cannot tell whether someone listens, so we must not delete it.
            throw new ConfigException($"cannot listen on unix://{path}: the socket file exists and cannot be checked ({e.Message}); remove it if no daemon uses it");
        }
    }
}
