using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paseo.Transport.Crypto;

namespace Paseo.Transport.Tests.Crypto;

/// <summary>
/// Our codec against npm's tweetnacl 1.0.3 (the library Paseo's clients use), with random keys both ways: frames
/// tweetnacl makes open here, frames we make open there. tests/interop is installed by `./build.sh test` (npm ci).
/// </summary>
public sealed class TweetnaclInteropTests
{
    private static readonly string Script = Path.Combine(RepositoryRoot(), "tests", "interop", "tweetnacl-interop.mjs");

    private static readonly byte[][] Plaintexts =
    [
        [],
        "Hello from client!"u8.ToArray(),
        "{\"type\":\"hello\",\"clientId\":\"cid_interop\",\"clientType\":\"cli\",\"protocolVersion\":1}"u8.ToArray(),
        [0x01, 0x00, 0x68, 0x69, 0xff],
        RandomNumberGenerator.GetBytes(64 * 1024),
    ];

    [Fact]
    public async Task Frames_sealed_by_tweetnacl_open_with_our_codec()
    {
        var daemon = BoxKeyPair.Generate();
        var result = await RunNodeAsync("encrypt", new JsonObject
        {
            ["daemonPublicKeyB64"] = Convert.ToBase64String(daemon.PublicKey),
            ["plaintexts"] = new JsonArray(Plaintexts.Select(p => (JsonNode)Convert.ToHexStringLower(p)).ToArray()),
        });

        var clientPublic = Convert.FromBase64String(result.GetProperty("clientPublicKeyB64").GetString()!);
        var shared = NaclBox.SharedKey(clientPublic, daemon.SecretKey);
        var frames = result.GetProperty("frames").EnumerateArray().Select(f => f.GetString()!).ToArray();
        Assert.Equal(Plaintexts.Length, frames.Length);
        for (var i = 0; i < frames.Length; i++)
        {
            Assert.IsType<InboundFrame.Ciphertext>(E2eeFrames.Classify(frames[i]));
            var (plaintext, _, failure) = E2eeFrames.Decrypt(frames[i], shared);
            Assert.Equal(DecryptFailure.None, failure);
            Assert.Equal(Plaintexts[i], plaintext);
        }
    }

    [Fact]
    public async Task Frames_sealed_by_our_codec_open_with_tweetnacl_and_a_tampered_one_does_not()
    {
        var daemon = BoxKeyPair.Generate();
        var client = BoxKeyPair.Generate();
        var shared = NaclBox.SharedKey(client.PublicKey, daemon.SecretKey);
        var frames = Plaintexts.Select(p => E2eeFrames.Encrypt(p, shared).Frame).ToList();
        var tampered = Convert.FromBase64String(frames[1]);
        tampered[^1] ^= 0x01;
        frames.Add(Convert.ToBase64String(tampered));

        var result = await RunNodeAsync("decrypt", new JsonObject
        {
            ["daemonPublicKeyB64"] = Convert.ToBase64String(daemon.PublicKey),
            ["clientSecretKeyB64"] = Convert.ToBase64String(client.SecretKey),
            ["frames"] = new JsonArray(frames.Select(f => (JsonNode)f).ToArray()),
        });

        var opened = result.GetProperty("plaintexts").EnumerateArray().ToArray();
        for (var i = 0; i < Plaintexts.Length; i++) Assert.Equal(Convert.ToHexStringLower(Plaintexts[i]), opened[i].GetString());
        Assert.Equal(JsonValueKind.Null, opened[^1].ValueKind);
    }

    private static async Task<JsonElement> RunNodeAsync(string mode, JsonObject job)
    {
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(Script)!, "node_modules", "tweetnacl", "package.json")),
            "tweetnacl is not installed in tests/interop: run ./build.sh test (it runs npm ci there)");
        var psi = new ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(mode);
        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.StandardInput.WriteAsync(job.ToJsonString());
        node.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, await stderr);
        return JsonDocument.Parse(await stdout).RootElement.Clone();
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paseo.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Paseo.sln) above " + AppContext.BaseDirectory);
    }
}
