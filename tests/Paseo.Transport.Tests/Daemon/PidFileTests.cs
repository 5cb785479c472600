using System.Diagnostics;
using Paseo.Transport.Daemon;
using Paseo.Transport.Identity;

namespace Paseo.Transport.Tests.Daemon;

public sealed class PidFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string PidPath => _dir.File("paseo.pid");

    private static PidFileRecord Record(int pid) => new(pid, "2026-01-01T00:00:00.000Z", "host", 1000, "127.0.0.1:6767");

    [Fact]
    public void Acquire_creates_a_private_file_with_paseo_fields()
    {
        PidFile.Acquire(PidPath, Record(Environment.ProcessId));

        var text = File.ReadAllText(PidPath);
        foreach (var field in new[] { "\"pid\":", "\"startedAt\":", "\"hostname\":", "\"uid\":", "\"listen\":" }) Assert.Contains(field, text);
        Assert.Equal(Environment.ProcessId, PidFile.Read(PidPath)!.Pid);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PidPath));
    }

    [Fact]
    public async Task A_daemon_that_is_starting_is_waited_for_and_one_that_is_ready_is_not()
    {
        Assert.Null(PidFile.ReadReady(PidPath, TimeSpan.FromSeconds(5))); // no daemon: no wait
        PidFile.Acquire(PidPath, Record(Environment.ProcessId) with { Starting = true });
        Assert.Contains("\"starting\":true", File.ReadAllText(PidPath));
        // Still starting when the wait is over: the record as it is (the caller then finds the port closed and says so).
        Assert.True(PidFile.ReadReady(PidPath, TimeSpan.FromMilliseconds(100))!.Starting);
        var ready = Task.Run(() => PidFile.ReadReady(PidPath, TimeSpan.FromSeconds(30)));
        PidFile.Update(PidPath, Record(Environment.ProcessId) with { Listen = "127.0.0.1:4242" });
        var found = await ready.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(("127.0.0.1:4242", false), (found!.Listen, found.Starting));
        // A file without the key (a daemon of an earlier version) is ready.
        Assert.DoesNotContain("starting", File.ReadAllText(PidPath));
    }

    [Fact]
    public void A_stale_pid_file_is_replaced()
    {
        // A process that has exited stands for a crashed daemon.
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        File.WriteAllText(PidPath, System.Text.Json.JsonSerializer.Serialize(Record(gone.Id)));

        PidFile.Acquire(PidPath, Record(Environment.ProcessId));

        Assert.Equal(Environment.ProcessId, PidFile.Read(PidPath)!.Pid);
    }

    [Fact]
    public void A_garbage_pid_file_is_replaced()
    {
        File.WriteAllText(PidPath, "not json");
        PidFile.Acquire(PidPath, Record(Environment.ProcessId));
        Assert.Equal(Environment.ProcessId, PidFile.Read(PidPath)!.Pid);
    }

    [Fact]
    public void A_live_daemon_keeps_its_pid_file()
    {
        using var live = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            File.WriteAllText(PidPath, System.Text.Json.JsonSerializer.Serialize(Record(live.Id)));
            var before = File.ReadAllText(PidPath);

            var error = Assert.Throws<DaemonAlreadyRunningException>(() => PidFile.Acquire(PidPath, Record(Environment.ProcessId)));

            Assert.Contains($"pid {live.Id}", error.Message);
            Assert.Equal(before, File.ReadAllText(PidPath));
        }
        finally
        {
            live.Kill();
        }
    }

    [Fact]
    public void Release_removes_only_our_own_file()
    {
        PidFile.Acquire(PidPath, Record(Environment.ProcessId));
        PidFile.Release(PidPath, Environment.ProcessId + 1);
        Assert.True(File.Exists(PidPath));
        PidFile.Release(PidPath, Environment.ProcessId);
        Assert.False(File.Exists(PidPath));
    }

    [Fact]
    public void Server_id_is_created_once_and_kept()
    {
        var path = _dir.File("server-id");
        var first = ServerId.LoadOrCreate(path, null);
        Assert.Matches("^srv_[A-Za-z0-9_-]{12}$", first.Value);
        Assert.Equal(first, ServerId.LoadOrCreate(path, null));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        // The environment overrides, but does not replace a stored id.
        Assert.Equal("srv_override", ServerId.LoadOrCreate(path, "srv_override").Value);
        Assert.Equal(first, ServerId.LoadOrCreate(path, null));
    }

    public void Dispose() => _dir.Dispose();
}
