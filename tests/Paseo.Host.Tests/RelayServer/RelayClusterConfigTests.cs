using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.RelayServer;

/// <summary>
/// A clustered relay is loopback and safe by default: a non-loopback cluster address without TLS is refused (or allowed
/// with a warning at every start), flags that need --cluster say so, and nodes with TLS form a cluster only with the one
/// shared certificate.
/// </summary>
[Collection(Paseo.Host.Tests.Sessions.MeasuredAloneCollection.Name)]
public sealed class RelayClusterConfigTests : IDisposable
{
    private readonly TestHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task A_non_loopback_cluster_address_without_tls_is_refused_and_cluster_flags_need_cluster()
    {
        var env = PaseoBinary.CleanEnvironment(_home);
        var refused = await PaseoBinary.RunAsync(env, "relay", "start", "--listen", "127.0.0.1:0", "--cluster", "--cluster-listen", "0.0.0.0:0");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("is not loopback", refused.StdErr);
        Assert.Contains("--allow-insecure-cluster", refused.StdErr);

        var needsCluster = await PaseoBinary.RunAsync(env, "relay", "start", "--listen", "127.0.0.1:0", "--seed", "127.0.0.1:7000");
        Assert.Equal(2, needsCluster.ExitCode);
        Assert.Contains("need --cluster", needsCluster.StdErr);

        var halfTls = await PaseoBinary.RunAsync(env, "relay", "start", "--listen", "127.0.0.1:0", "--cluster", "--cluster-tls-cert", "/nonexistent.pem");
        Assert.Equal(2, halfTls.ExitCode);
        Assert.Contains("go together", halfTls.StdErr);

        File.WriteAllText(Path.Combine(_home.Home.Root, "paseo.hocon"), "paseo.relay-server.cluster { ack-every = 100, frame-window = 10 }");
        var badConfig = await PaseoBinary.RunAsync(env, "relay", "start", "--listen", "127.0.0.1:0", "--home", _home.Home.Root, "--cluster");
        Assert.Equal(2, badConfig.ExitCode);
        Assert.Contains("ack-every", badConfig.StdErr);
    }

    [Fact]
    public async Task Allowing_an_insecure_cluster_warns_at_start()
    {
        var env = PaseoBinary.CleanEnvironment(_home);
        var port = RelayClusterNode.FreePorts(1)[0];
        using var process = System.Diagnostics.Process.Start(PaseoBinary.StartInfo(
            ["relay", "start", "--listen", "127.0.0.1:0", "--cluster", "--cluster-listen", $"0.0.0.0:{port}", "--allow-insecure-cluster"], env))!;
        try
        {
            var line = await process.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains("WITHOUT TLS", line);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static (string Cert, string Key) WriteCertificate(string dir, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sans = new SubjectAlternativeNameBuilder();
        sans.AddIpAddress(System.Net.IPAddress.Loopback);
        sans.AddDnsName("localhost");
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(sans.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(dir, $"{name}.crt");
        var keyPath = Path.Combine(dir, $"{name}.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certPath, keyPath);
    }

    [Fact]
    public async Task Nodes_with_the_shared_certificate_form_a_cluster_over_tls_and_a_node_with_another_is_kept_out()
    {
        var shared = WriteCertificate(_home.Root, "cluster");
        var other = WriteCertificate(_home.Root, "stranger");
        var env = PaseoBinary.CleanEnvironment(_home);
        var ports = RelayClusterNode.FreePorts(6);
        string[] Tls((string Cert, string Key) c) => ["--cluster-tls-cert", c.Cert, "--cluster-tls-key", c.Key];
        await using var a = await RelayClusterNode.StartAsync("A", ports[0], ports[3], [ports[3]], env, Tls(shared));
        await using var b = await RelayClusterNode.StartAsync("B", ports[1], ports[4], [ports[3]], env, Tls(shared));
        await Eventually.HoldsAsync(async () => await a.UpMembersAsync() == 2 && await b.UpMembersAsync() == 2, "two TLS nodes to form a cluster", TimeSpan.FromSeconds(40));

        await using var stranger = await RelayClusterNode.StartAsync("C", ports[2], ports[5], [ports[3]], env, Tls(other));
        // The stranger's handshake is refused (its certificate is not the cluster's): it is never a member.
        await Eventually.HoldsAsync(() => a.Log.Contains("Certificate pinning failed") && a.Log.Contains("Rejected incoming connection"),
            "node A to refuse the stranger's TLS handshake", TimeSpan.FromSeconds(40));
        Assert.Equal(2, await a.UpMembersAsync());
        Assert.DoesNotContain((await a.HealthAsync())["members"]!.AsArray(), m => m!["address"]!.GetValue<string>().EndsWith($":{ports[5]}"));
    }

    [Fact]
    public async Task A_node_that_cannot_join_answers_503_on_health_and_a_relay_stop_ends_it()
    {
        var env = PaseoBinary.CleanEnvironment(_home);
        var ports = RelayClusterNode.FreePorts(3);
        // Its only seed is a port where nothing listens: it never becomes a member.
        await using var lonely = await RelayClusterNode.StartAsync("L", ports[0], ports[1], [ports[2]], env);
        using var http = new HttpClient();
        var health = await http.GetAsync($"http://127.0.0.1:{ports[0]}/health");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.NotEqual("ok", System.Text.Json.Nodes.JsonNode.Parse(await health.Content.ReadAsStringAsync())!["status"]!.GetValue<string>());

        await lonely.StopAsync();
        Assert.False(File.Exists(lonely.PidFile));
        var again = await PaseoBinary.RunAsync(env, "relay", "stop", "--pid-file", lonely.PidFile);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("not running", again.StdOut);
    }
}
