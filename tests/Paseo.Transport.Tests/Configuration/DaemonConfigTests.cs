using Paseo.Transport.Configuration;
using Paseo.Transport.Listen;

namespace Paseo.Transport.Tests.Configuration;

public sealed class DaemonConfigTests : IDisposable
{
    private readonly TempDir _dir = new();

    private DaemonConfig Resolve(string? configJson, Dictionary<string, string?>? env = null, DaemonFlags? flags = null)
    {
        var home = new PaseoHome(_dir.File("home")).EnsureExists();
        if (configJson is not null) File.WriteAllText(home.ConfigJson, configJson);
        env ??= [];
        env["PASEO_HOME"] = home.Root;
        return DaemonConfig.Resolve(flags ?? new DaemonFlags(), env);
    }

    [Fact]
    public void Defaults_listen_on_loopback_6767_with_the_relay_off()
    {
        var config = Resolve(null);
        Assert.Equal(new TcpListenTarget("127.0.0.1", 6767), config.Listen);
        Assert.False(config.Relay.Enabled);
        Assert.False(config.PasswordConfigured);
        Assert.True(config.McpEnabled);
        Assert.False(config.McpInjectIntoAgents);
        Assert.Equal("info", config.Log.ConsoleLevel);
        Assert.Equal("trace", config.Log.FileLevel);
        Assert.Equal(10L * 1024 * 1024, config.Log.FileMaxBytes);
        Assert.Equal(2, config.Log.FileMaxFiles);
        Assert.EndsWith("daemon.log", config.Log.FilePath);
    }

