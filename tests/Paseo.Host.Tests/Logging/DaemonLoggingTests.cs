using Paseo.Host.Daemon;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Configuration;

namespace Paseo.Host.Tests.Logging;

public sealed class DaemonLoggingTests
{
    [Fact]
    public void The_log_file_rotates_by_size_and_keeps_the_configured_number_of_files()
    {
        using var home = new TestHome();
        var path = Path.Combine(home.Home.Root, "daemon.log");
        var config = new LogConfig("silent", "pretty", "trace", path, FileMaxBytes: 4096, FileMaxFiles: 2);

        using (var logger = DaemonLogging.Create(config, console: false))
        {
            for (var i = 0; i < 500; i++) logger.Information("event {Number} {Padding}", i, new string('x', 100));
        }

        var files = Directory.GetFiles(home.Home.Root, "daemon*.log");
        Assert.Equal(2, files.Length);
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 4096 + 1024, $"{f} is {new FileInfo(f).Length} bytes"));
        var newest = files.OrderByDescending(File.GetLastWriteTimeUtc).First();
        Assert.Contains("\"Number\":499", File.ReadAllText(newest));
    }

    [Fact]
    public void Levels_filter_what_reaches_the_file()
    {
        using var home = new TestHome();
        var path = Path.Combine(home.Home.Root, "daemon.log");
        using (var logger = DaemonLogging.Create(new LogConfig("silent", "pretty", "warn", path, 1 << 20, 2), console: false))
        {
            logger.Information("quiet-info");
            logger.Warning("loud-warning");
        }
        var text = File.ReadAllText(path);
        Assert.DoesNotContain("quiet-info", text);
        Assert.Contains("loud-warning", text);
    }
}
