using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Paseo.Transport.Crypto;

namespace Paseo.Transport.Tests.Crypto;

/// <summary>The vectors of shared/spec/vectors/e2ee.json, computed with tweetnacl as Paseo's clients use it.</summary>
public sealed class E2eeVectorTests
{
    private static readonly JsonElement V = LoadVectors();

    private static JsonElement LoadVectors()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Vectors", "e2ee.json");
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement;
    }

    private static byte[] Hex(string path)
    {
        var node = V;
        foreach (var part in path.Split('.')) node = node.GetProperty(part);
        return Convert.FromHexString(node.GetString()!);
    }

    private static byte[] DaemonSk => Hex("daemon.secretKeyHex");
    private static byte[] DaemonPk => Hex("daemon.publicKeyHex");
    private static byte[] ClientSk => Hex("client.secretKeyHex");
    private static byte[] ClientPk => Hex("client.publicKeyHex");

    [Fact]
    public void Public_keys_follow_from_secret_keys()
    {
        Assert.Equal(DaemonPk, BoxKeyPair.PublicKeyOf(DaemonSk));
        Assert.Equal(ClientPk, BoxKeyPair.PublicKeyOf(ClientSk));
    }

    [Fact]
    public void Both_sides_derive_the_published_beforenm_key()
    {
        Assert.Equal(Hex("beforenmHex"), NaclBox.SharedKey(ClientPk, DaemonSk));
        Assert.Equal(Hex("beforenmHex"), NaclBox.SharedKey(DaemonPk, ClientSk));
    }

    [Fact]
    public void Handshake_frames_are_byte_exact()
    {
        Assert.Equal(V.GetProperty("helloFrame").GetString(), E2eeFrames.HelloFrame(ClientPk));
        Assert.Equal(E2eeFrames.ReadyFrame, V.GetProperty("readyFrame").GetString());
        var hello = Assert.IsType<InboundFrame.Hello>(E2eeFrames.Classify(V.GetProperty("helloFrame").GetString()!));
        Assert.Equal(ClientPk, E2eeFrames.DecodePublicKey(hello.Key));
    }

    public static IEnumerable<object[]> Frames() =>
        V.GetProperty("frames").EnumerateArray().Select(f => new object[]
        {
            f.TryGetProperty("plaintextUtf8", out var u) ? Convert.ToHexString(Encoding.UTF8.GetBytes(u.GetString()!)) : f.GetProperty("plaintextHex").GetString()!,
            f.GetProperty("textFrame").GetString()!,
        });

    [Theory]
    [MemberData(nameof(Frames))]
    public void Our_encryption_matches_tweetnacl_and_decrypts_its_frames(string plaintextHex, string textFrame)
    {
        var key = Hex("beforenmHex");
        var plaintext = Convert.FromHexString(plaintextHex);

        var (frame, nonce) = E2eeFrames.Encrypt(plaintext, key, Hex("nonceHex"));
        Assert.Equal(textFrame, frame);
        Assert.Equal(Hex("nonceHex"), nonce);

        var (opened, openedNonce, failure) = E2eeFrames.Decrypt(textFrame, key);
        Assert.Equal(DecryptFailure.None, failure);
        Assert.Equal(plaintext, opened);
        Assert.Equal(Hex("nonceHex"), openedNonce);
        Assert.IsType<InboundFrame.Ciphertext>(E2eeFrames.Classify(textFrame));
    }

    [Fact]
    public void The_binary_vector_is_not_utf8_and_the_text_ones_are()
    {
        Assert.False(E2eeFrames.IsUtf8(Convert.FromHexString("01006869ff")));
        Assert.True(E2eeFrames.IsUtf8("Hello from client!"u8));
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Flipping_any_byte_after_the_nonce_fails_decryption(string _, string textFrame)
    {
        var key = Hex("beforenmHex");
        var bundle = Convert.FromBase64String(textFrame);
        for (var i = NaclBox.NonceBytes; i < bundle.Length; i++)
        {
            var tampered = (byte[])bundle.Clone();
            tampered[i] ^= 0x01;
            Assert.Equal(DecryptFailure.DecryptionFailed, E2eeFrames.Decrypt(Convert.ToBase64String(tampered), key).Failure);
        }
    }

    [Fact]
    public void A_wrong_key_and_short_or_garbage_bundles_fail_with_paseos_reasons()
    {
        var frame = V.GetProperty("frames")[0].GetProperty("textFrame").GetString()!;
        Assert.Equal(DecryptFailure.DecryptionFailed, E2eeFrames.Decrypt(frame, RandomNumberGenerator.GetBytes(32)).Failure);
        Assert.Equal(DecryptFailure.TooShort, E2eeFrames.Decrypt(Convert.ToBase64String(new byte[23]), Hex("beforenmHex")).Failure);
        Assert.Equal(DecryptFailure.TooShort, E2eeFrames.Decrypt("*** not base64 ***", Hex("beforenmHex")).Failure);
        Assert.Equal(DecryptFailure.DecryptionFailed, E2eeFrames.Decrypt(Convert.ToBase64String(new byte[30]), Hex("beforenmHex")).Failure);
    }

    [Fact]
    public void The_negative_vector_key_is_refused_for_every_daemon_key_instead_of_giving_tweetnacls_constant()
    {
        var lowOrder = Hex("negative.lowOrderClientKeyHex");
        var constant = Hex("negative.constantBeforenmHexAcceptedByTweetnacl");
        foreach (var daemonSecret in new[] { DaemonSk, BoxKeyPair.Generate().SecretKey, BoxKeyPair.Generate().SecretKey })
        {
            var error = Assert.Throws<CryptographicException>(() => NaclBox.SharedKey(lowOrder, daemonSecret));
            Assert.Contains("low-order", error.Message);
        }
        // What an attacker would encrypt with if the key were accepted: never the key of any honest connection.
        Assert.NotEqual(constant, NaclBox.SharedKey(ClientPk, DaemonSk));
    }

    [Fact]
    public void Url_safe_unpadded_base64_is_accepted_as_paseo_receivers_do()
    {
        var frame = V.GetProperty("frames")[3].GetProperty("textFrame").GetString()!;
        var urlSafe = "  " + frame.Replace('+', '-').Replace('/', '_').TrimEnd('=') + "\n";
        Assert.Equal(DecryptFailure.None, E2eeFrames.Decrypt(urlSafe, Hex("beforenmHex")).Failure);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
    [InlineData("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")]
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")]
    public void Low_order_peer_keys_are_rejected_instead_of_giving_a_public_key(string lowOrderHex)
    {
        var error = Assert.Throws<CryptographicException>(() => NaclBox.SharedKey(Convert.FromHexString(lowOrderHex), DaemonSk));
        Assert.Contains("low-order", error.Message);
    }

    [Theory]
    [InlineData("{\"type\":\"e2ee_ready\"}", typeof(InboundFrame.Ready))]
    [InlineData("  {\"type\":\"e2ee_hello\",\"key\":\"abc\"}", typeof(InboundFrame.Hello))]
    [InlineData("{\"type\":\"e2ee_hello\",\"key\":5}", typeof(InboundFrame.PlaintextJson))]
    [InlineData("{\"type\":\"session\",\"message\":{}}", typeof(InboundFrame.PlaintextJson))]
    [InlineData("{\"no\":\"type\"}", typeof(InboundFrame.PlaintextJson))]
    [InlineData("{broken json", typeof(InboundFrame.Ciphertext))]
    [InlineData("aWlu6VW2", typeof(InboundFrame.Ciphertext))]
    public void Inbound_frames_are_classified_as_paseo_does(string text, Type expected) =>
        Assert.IsType(expected, E2eeFrames.Classify(text));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("AAAA")]
    [InlineData("not base64 at all!")]
    public void Hello_keys_that_are_not_32_bytes_are_refused(string key) => Assert.Null(E2eeFrames.DecodePublicKey(key));
}
