using Paseo.Transport.Configuration;
using Paseo.Transport.Security;

namespace Paseo.Transport.Tests.Security;

public sealed class HostAllowlistTests
{
    private static HostAllowlist List(params string[] patterns) => new(new HostnamesSetting(false, patterns));

    [Theory]
    // always allowed: localhost, *.localhost, IP literals (with or without a port)
    [InlineData("localhost", true)]
    [InlineData("localhost:6767", true)]
    [InlineData("LOCALHOST:6767", true)]
    [InlineData("app.localhost:6767", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.1:6767", true)]
    [InlineData("10.1.2.3:80", true)]
    [InlineData("[::1]:6767", true)]
    [InlineData("[::1]", true)]
    [InlineData("[fe80::1]:6767", true)]
    [InlineData(" 127.0.0.1:6767 ", true)]
    // patterns: ".example.com" = the domain and its subdomains; others exact
    [InlineData("example.com", true)]
    [InlineData("example.com:443", true)]
    [InlineData("api.example.com", true)]
    [InlineData("deep.api.example.com", true)]
    [InlineData("EXAMPLE.COM", true)]
    [InlineData("badexample.com", false)]
    [InlineData("example.com.evil.test", false)]
    [InlineData("exact.test", true)]
    [InlineData("sub.exact.test", false)]
    // not IP literals in Node's strict sense, not listed
    [InlineData("1", false)]
    [InlineData("0x7f.1", false)]
    [InlineData("127.1", false)]
    [InlineData("01.2.3.4", false)]
    [InlineData("evil.test", false)]
    [InlineData("localhost.evil.test", false)]
    // missing or empty Host
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData(":6767", false)]
    public void Host_rules(string? host, bool allowed) =>
        Assert.Equal(allowed, List(".example.com", "exact.test").IsAllowed(host));

    [Theory]
    [InlineData("evil.test")]
    [InlineData("anything.at.all:1234")]
    public void True_allows_any_host(string host) =>
        Assert.True(new HostAllowlist(new HostnamesSetting(true, [])).IsAllowed(host));

    [Fact]
    public void True_still_needs_a_host() =>
        Assert.False(new HostAllowlist(new HostnamesSetting(true, [])).IsAllowed(null));
}
