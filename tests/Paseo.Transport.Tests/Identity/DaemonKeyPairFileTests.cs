using Paseo.Transport.Configuration;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;

namespace Paseo.Transport.Tests.Identity;

public sealed class DaemonKeyPairFileTests : IDisposable
{
    // The RFC 7748 "bob" keypair of vectors/e2ee.json.
    private const string VectorPublic = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
    private const string VectorSecret = "XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=";
    private const string OtherPublic = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

    private readonly TempDir _dir = new();
    private string KeyFile => _dir.File("daemon-keypair.json");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_new_file_is_0600_in_paseos_exact_layout_and_loads_back()
    {
        var created = DaemonKeyPairFile.LoadOrCreate(KeyFile);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
        Assert.Equal(
            "{\n  \"v\": 2,\n" +
            $"  \"publicKeyB64\": \"{Convert.ToBase64String(created.PublicKey)}\",\n" +
            $"  \"secretKeyB64\": \"{Convert.ToBase64String(created.SecretKey)}\"\n}}\n",
            File.ReadAllText(KeyFile));
        Assert.Equal(BoxKeyPair.PublicKeyOf(created.SecretKey), created.PublicKey);

        var loaded = DaemonKeyPairFile.LoadOrCreate(KeyFile);
        Assert.Equal(created.PublicKey, loaded.PublicKey);
        Assert.Equal(created.SecretKey, loaded.SecretKey);
    }

    [Fact]
    public void A_file_written_by_paseo_loads_and_a_loose_mode_is_tightened()
    {
        File.WriteAllText(KeyFile, $"{{\"v\":2,\"publicKeyB64\":\"{VectorPublic}\",\"secretKeyB64\":\"{VectorSecret}\",\"extra\":true}}");
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var pair = DaemonKeyPairFile.Load(KeyFile);

        Assert.Equal(VectorPublic, Convert.ToBase64String(pair.PublicKey));
        Assert.Equal(VectorSecret, Convert.ToBase64String(pair.SecretKey));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
    }

    public static TheoryData<string, string> CorruptFiles => new()
    {
        { "", "is not valid JSON" },
        { "{\"v\":2,", "is not valid JSON" },
        { "[1,2]", "must hold a JSON object" },
        { $"{{\"v\":1,\"publicKeyB64\":\"{VectorPublic}\",\"secretKeyB64\":\"{VectorSecret}\"}}", "\"v\" must be the number 2" },
        { $"{{\"v\":\"2\",\"publicKeyB64\":\"{VectorPublic}\",\"secretKeyB64\":\"{VectorSecret}\"}}", "\"v\" must be the number 2" },
        { $"{{\"v\":2,\"secretKeyB64\":\"{VectorSecret}\"}}", "\"publicKeyB64\" is missing" },
        { $"{{\"v\":2,\"publicKeyB64\":\"{VectorPublic}\",\"secretKeyB64\":42}}", "\"secretKeyB64\" is missing or not a string" },
        { $"{{\"v\":2,\"publicKeyB64\":\"{VectorPublic}\",\"secretKeyB64\":\"not base64!\"}}", "\"secretKeyB64\" is not base64" },
        { $"{{\"v\":2,\"publicKeyB64\":\"AAAA\",\"secretKeyB64\":\"{VectorSecret}\"}}", "\"publicKeyB64\" decodes to 3 bytes" },
        { $"{{\"v\":2,\"publicKeyB64\":\"{OtherPublic}\",\"secretKeyB64\":\"{VectorSecret}\"}}", "is not the public key of" },
    };

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void A_corrupt_or_inconsistent_file_is_refused_by_name_and_never_replaced(string content, string expected)
    {
        File.WriteAllText(KeyFile, content);

        var error = Assert.Throws<IdentityFileException>(() => DaemonKeyPairFile.LoadOrCreate(KeyFile));

        Assert.Contains(KeyFile, error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Contains("not replaced automatically", error.Message);
        Assert.Equal(content, File.ReadAllText(KeyFile));
    }

    [Fact]
    public void Identity_persists_across_loads_and_rotation_replaces_both_files()
    {
        var home = new PaseoHome(_dir.Path);
        var env = new Dictionary<string, string?>();
        var first = DaemonIdentity.LoadOrCreate(home, env);
        var again = DaemonIdentity.LoadOrCreate(home, env);
        Assert.Equal(first.ServerId, again.ServerId);
        Assert.Equal(first.KeyPair.PublicKey, again.KeyPair.PublicKey);
        Assert.Matches("^srv_[A-Za-z0-9_-]{12}$", first.ServerId.Value);

        var rotated = DaemonIdentity.Rotate(home, env);

        Assert.NotEqual(first.ServerId, rotated.ServerId);
        Assert.NotEqual(first.KeyPair.PublicKey, rotated.KeyPair.PublicKey);
        var reloaded = DaemonIdentity.LoadOrCreate(home, env);
        Assert.Equal(rotated.ServerId, reloaded.ServerId);
        Assert.Equal(rotated.KeyPair.SecretKey, reloaded.KeyPair.SecretKey);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(home.DaemonKeyPairFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(home.ServerIdFile));
    }

    [Fact]
    public void PASEO_SERVER_ID_overrides_the_stored_id_and_is_persisted_only_when_none_exists()
    {
        var home = new PaseoHome(_dir.Path);
        var withOverride = DaemonIdentity.LoadOrCreate(home, new Dictionary<string, string?> { ["PASEO_SERVER_ID"] = "srv_fromenv0000" });
        Assert.Equal("srv_fromenv0000", withOverride.ServerId.Value);
        Assert.Equal("srv_fromenv0000\n", File.ReadAllText(home.ServerIdFile));

        var other = DaemonIdentity.LoadOrCreate(home, new Dictionary<string, string?> { ["PASEO_SERVER_ID"] = "srv_another0000" });
        Assert.Equal("srv_another0000", other.ServerId.Value);
        Assert.Equal("srv_fromenv0000\n", File.ReadAllText(home.ServerIdFile));
    }
}
