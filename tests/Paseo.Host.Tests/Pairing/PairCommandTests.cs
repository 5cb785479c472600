using System.Text.Json;
using Paseo.Host.Cli;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Daemon;
using Paseo.Transport.Identity;
using Paseo.Transport.Listen;
using Paseo.Transport.Pairing;

namespace Paseo.Host.Tests.Pairing;

/// <summary>`paseo daemon pair` and `--rotate` through the real binary, against the identity files and a running daemon.</summary>
public sealed class PairCommandTests : IDisposable
{
    private readonly TestHome _home = new();
    private readonly Dictionary<string, string?> _env;

    public PairCommandTests()
    {
        _env = PaseoBinary.CleanEnvironment(_home);
        _env["PASEO_RELAY_ENDPOINT"] = "127.0.0.1:9";
    }

    public void Dispose() => _home.Dispose();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private async Task<JsonElement> PairJsonAsync(params string[] extra)
    {
        var result = await PaseoBinary.RunAsync(_env, ["daemon", "pair", "--json", .. extra]);
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        return Json(result.StdOut);
    }

    [Fact]
    public async Task The_offer_names_the_identity_on_disk_and_stays_the_same_across_runs()
    {
        var first = await PairJsonAsync();

        Assert.False(first.GetProperty("relayEnabled").GetBoolean());
        var offer = ConnectionOffer.ParseUrl(first.GetProperty("url").GetString()!);
        var identity = DaemonIdentity.LoadOrCreate(_home.Home, new Dictionary<string, string?>());
        Assert.Equal(identity.ServerId.Value, offer.ServerId);
        Assert.Equal(Convert.ToBase64String(identity.KeyPair.PublicKey), offer.DaemonPublicKeyB64);
        Assert.Equal("127.0.0.1:9", offer.RelayEndpoint);
        Assert.StartsWith("https://app.paseo.sh/#offer=", first.GetProperty("url").GetString());
        Assert.Contains("█", first.GetProperty("qr").GetString()!);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.Home.DaemonKeyPairFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.Home.ServerIdFile));

        var second = await PairJsonAsync();
        Assert.Equal(first.GetProperty("url").GetString(), second.GetProperty("url").GetString());
    }

    [Fact]
    public async Task The_public_endpoint_and_app_base_url_are_used_when_set()
    {
        _env["PASEO_RELAY_PUBLIC_ENDPOINT"] = "relay.example.net:443";
        _env["PASEO_APP_BASE_URL"] = "https://phone.example.net/";
        var url = (await PairJsonAsync()).GetProperty("url").GetString()!;
        Assert.StartsWith("https://phone.example.net/#offer=", url);
        Assert.Equal("relay.example.net:443", ConnectionOffer.ParseUrl(url).RelayEndpoint);
    }

    [Fact]
    public async Task The_text_output_is_a_qr_code_then_the_link()
    {
        var result = await PaseoBinary.RunAsync(_env, "daemon", "pair");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("\nScan to pair:\n", result.StdOut);
        var lines = result.StdOut.TrimEnd('\n').Split('\n');
        Assert.Contains(lines, l => l.Contains('▀') || l.Contains('▄'));
        // Paseo's link, then the same offer for the web client the relay serves, each under its QR code.
        var paseo = Array.FindIndex(lines, l => l.StartsWith("https://app.paseo.sh/#offer=", StringComparison.Ordinal));
        var web = Array.FindIndex(lines, l => l.StartsWith("http://127.0.0.1:9/#offer=", StringComparison.Ordinal));
        Assert.True(paseo > 0 && web > paseo && web == lines.Length - 1, result.StdOut);
        Assert.Equal(lines[paseo][lines[paseo].IndexOf('#')..], lines[web][lines[web].IndexOf('#')..]);
        Assert.Contains("web client your relay serves", result.StdOut);
        Assert.Contains("the relay is disabled", result.StdErr);
    }

    [Theory]
    [InlineData("relay.example.net:443", "https://relay.example.net/#offer=", false, false)]
    [InlineData("relay.example.net:8080", "http://relay.example.net:8080/#offer=", true, false)]
    [InlineData("[::1]:7000", "http://[::1]:7000/#offer=", false, true)]
    public async Task The_web_link_is_https_on_port_443_and_a_plain_http_one_to_another_machine_or_a_loopback_one_is_warned_about(
        string endpoint, string webPrefix, bool warned, bool loopback)
    {
        _env["PASEO_RELAY_PUBLIC_ENDPOINT"] = endpoint;
        var json = await PairJsonAsync();
        Assert.StartsWith(webPrefix, json.GetProperty("webUrl").GetString());
        var text = await PaseoBinary.RunAsync(_env, "daemon", "pair");
        Assert.Equal(0, text.ExitCode);
        Assert.Equal(warned, text.StdErr.Contains("the web link is plain http", StringComparison.Ordinal));
        // A phone cannot reach a loopback address: the note says which setting names the public one.
        Assert.Equal(loopback, text.StdErr.Contains("is this machine's loopback", StringComparison.Ordinal) && text.StdErr.Contains("daemon.relay.publicEndpoint"));
    }

    [Fact]
    public async Task Without_a_relay_endpoint_there_is_nothing_to_pair_through()
    {
        _env.Remove("PASEO_RELAY_ENDPOINT");
        var result = await PaseoBinary.RunAsync(_env, "daemon", "pair", "--json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("NO_RELAY", Json(result.StdOut).GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("no\n")]
    public async Task Rotation_needs_a_yes_and_otherwise_changes_nothing(string? answer)
    {
        var before = (await PairJsonAsync()).GetProperty("url").GetString();
        var keyFile = File.ReadAllText(_home.Home.DaemonKeyPairFile);

        var refused = await PaseoBinary.RunWithStdinAsync(_env, answer, "daemon", "pair", "--rotate");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("rotation cancelled; nothing was changed", refused.StdErr);
        Assert.Equal(keyFile, File.ReadAllText(_home.Home.DaemonKeyPairFile));
        Assert.Equal(before, (await PairJsonAsync()).GetProperty("url").GetString());
    }

    [Fact]
    public async Task Rotation_confirmed_on_stdin_replaces_the_identity()
    {
        var before = ConnectionOffer.ParseUrl((await PairJsonAsync()).GetProperty("url").GetString()!);

        var rotated = await PaseoBinary.RunWithStdinAsync(_env, "yes\n", "daemon", "pair", "--rotate");

        Assert.True(rotated.ExitCode == 0, rotated.StdErr);
        Assert.Contains("Earlier pairing links no longer work", rotated.StdOut);
        Assert.Contains("No daemon is running", rotated.StdOut);
        var after = ConnectionOffer.ParseUrl((await PairJsonAsync()).GetProperty("url").GetString()!);
        Assert.NotEqual(before.ServerId, after.ServerId);
        Assert.NotEqual(before.DaemonPublicKeyB64, after.DaemonPublicKeyB64);
    }

    [Fact]
    public async Task Rotation_makes_a_running_daemon_load_the_new_identity()
    {
        var old = ConnectionOffer.ParseUrl((await PairJsonAsync()).GetProperty("url").GetString()!);
        await using var daemon = new ForegroundDaemon(_env, "--port", "0");
        var listen = ListenTarget.Parse((await RunningDaemon.WaitHealthyAsync(_home.Home)).Listen);
        Assert.Equal(old.ServerId, await StatusServerIdAsync(listen));

        var rotated = await PairJsonAsync("--rotate", "--yes");

        Assert.True(rotated.GetProperty("rotated").GetBoolean());
        Assert.True(rotated.GetProperty("daemonReloaded").GetBoolean());
        var fresh = ConnectionOffer.ParseUrl(rotated.GetProperty("url").GetString()!);
        Assert.Equal(rotated.GetProperty("serverId").GetString(), fresh.ServerId);
        Assert.NotEqual(old.ServerId, fresh.ServerId);
        Assert.NotEqual(old.DaemonPublicKeyB64, fresh.DaemonPublicKeyB64);
        await Eventually.HoldsAsync(async () => await StatusServerIdAsync(listen) == fresh.ServerId, "the daemon to report the rotated server id");
        Assert.False(daemon.Process.HasExited);
    }

    [Fact]
    public async Task A_corrupt_keypair_is_refused_by_pair_and_by_the_daemon_and_left_as_it_is()
    {
        var keypair = _home.Home.DaemonKeyPairFile;
        const string corrupt = "{\"v\":2,\"publicKeyB64\":\"AAAA\",\"secretKeyB64\":\"AAAA\"}";
        File.WriteAllText(keypair, corrupt);

        var pair = await PaseoBinary.RunAsync(_env, "daemon", "pair", "--json");
        Assert.Equal(2, pair.ExitCode);
        var error = Json(pair.StdOut).GetProperty("error");
        Assert.Equal("INVALID_IDENTITY", error.GetProperty("code").GetString());
        Assert.Contains(keypair, error.GetProperty("message").GetString());

        var detached = await PaseoBinary.RunAsync(_env, "daemon", "start", "--port", "0");
        Assert.Equal(2, detached.ExitCode);
        Assert.Contains(keypair, detached.StdErr);
        Assert.Contains("decodes to 3 bytes", detached.StdErr);

        await using var foreground = new ForegroundDaemon(_env, "--port", "0");
        Assert.Equal(2, await foreground.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("not replaced automatically", foreground.StdErr);

        Assert.Equal(corrupt, File.ReadAllText(keypair));
        Assert.Null(PidFile.ReadRunning(_home.Home.PidFile));
    }

    private static async Task<string?> StatusServerIdAsync(ListenTarget listen)
    {
        var (http, baseUri) = DaemonProbe.ClientFor(listen, TimeSpan.FromSeconds(10));
        using (http)
        {
            var body = await http.GetStringAsync(new Uri(baseUri, "api/status"));
            return Json(body).GetProperty("serverId").GetString();
        }
    }
}
