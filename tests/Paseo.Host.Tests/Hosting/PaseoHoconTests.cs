using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Host.Hosting;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Hosting;

public sealed class PaseoHoconTests
{
    [Fact]
    public void The_shipped_file_gives_the_defaults()
    {
        var settings = PaseoSettings.Load(null);
        Assert.Equal(12, settings.BcryptCost);
        Assert.Equal(16 * 1024 * 1024, settings.FrontDoor.WebSocket.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Daemon.StartTimeout);
        Assert.Null(settings.OverrideHoconPath);
    }

    [Fact]
    public async Task The_home_override_reaches_both_the_typed_settings_and_the_actor_system()
    {
        await using var daemon = await InProcessDaemon.StartAsync(extraHocon: "akka.loglevel = DEBUG\npaseo.daemon.stop-timeout = 3s\n");
        var settings = PaseoSettings.Load(daemon.TestHome.Home);
        Assert.Equal(4, settings.BcryptCost);
        Assert.Equal(TimeSpan.FromSeconds(3), settings.Daemon.StopTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Daemon.StartTimeout); // not overridden: falls back to the shipped file

        var system = daemon.Server.App.Services.GetRequiredService<ActorSystem>();
        Assert.Equal("DEBUG", system.Settings.Config.GetString("akka.loglevel"));
        Assert.Equal(4, system.Settings.Config.GetInt("paseo.auth.bcrypt-cost"));
        Assert.Equal("16m", system.Settings.Config.GetString("paseo.front-door.websocket.max-message-bytes"));
    }

    [Theory]
    [InlineData("paseo.auth.bcrypt-cost = 3", "bcrypt-cost")]
    [InlineData("paseo.auth.max-concurrent-verifications = 0", "max-concurrent-verifications")]
    [InlineData("paseo.auth.bcrypt-cost = twelve", "invalid paseo settings")]
    [InlineData("paseo.providers.kill-grace = 20s", "paseo.daemon.shutdown-timeout (20 s) must be at least paseo.providers.kill-grace + 2 s (22 s)")]
    [InlineData("paseo.providers.kill-grace = 14s\npaseo.daemon.shutdown-timeout = 30s", "akka.coordinated-shutdown.phases.service-stop.timeout (15 s) must be at least paseo.providers.kill-grace + 2 s (16 s)")]
    [InlineData("paseo.daemon.shutdown-timeout = 3s", "paseo.daemon.shutdown-timeout (3 s) must be at least paseo.providers.kill-grace + 2 s (5 s)")]
    [InlineData("paseo.providers.max-file-bytes = 2g", "paseo.providers.max-file-bytes: at most 1g")]
    [InlineData("paseo.sessions.max-requests-in-flight = 0", "max-requests-in-flight")]
    [InlineData("paseo.schedules.missed-runs = later", "paseo.schedules.missed-runs: expected skip or run-once, got \"later\"")]
    [InlineData("paseo.chat.max-rooms = 0", "max-rooms")]
    [InlineData("paseo.agents.timeline-write-delay = -1s", "paseo.agents.timeline-write-delay: expected a duration of 0s or more")]
    [InlineData("akka.actor.blocking-io-dispatcher.blocking-io-executor.thread-count = 0", "thread-count: expected at least 1 thread, got 0")]
    public void A_bad_override_names_the_file_and_key(string hocon, string expected)
    {
        using var home = new TestHome(extraHocon: hocon);
        var error = Assert.Throws<Paseo.Transport.Configuration.ConfigException>(() => PaseoSettings.Load(home.Home));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    // Checked before anything starts: the scheduler the actor system would build.
    [InlineData("akka.scheduler.implementation = \"No.Such.Scheduler, Nope\"", ": akka.scheduler.implementation: \"No.Such.Scheduler, Nope\" is not a scheduler type")]
    // Refused by Akka while the actor system starts.
    [InlineData("akka.loglevel = LOUD", ": invalid Akka setting: Unknown LogLevel: \"LOUD\"")]
    public async Task A_bad_akka_setting_stops_the_daemon_with_exit_2_naming_the_file_and_the_setting(string hocon, string said)
    {
        using var home = new TestHome(extraHocon: hocon + "\n");
        var result = await PaseoBinary.RunAsync(PaseoBinary.CleanEnvironment(home), "daemon", "start", "--foreground", "--port", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"paseo: {home.Home.HoconOverride}{said}", result.StdErr);
        Assert.False(File.Exists(home.Home.PidFile));
    }

    [Fact]
    public void The_shipped_scheduler_and_akkas_own_pass_the_check()
    {
        using var ours = new TestHome();
        Assert.NotNull(PaseoSettings.Load(ours.Home));
        using var akkas = new TestHome(extraHocon: "akka.scheduler.implementation = \"Akka.Actor.HashedWheelTimerScheduler\"\n");
        Assert.NotNull(PaseoSettings.Load(akkas.Home));
    }
}
