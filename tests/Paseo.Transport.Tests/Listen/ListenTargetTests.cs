using Paseo.Transport.Listen;

namespace Paseo.Transport.Tests.Listen;

public sealed class ListenTargetTests
{
    [Theory]
    [InlineData("127.0.0.1:6767", "127.0.0.1", 6767, true)]
    [InlineData("6767", "127.0.0.1", 6767, true)]
    [InlineData(":7000", "127.0.0.1", 7000, true)]
    [InlineData("[::1]:6767", "::1", 6767, true)]
    [InlineData("localhost:80", "localhost", 80, true)]
    [InlineData("LOCALHOST:80", "localhost", 80, true)]
    [InlineData("0.0.0.0:6767", "0.0.0.0", 6767, false)]
    [InlineData("[::]:6767", "::", 6767, false)]
    [InlineData("example.test:6767", "example.test", 6767, false)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0, true)]
    public void Tcp_targets(string text, string host, int port, bool localOnly)
    {
        var target = Assert.IsType<TcpListenTarget>(ListenTarget.Parse(text));
        Assert.Equal(host, target.Host);
        Assert.Equal(port, target.Port);
        Assert.Equal(localOnly, target.IsLocalOnly);
    }

    [Theory]
    [InlineData("unix:///run/paseo.sock", "/run/paseo.sock")]
    [InlineData("/tmp/paseo.sock", "/tmp/paseo.sock")]
    [InlineData("~/p.sock", "/home/u/p.sock")]
    public void Unix_targets(string text, string path)
    {
        var target = Assert.IsType<UnixListenTarget>(ListenTarget.Parse(text, new Dictionary<string, string?> { ["HOME"] = "/home/u" }));
        Assert.Equal(path, target.Path);
        Assert.True(target.IsLocalOnly);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("pipe://paseo", "named pipes")]
    [InlineData(@"\\.\pipe\paseo", "named pipes")]
    [InlineData(@"C:\paseo.sock", "Windows drive path")]
    [InlineData("unix://relative.sock", "must be absolute")]
    [InlineData("::1:6767", "brackets")]
    [InlineData("[::1]6767", "[ipv6]:port")]
    [InlineData("[nothost]:1", "not an IPv6 address")]
    [InlineData("host:99999", "not a port number")]
    [InlineData("host:", "not a port number")]
    [InlineData("justahost", "expected host:port")]
    public void Invalid_targets_say_why(string text, string why)
    {
        var error = Assert.Throws<FormatException>(() => ListenTarget.Parse(text));
        Assert.Contains(why, error.Message);
    }

    [Fact]
    public void Round_trips_through_its_string_form()
    {
        foreach (var text in new[] { "127.0.0.1:6767", "[::1]:7000", "unix:///tmp/x.sock" })
            Assert.Equal(text, ListenTarget.Parse(text).ToString());
    }
}
