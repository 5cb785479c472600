using Paseo.Host.Cli;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Listen;

namespace Paseo.Host.Tests.Support;

/// <summary>Waits on a daemon started as a subprocess: its pid file names a bound address that answers /api/health.</summary>
public static class RunningDaemon
{
    /// <param name="pid">When given, only this process's record counts: a stale pid file (a killed daemon's) naming the same
    /// socket can otherwise be read just before the new daemon replaces it, while the new one already answers.</param>
    public static async Task<PidFileRecord> WaitHealthyAsync(PaseoHome home, int? pid = null)
    {
        PidFileRecord? record = null;
        await Eventually.HoldsAsync(async () =>
        {
            record = PidFile.Read(home.PidFile);
            return record is not null && (pid is null || record.Pid == pid) && ListenTarget.Parse(record.Listen) is var listen && listen is not TcpListenTarget { Port: 0 }
                   && await DaemonProbe.IsHealthyAsync(listen, TimeSpan.FromSeconds(2));
        }, "the daemon to answer /api/health");
        return record!;
    }
}