    [Fact]
    public void Home_comes_from_the_flag_then_PASEO_HOME_then_the_user_folder()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = "/home/u", ["PASEO_HOME"] = "/srv/paseo" };
        Assert.Equal("/opt/p", PaseoHome.Resolve("/opt/p", env).Root);
        Assert.Equal("/srv/paseo", PaseoHome.Resolve(null, env).Root);
        Assert.Equal("/home/u/.paseo", PaseoHome.Resolve(null, new Dictionary<string, string?> { ["HOME"] = "/home/u" }).Root);
        Assert.Equal("/home/u/alt", PaseoHome.Resolve("~/alt", env).Root);
    }

    [Fact]
    public void Listen_precedence_is_defaults_then_file_then_env_then_flags()
    {
        const string file = """{"daemon":{"listen":"127.0.0.1:7001"}}""";
        Assert.Equal("127.0.0.1:7001", Resolve(file).Listen.ToString());
        // PORT only changes the default (Paseo: listen 127.0.0.1:${PORT:-6767}); a listen in the file wins over it.
        Assert.Equal("127.0.0.1:7002", Resolve("{}", new() { ["PORT"] = "7002" }).Listen.ToString());
        Assert.Equal("127.0.0.1:7001", Resolve(file, new() { ["PORT"] = "7002" }).Listen.ToString());
        Assert.Equal("127.0.0.1:7003", Resolve(file, new() { ["PORT"] = "7002", ["PASEO_LISTEN"] = "7003" }).Listen.ToString());
        Assert.Equal("127.0.0.1:7004", Resolve(file, new() { ["PASEO_LISTEN"] = "7003" }, new DaemonFlags { Port = 7004 }).Listen.ToString());
        Assert.Equal("unix:///tmp/p.sock", Resolve(file, new() { ["PASEO_LISTEN"] = "7003" }, new DaemonFlags { Port = 7004, Listen = "/tmp/p.sock" }).Listen.ToString());
    }

    [Fact]
    public void Hostname_and_cors_lists_append_across_layers_and_true_wins()
    {
        const string file = """{"daemon":{"hostnames":["file.test"],"allowedHosts":["alias.test"],"cors":{"allowedOrigins":["https://file.test"]}}}""";
        var config = Resolve(file, new() { ["PASEO_HOSTNAMES"] = "env1.test, env2.test", ["PASEO_CORS_ORIGINS"] = "https://env.test" },
            new DaemonFlags { Hostnames = ["flag.test"] });
        Assert.Equal(["file.test", "alias.test", "env1.test", "env2.test", "flag.test"], config.Hostnames.Patterns);
        Assert.False(config.Hostnames.AllowAny);
        Assert.Equal(["https://file.test", "https://env.test"], config.CorsOrigins);

        var any = Resolve(file, new() { ["PASEO_HOSTNAMES"] = "true" });
        Assert.True(any.Hostnames.AllowAny);
        var anyFromFile = Resolve("""{"daemon":{"hostnames":true}}""", new() { ["PASEO_HOSTNAMES"] = "x.test" });
        Assert.True(anyFromFile.Hostnames.AllowAny);
    }

    [Fact]
    public void Password_from_env_takes_precedence_over_the_stored_hash()
    {
        var hash = BCrypt.Net.BCrypt.HashPassword("stored", 4);
        var config = Resolve("{\"daemon\":{\"auth\":{\"password\":\"" + hash + "\"}}}", new() { ["PASEO_PASSWORD"] = "from-env" });
        Assert.Equal("from-env", config.PlaintextPasswordFromEnv);
        Assert.Equal(hash, config.PasswordHash);
        Assert.True(config.PasswordConfigured);
    }

    [Fact]
    public void PASEO_PASSWORD_is_trimmed()
    {
        Assert.Equal("pw", Resolve(null, new() { ["PASEO_PASSWORD"] = "  pw\n" }).PlaintextPasswordFromEnv);
        Assert.Null(Resolve(null, new() { ["PASEO_PASSWORD"] = " \n" }).PlaintextPasswordFromEnv);
    }

    [Theory]
    [InlineData("\"0\"")]
    [InlineData("\"512\"")]
    [InlineData("\"99999999999999999999g\"")]
    [InlineData("\"9999999g\"")]
    public void Log_sizes_outside_1k_to_1024g_are_config_errors(string size)
    {
        var error = Assert.Throws<ConfigException>(() => Resolve("{\"log\":{\"file\":{\"rotate\":{\"maxSize\":" + size + "}}}}"));
        Assert.Contains("config.json: log.file.rotate.maxSize", error.Message);
        Assert.Contains("expected a size from 1k to 1024g", error.Message);
    }

    [Fact]
    public void Enabling_the_relay_without_an_endpoint_is_a_clear_error()
    {
        var fromFile = Assert.Throws<ConfigException>(() => Resolve("""{"daemon":{"relay":{"enabled":true}}}"""));
        Assert.Contains("no relay endpoint is set", fromFile.Message);
        Assert.Contains("daemon.relay.endpoint", fromFile.Message);
        var fromEnv = Assert.Throws<ConfigException>(() => Resolve(null, new() { ["PASEO_RELAY_ENABLED"] = "on" }));
        Assert.Contains("PASEO_RELAY_ENDPOINT", fromEnv.Message);

        Assert.Equal("relay.test:443", Resolve(null, new() { ["PASEO_RELAY_ENABLED"] = "1", ["PASEO_RELAY_ENDPOINT"] = "relay.test:443" }).Relay.Endpoint);
        Assert.False(Resolve("""{"daemon":{"relay":{"enabled":true}}}""", flags: new DaemonFlags { NoRelay = true }).Relay.Enabled);
        Assert.True(Resolve(null, flags: new DaemonFlags { RelayEndpoint = "127.0.0.1:9" }).Relay.Enabled);
    }

    [Theory]
    [InlineData("PORT", "http", "PORT")]
    [InlineData("PORT", "70000", "PORT")]
    [InlineData("PASEO_RELAY_ENABLED", "maybe", "PASEO_RELAY_ENABLED")]
    [InlineData("PASEO_LISTEN", "pipe://x", "PASEO_LISTEN")]
    [InlineData("PASEO_LISTEN", "host:notaport", "PASEO_LISTEN")]
    [InlineData("PASEO_LOG_LEVEL", "loud", "PASEO_LOG_LEVEL")]
    public void A_bad_environment_variable_is_named_in_the_error(string name, string value, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => Resolve(null, new() { [name] = value }));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_bad_listen_in_the_file_names_the_file_and_key()
    {
        var error = Assert.Throws<ConfigException>(() => Resolve("""{"daemon":{"listen":"C:\\sock"}}"""));
        Assert.Contains("config.json: daemon.listen", error.Message);
        Assert.Contains("Windows drive path", error.Message);
    }

    [Theory]
    [InlineData("127.0.0.1:6767", false, false, false)]
    [InlineData("[::1]:6767", false, false, false)]
    [InlineData("localhost:6767", false, false, false)]
    [InlineData("/tmp/paseo.sock", false, false, false)]
    [InlineData("0.0.0.0:6767", false, false, true)]
    [InlineData("[::]:6767", false, false, true)]
    [InlineData("192.0.2.1:6767", false, false, true)]
    [InlineData("0.0.0.0:6767", true, false, false)]
    [InlineData("0.0.0.0:6767", false, true, false)]
    public void Network_listen_without_password_is_refused_unless_overridden(string listen, bool password, bool allow, bool refused)
    {
        var env = new Dictionary<string, string?> { ["PASEO_LISTEN"] = listen };
        if (password) env["PASEO_PASSWORD"] = "pw";
        var config = Resolve(null, env, new DaemonFlags { AllowUnauthenticatedNetwork = allow });
        var refusal = config.NetworkExposureRefusal();
        Assert.Equal(refused, refusal is not null);
        if (refused)
        {
            Assert.Contains("without a password", refusal);
            Assert.Contains("paseo daemon set-password", refusal);
            Assert.Contains("--allow-unauthenticated-network", refusal);
        }
    }

    public void Dispose() => _dir.Dispose();
}
