using System.Text.Json;
using System.Text.Json.Serialization;
using Paseo.Transport.Files;

namespace Paseo.Transport.Daemon;

/// <summary>
/// The contents of $PASEO_HOME/paseo.pid (app-protocol.md §3.3), also read by Paseo's own CLI. <see cref="Relay"/> is ours
/// (a field Paseo's CLI does not read): the relay endpoint the running daemon's tunnel uses, null when it uses none — so
/// `paseo daemon pair` names the relay the daemon was started with (`--relay`, `--embedded-relay`), not only the config's.
/// </summary>
public sealed record PidFileRecord(
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("startedAt")] string StartedAt,
    [property: JsonPropertyName("hostname")] string Hostname,
    [property: JsonPropertyName("uid")] long Uid,
    [property: JsonPropertyName("listen")] string Listen,
    [property: JsonPropertyName("relay"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Relay = null,
    // Ours: true from the moment the daemon holds the pid file until it accepts connections (a file without it is ready).
    [property: JsonPropertyName("starting"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Starting = false);

/// <summary>Source-generated: every CLI command reads the pid file, and reflection-based JSON cost ~30 ms of its start-up.</summary>
[JsonSerializable(typeof(PidFileRecord))]
internal sealed partial class PidFileJson : JsonSerializerContext;

/// <summary>
/// One daemon per home: the pid file is created exclusively; a file whose process is gone (a crash) is replaced;
/// a file whose process is alive means another daemon runs.
/// </summary>
public static class PidFile
{
    public static PidFileRecord? Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), PidFileJson.Default.PidFileRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The pid file's record when its process is alive, i.e. a daemon runs on this home; otherwise null.</summary>
    public static PidFileRecord? ReadRunning(string path) =>
        Read(path) is { } record && ProcessLiveness.IsAlive(record.Pid) ? record : null;

    /// <summary>
    /// The running daemon's record once it accepts connections: a daemon still starting is waited for, up to
    /// <paramref name="timeout"/> (a command sent while it starts would otherwise find its port closed). Null when no daemon runs.
    /// </summary>
    public static PidFileRecord? ReadReady(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var record = ReadRunning(path);
            if (record is not { Starting: true } || DateTime.UtcNow >= deadline) return record;
            Thread.Sleep(50);
        }
    }

    /// <summary>Creates the pid file for this process. Throws <see cref="DaemonAlreadyRunningException"/> when a live daemon owns it.</summary>
    public static void Acquire(string path, PidFileRecord record)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using var stream = PrivateFiles.OpenNewPrivate(path);
                JsonSerializer.Serialize(stream, record, PidFileJson.Default.PidFileRecord);
                return;
            }
            catch (IOException) when (File.Exists(path))
            {
                if (ReadRunning(path) is { } existing && existing.Pid != record.Pid)
                    throw new DaemonAlreadyRunningException(existing);
                // Stale (crashed daemon) or unreadable: replace it.
                File.Delete(path);
            }
        }
        throw new IOException($"could not create {path}");
    }

    /// <summary>Rewrites the record (e.g. with the port actually bound), keeping it ours.</summary>
    public static void Update(string path, PidFileRecord record) =>
        PrivateFiles.WriteAtomically(path, JsonSerializer.Serialize(record, PidFileJson.Default.PidFileRecord));

    /// <summary>Removes the pid file if it still names this process.</summary>
    public static void Release(string path, int pid)
    {
        if (Read(path) is { } existing && existing.Pid == pid) File.Delete(path);
    }
}

public sealed class DaemonAlreadyRunningException(PidFileRecord running)
    : Exception($"a daemon is already running (pid {running.Pid}, listening on {running.Listen})")
{
    public PidFileRecord Running { get; } = running;
}

public static class ProcessLiveness
{
    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}") && !IsZombie(pid);
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
