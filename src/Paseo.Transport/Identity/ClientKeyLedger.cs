using System.Buffers.Binary;
using System.Security.Cryptography;
using Paseo.Transport.Crypto;
using Paseo.Transport.Files;

namespace Paseo.Transport.Identity;

/// <summary>What became of a client key offered by a new relay connection.</summary>
public enum ClientKeyClaim
{
    /// <summary>Never seen under this keypair, and now remembered (on disk, when the ledger has a file).</summary>
    Claimed,

    /// <summary>An earlier connection used this key: a recorded handshake played again.</summary>
    Replayed,

    /// <summary>The ledger holds its capacity: nothing is forgotten to make room, so the connection is refused.</summary>
    Full,

    /// <summary>The key could not be written to disk: without it a restart would forget it, so the connection is refused.</summary>
    WriteFailed,
}

/// <summary>
/// Cross-connection replay protection (docs/security.md): the daemon's keypair never changes between pairings, so a relay
/// that recorded a phone's `e2ee_hello` and its frames could open a new connection and play them again — the same client
/// key gives the same shared key, and a new connection starts with no nonces remembered. Paseo's clients make a new
/// ephemeral key for every connection, so a key seen before is refused.
/// <para>
/// The ledger lasts as long as the keypair: `$PASEO_HOME/daemon-client-keys.ledger` (0600, beside the keypair), a
/// header naming the daemon public key it belongs to, then one 16-byte digest (SHA-256, truncated) per client key. A key
/// is appended and flushed to disk when the connection's first message decrypts, before that message reaches a session
/// (the daemon acts on nothing of a connection whose key is not on disk). Nothing is ever evicted: at
/// <see cref="Capacity"/> new connections are refused until the pairing is rotated (`paseo daemon pair --rotate`, which
/// removes the file). A file that is not a ledger stops the daemon (<see cref="IdentityFileException"/>); a ledger of an
/// earlier keypair is replaced (recordings made under another key cannot be replayed against this one); a last record cut
/// short by a crash is dropped (its connection's first message never reached a session).
/// </para>
/// Not thread-safe: one owner (the ledger actor) calls it.
/// </summary>
public sealed class ClientKeyLedger : IDisposable
{
    public const string FileName = "daemon-client-keys.ledger";
    public const int DigestBytes = 16;

    // "PSCKL" + format version, then the daemon's public key: 40 bytes.
    private static readonly byte[] Magic = "PSCKL\0\0\x01"u8.ToArray();
    public static readonly int HeaderBytes = Magic.Length + NaclBox.KeyBytes;

    private readonly HashSet<UInt128> _seen;
    private FileStream? _file;

    /// <summary>The ledger's file, or null for one kept in memory only (tests, benchmarks).</summary>
    public string? Path { get; }

    public int Capacity { get; }

    public int Count => _seen.Count;

    public bool IsFull => _seen.Count >= Capacity;

    private ClientKeyLedger(string? path, int capacity, HashSet<UInt128> seen, FileStream? file)
    {
        Path = path;
        Capacity = capacity;
        _seen = seen;
        _file = file;
    }

    /// <summary>A ledger that forgets everything when the process ends (tests and benchmarks only).</summary>
    public static ClientKeyLedger InMemory(int capacity) => new(null, capacity, [], null);

