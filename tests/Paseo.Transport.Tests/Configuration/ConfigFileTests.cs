using System.Text.Json;
using Paseo.Transport.Configuration;

namespace Paseo.Transport.Tests.Configuration;

public sealed class ConfigFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private PaseoHome Home => new(_dir.File("home"));

    [Fact]
    public void Missing_config_is_created_with_paseo_defaults_and_the_relay_off()
    {
        var config = ConfigFile.LoadOrCreate(Home);

        Assert.True(File.Exists(Home.ConfigJson));
        using var doc = JsonDocument.Parse(File.ReadAllText(Home.ConfigJson));
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal("127.0.0.1:6767", root.GetProperty("daemon").GetProperty("listen").GetString());
        Assert.Equal("https://app.paseo.sh", root.GetProperty("daemon").GetProperty("cors").GetProperty("allowedOrigins")[0].GetString());
        Assert.False(root.GetProperty("daemon").GetProperty("relay").GetProperty("enabled").GetBoolean());
        Assert.Equal("https://app.paseo.sh", root.GetProperty("app").GetProperty("baseUrl").GetString());
        Assert.False(config.Relay.Enabled);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Home.ConfigJson));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Home.Root));
    }

    [Fact]
    public void An_existing_valid_config_is_read_and_not_rewritten()
    {
        Home.EnsureExists();
        const string text = """{"daemon":{"listen":"127.0.0.1:7000","hostnames":["a.test"],"allowedHosts":[".b.test"],"cors":{"allowedOrigins":["https://x.test"]},"relay":{"enabled":true,"endpoint":"relay.test:443"}},"log":{"file":{"rotate":{"maxSize":"5m","maxFiles":3}}}}""";
        File.WriteAllText(Home.ConfigJson, text);

        var config = ConfigFile.LoadOrCreate(Home);

        Assert.Equal(text, File.ReadAllText(Home.ConfigJson));
        Assert.Equal("127.0.0.1:7000", config.Listen);
        Assert.Equal(["a.test", ".b.test"], config.Hostnames.Patterns);
        Assert.Equal(["https://x.test"], config.CorsOrigins);
        Assert.True(config.Relay.Enabled);
        Assert.Equal("relay.test:443", config.Relay.Endpoint);
        Assert.Equal(5L * 1024 * 1024, config.Log.File.MaxSizeBytes);
        Assert.Equal(3, config.Log.File.MaxFiles);
    }

    [Fact]
    public void A_readable_valid_config_is_tightened_to_0600_and_a_broken_one_is_not()
    {
        Home.EnsureExists();
        File.WriteAllText(Home.ConfigJson, "{\"version\":1}");
        File.SetUnixFileMode(Home.ConfigJson, (UnixFileMode)0b110_100_100);
        ConfigFile.LoadOrCreate(Home);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Home.ConfigJson));

        File.WriteAllText(Home.ConfigJson, "{\"version\":2}");
        File.SetUnixFileMode(Home.ConfigJson, (UnixFileMode)0b110_100_100);
        Assert.Throws<ConfigException>(() => ConfigFile.LoadOrCreate(Home));
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(Home.ConfigJson));
    }

    public static TheoryData<string, string, string> MalformedConfigs => new()
    {
        // content, expected key path (or location), expected explanation
        { "{\"daemon\": {\"listen\": \"127.0.0.1:1\",}}", "invalid JSON at line 1", "expected a JSON object" },
        { "not json", "invalid JSON at line 1", "expected a JSON object" },
        { "", "invalid JSON", "expected a JSON object" },
        { "[1,2]", "(root)", "expected an object, got an array" },
        { "{\"deamon\": {}}", "deamon", "unknown key (expected one of: $schema, version, daemon" },
        { "{\"daemon\": {\"listn\": \"x\"}}", "daemon.listn", "unknown key (expected one of: listen, hostnames" },
        { "{\"daemon\": {\"listen\": 6767}}", "daemon.listen", "expected a string, got the number 6767" },
        { "{\"version\": 2}", "version", "expected the number 1, got the number 2" },
        { "{\"daemon\": {\"hostnames\": false}}", "daemon.hostnames", "expected true or an array of strings, got false" },
        { "{\"daemon\": {\"hostnames\": [\"ok\", 5]}}", "daemon.hostnames[1]", "expected a string, got the number 5" },
        { "{\"daemon\": {\"cors\": {\"allowedOrigins\": \"https://a\"}}}", "daemon.cors.allowedOrigins", "expected an array of strings" },
        { "{\"daemon\": {\"relay\": {\"enabled\": \"yes\"}}}", "daemon.relay.enabled", "expected true or false, got the string \"yes\"" },
        { "{\"daemon\": {\"auth\": {\"password\": \"hunter2\"}}}", "daemon.auth.password", "expected a bcrypt hash" },
        { "{\"daemon\": {\"mcp\": {\"enabled\": true, \"extra\": 1}}}", "daemon.mcp.extra", "unknown key" },
        { "{\"log\": {\"level\": \"verbose\"}}", "log.level", "expected one of \"trace\"" },
        { "{\"log\": {\"file\": {\"rotate\": {\"maxFiles\": 0}}}}", "log.file.rotate.maxFiles", "expected a whole number from 1 to 100" },
        { "{\"log\": {\"file\": {\"rotate\": {\"maxSize\": \"ten\"}}}}", "log.file.rotate.maxSize", "expected a size such as \"10m\"" },
        { "{\"agents\": {\"providers\": {\"My_Agent\": {}}}}", "agents.providers.My_Agent", "invalid key" },
        { "{\"agents\": {\"providers\": {\"gemini\": {\"extends\": \"acp\", \"command\": [\"gemini\"]}}}}", "agents.providers.gemini.label", "missing: a custom provider needs a label" },
        { "{\"agents\": {\"providers\": {\"gemini\": {\"label\": \"G\", \"extends\": \"acp\"}}}}", "agents.providers.gemini.command", "missing: an ACP provider needs a command" },
        { "{\"agents\": {\"providers\": {\"claude\": {\"extends\": \"gpt\"}}}}", "agents.providers.claude.extends", "expected one of \"claude\"" },
        { "{\"agents\": {\"providers\": {\"claude\": {\"command\": {\"mode\": \"sideways\"}}}}}", "agents.providers.claude.command.mode", "expected one of \"default\"" },
        { "{\"features\": {\"dictation\": 1}}", "features.dictation", "expected an object" },
    };

    [Theory]
    [MemberData(nameof(MalformedConfigs))]
    public void Each_malformed_config_names_file_key_and_expectation_and_is_left_byte_identical(string content, string where, string what)
    {
        Home.EnsureExists();
        File.WriteAllText(Home.ConfigJson, content);
        var before = File.ReadAllBytes(Home.ConfigJson);

        var error = Assert.Throws<ConfigException>(() => ConfigFile.LoadOrCreate(Home));

        Assert.Contains(Home.ConfigJson, error.Message);
        Assert.Contains(where, error.Message);
        Assert.Contains(what, error.Message);
        Assert.Equal(before, File.ReadAllBytes(Home.ConfigJson));
    }

    [Fact]
    public void Every_issue_is_reported_not_just_the_first()
    {
        Home.EnsureExists();
        File.WriteAllText(Home.ConfigJson, """{"daemon":{"listen":1,"cors":{"allowedOrigins":[2]}},"bogus":true}""");

        var error = Assert.Throws<ConfigException>(() => ConfigFile.LoadOrCreate(Home));

        Assert.Contains("daemon.listen", error.Message);
        Assert.Contains("daemon.cors.allowedOrigins[0]", error.Message);
        Assert.Contains("bogus: unknown key", error.Message);
    }

    [Fact]
    public void Set_password_hash_keeps_other_keys_and_refuses_to_touch_a_broken_file()
    {
        Home.EnsureExists();
        File.WriteAllText(Home.ConfigJson, """{"daemon":{"listen":"127.0.0.1:7001"},"app":{"baseUrl":"https://me.test"}}""");
        var hash = BCrypt.Net.BCrypt.HashPassword("pw", 4);

        ConfigFile.SetPasswordHash(Home, hash);

        var config = ConfigFile.Load(Home.ConfigJson);
        Assert.Equal(hash, config.PasswordHash);
        Assert.Equal("127.0.0.1:7001", config.Listen);
        Assert.Equal("https://me.test", config.AppBaseUrl);
        Assert.DoesNotContain("\"pw\"", File.ReadAllText(Home.ConfigJson));

        File.WriteAllText(Home.ConfigJson, "{\"daemon\":{\"lisen\":1}}");
        var broken = File.ReadAllBytes(Home.ConfigJson);
        Assert.Throws<ConfigException>(() => ConfigFile.SetPasswordHash(Home, hash));
        Assert.Equal(broken, File.ReadAllBytes(Home.ConfigJson));
    }

    public void Dispose() => _dir.Dispose();
}
