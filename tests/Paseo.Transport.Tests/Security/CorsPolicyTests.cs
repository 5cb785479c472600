using Paseo.Transport.Listen;
using Paseo.Transport.Security;

namespace Paseo.Transport.Tests.Security;

public sealed class CorsPolicyTests
{
    private static readonly CorsPolicy Tcp = new(["https://app.paseo.sh"], new TcpListenTarget("0.0.0.0", 6767));
    private static readonly CorsPolicy Unix = new(["https://app.paseo.sh"], new UnixListenTarget("/tmp/p.sock"));

    [Theory]
    [InlineData("https://app.paseo.sh", true)]
    [InlineData("paseo://app", true)]
    [InlineData("http://0.0.0.0:6767", true)]
    [InlineData("http://localhost:6767", true)]
    [InlineData("http://127.0.0.1:6767", true)]
    [InlineData("http://localhost:6768", false)]
    [InlineData("https://app.paseo.sh.evil.test", false)]
    [InlineData("https://evil.test", false)]
    [InlineData("null", false)]
    [InlineData(null, false)]
    public void Http_origins_on_tcp(string? origin, bool allowed) => Assert.Equal(allowed, Tcp.IsAllowedOrigin(origin));

    [Fact]
    public void A_unix_listener_adds_no_http_origins()
    {
        Assert.False(Unix.IsAllowedOrigin("http://localhost:6767"));
        Assert.True(Unix.IsAllowedOrigin("paseo://app"));
    }

    [Fact]
    public void Star_allows_every_origin()
    {
        var any = new CorsPolicy(["*"], new TcpListenTarget("127.0.0.1", 1));
        Assert.True(any.IsAllowedOrigin("https://whatever.test"));
        Assert.True(any.AllowsAll);
    }

    [Theory]
    [InlineData(null, "127.0.0.1:6767", true)]
    [InlineData("", "127.0.0.1:6767", true)]
    [InlineData("https://app.paseo.sh", "127.0.0.1:6767", true)]
    [InlineData("http://myhost.test:6767", "myhost.test:6767", true)]
    [InlineData("https://myhost.test", "myhost.test", true)]
    [InlineData("https://evil.test", "myhost.test", false)]
    [InlineData("http://myhost.test:6768", "myhost.test:6767", false)]
    [InlineData("https://evil.test", null, false)]
    public void WebSocket_origins(string? origin, string? host, bool allowed) =>
        Assert.Equal(allowed, Tcp.IsAllowedWebSocketOrigin(origin, host));
}