    /// <summary>
    /// Loads the ledger of <paramref name="daemonPublicKey"/> from <paramref name="path"/>, creating it (0600) when it
    /// does not exist or belongs to another keypair. Throws <see cref="IdentityFileException"/> when the file is not a
    /// ledger or cannot be read or written. <paramref name="notice"/> hears what was repaired or replaced.
    /// </summary>
    public static ClientKeyLedger Open(string path, ReadOnlySpan<byte> daemonPublicKey, int capacity, Action<string>? notice = null)
    {
        if (daemonPublicKey.Length != NaclBox.KeyBytes) throw new ArgumentException("a public key has 32 bytes", nameof(daemonPublicKey));
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        try
        {
            if (!File.Exists(path)) return Create(path, daemonPublicKey, capacity);
            PrivateFiles.TightenFile(path);
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length < HeaderBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
                throw new IdentityFileException(path, "is not a client key ledger of Paseo.NET (its header is missing or damaged)");
            if (!bytes.AsSpan(Magic.Length, NaclBox.KeyBytes).SequenceEqual(daemonPublicKey))
            {
                notice?.Invoke($"{path} belonged to an earlier keypair; a new ledger was started (recordings made under another key cannot be replayed against this one)");
                return Create(path, daemonPublicKey, capacity);
            }
            var records = (bytes.Length - HeaderBytes) / DigestBytes;
            var seen = new HashSet<UInt128>(Math.Min(records, capacity));
            for (var i = 0; i < records; i++) seen.Add(BinaryPrimitives.ReadUInt128LittleEndian(bytes.AsSpan(HeaderBytes + i * DigestBytes, DigestBytes)));
            var whole = HeaderBytes + (long)records * DigestBytes;
            var file = OpenForAppend(path);
            if (file.Length != whole)
            {
                // A crash while appending: the first message of that record's connection never reached a session.
                notice?.Invoke($"{path}: dropped an incomplete last record of {file.Length - whole} bytes (the daemon stopped while writing it)");
                file.SetLength(whole);
                file.Flush(flushToDisk: true);
            }
            file.Seek(0, SeekOrigin.End);
            return new ClientKeyLedger(path, capacity, seen, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException(path, $"cannot be read or written ({e.Message})");
        }
    }

    /// <summary>
    /// Reads only the header, changing nothing (for `paseo daemon start`, which may run beside a daemon that is writing
    /// the file): throws <see cref="IdentityFileException"/> when the file exists and is not a ledger.
    /// </summary>
    public static void Check(string path)
    {
        try
        {
            if (!File.Exists(path)) return;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> header = stackalloc byte[8];
            if (stream.Length < HeaderBytes || stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.SequenceEqual(Magic))
                throw new IdentityFileException(path, "is not a client key ledger of Paseo.NET (its header is missing or damaged)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException(path, $"cannot be read ({e.Message})");
        }
    }

    /// <summary>How many keys a ledger file holds, without loading it (for `paseo daemon status`); null when there is none or it is not a ledger.</summary>
    public static long? CountIn(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length < HeaderBytes) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Span<byte> magic = stackalloc byte[8];
            stream.ReadExactly(magic);
            return magic.SequenceEqual(Magic) ? (info.Length - HeaderBytes) / DigestBytes : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Remembers the key of a new connection, durably, or says why the connection must be refused.</summary>
    public ClientKeyClaim TryClaim(ReadOnlySpan<byte> clientPublicKey, out string? writeError)
    {
        writeError = null;
        if (clientPublicKey.Length != NaclBox.KeyBytes) throw new ArgumentException("a public key has 32 bytes", nameof(clientPublicKey));
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(clientPublicKey, hash);
        var digest = BinaryPrimitives.ReadUInt128LittleEndian(hash[..DigestBytes]);
        if (_seen.Contains(digest)) return ClientKeyClaim.Replayed;
        if (IsFull) return ClientKeyClaim.Full;
        if (Path is not null && _file is null)
        {
            // Disposed (or renewed away): a key that cannot reach the file must not open a connection.
            writeError = $"{Path} is closed";
            return ClientKeyClaim.WriteFailed;
        }
        if (_file is not null)
        {
            try
            {
                _file.Write(hash[..DigestBytes]);
                // On the disk before the connection's first message is delivered: a power cut afterwards cannot make the daemon forget it.
                _file.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                writeError = e.Message;
                return ClientKeyClaim.WriteFailed;
            }
        }
        _seen.Add(digest);
        return ClientKeyClaim.Claimed;
    }

    /// <summary>
    /// Forgets every key and starts a ledger for a new keypair (after `paseo daemon pair --rotate`). This ledger is closed
    /// either way: when the new one cannot be written (<see cref="IdentityFileException"/>), claims on this one fail.
    /// </summary>
    public ClientKeyLedger Renew(ReadOnlySpan<byte> daemonPublicKey)
    {
        Dispose();
        if (Path is null) return InMemory(Capacity);
        try
        {
            return Create(Path, daemonPublicKey, Capacity);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException(Path, $"cannot be written ({e.Message})");
        }
    }

    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }

    private static ClientKeyLedger Create(string path, ReadOnlySpan<byte> daemonPublicKey, int capacity)
    {
        var header = new byte[HeaderBytes];
        Magic.CopyTo(header, 0);
        daemonPublicKey.CopyTo(header.AsSpan(Magic.Length));
        PrivateFiles.WriteAtomically(path, header);
        var file = OpenForAppend(path);
        file.Seek(0, SeekOrigin.End);
        return new ClientKeyLedger(path, capacity, [], file);
    }

    private static FileStream OpenForAppend(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.ReadWrite, Share = FileShare.Read };
        return new FileStream(path, options);
    }
}
