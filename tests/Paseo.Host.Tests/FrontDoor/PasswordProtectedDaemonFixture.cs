using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.FrontDoor;

/// <summary>One daemon shared by the access-rule tables: a password with dots, a domain pattern, an exact host, one CORS origin.</summary>
public sealed class PasswordProtectedDaemonFixture : IAsyncLifetime
{
    public const string Password = "correct.horse.battery";
    public InProcessDaemon Daemon { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var hash = Paseo.Transport.Security.PasswordHasher.Hash(Password, 4);
        Daemon = await InProcessDaemon.StartAsync(
            configJson: """{"version":1,"daemon":{"hostnames":[".example.com","exact.test"],"cors":{"allowedOrigins":["https://app.paseo.sh"]},"auth":{"password":"HASH"}}}""".Replace("HASH", hash),
            extraHocon: "paseo.front-door.websocket.max-message-bytes = 64k\n");
    }

    public async Task DisposeAsync() => await Daemon.DisposeAsync();
}
