using Paseo.Transport.Configuration;
using Paseo.Transport.Crypto;
using Paseo.Transport.Identity;

namespace Paseo.Transport.Tests.Identity;

/// <summary>The relay client keys a daemon remembers on disk, so a recorded session cannot be replayed after a restart.</summary>
public sealed class ClientKeyLedgerTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly byte[] _daemonKey = BoxKeyPair.Generate().PublicKey;
    private string LedgerFile => _dir.File(ClientKeyLedger.FileName);

    public void Dispose() => _dir.Dispose();

    private ClientKeyLedger Open(int capacity = 100, List<string>? notices = null) =>
        ClientKeyLedger.Open(LedgerFile, _daemonKey, capacity, notices is null ? null : notices.Add);

    private static ClientKeyClaim Claim(ClientKeyLedger ledger, byte[] key) => ledger.TryClaim(key, out _);

    [Fact]
    public void A_claimed_key_is_refused_again_after_the_ledger_is_reopened_as_after_a_restart()
    {
        var first = BoxKeyPair.Generate().PublicKey;
        var second = BoxKeyPair.Generate().PublicKey;
        using (var ledger = Open())
        {
            Assert.Equal(ClientKeyClaim.Claimed, Claim(ledger, first));
            Assert.Equal(ClientKeyClaim.Replayed, Claim(ledger, first));
            Assert.Equal(ClientKeyClaim.Claimed, Claim(ledger, second));
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LedgerFile));
        Assert.Equal(ClientKeyLedger.HeaderBytes + 2 * ClientKeyLedger.DigestBytes, new FileInfo(LedgerFile).Length);
        Assert.Equal(2, ClientKeyLedger.CountIn(LedgerFile));

        using var reopened = Open();
        Assert.Equal(2, reopened.Count);
        Assert.Equal(ClientKeyClaim.Replayed, Claim(reopened, first));
        Assert.Equal(ClientKeyClaim.Replayed, Claim(reopened, second));
        Assert.Equal(ClientKeyClaim.Claimed, Claim(reopened, BoxKeyPair.Generate().PublicKey));
    }

    [Fact]
    public void A_full_ledger_refuses_new_keys_and_forgets_none()
    {
        var keys = Enumerable.Range(0, 3).Select(_ => BoxKeyPair.Generate().PublicKey).ToList();
        using var ledger = Open(capacity: 2);
        Assert.Equal(ClientKeyClaim.Claimed, Claim(ledger, keys[0]));
        Assert.Equal(ClientKeyClaim.Claimed, Claim(ledger, keys[1]));
        Assert.True(ledger.IsFull);

        Assert.Equal(ClientKeyClaim.Full, Claim(ledger, keys[2]));
        // Nothing was evicted to make room: the first key is still a replay.
        Assert.Equal(ClientKeyClaim.Replayed, Claim(ledger, keys[0]));
        Assert.Equal(2, ClientKeyLedger.CountIn(LedgerFile));
    }

    [Fact]
    public void A_file_that_is_not_a_ledger_stops_with_the_file_named_and_is_left_as_it_was()
    {
        var damaged = new byte[ClientKeyLedger.HeaderBytes + 16];
        Random.Shared.NextBytes(damaged);
        File.WriteAllBytes(LedgerFile, damaged);

        var e = Assert.Throws<IdentityFileException>(() => Open());
        Assert.Equal(LedgerFile, e.Path);
        Assert.Contains("is not a client key ledger", e.Message);
        Assert.Equal(damaged, File.ReadAllBytes(LedgerFile));

        File.WriteAllBytes(LedgerFile, [1, 2, 3]); // shorter than a header
        Assert.Throws<IdentityFileException>(() => Open());
    }

    [Fact]
    public void Check_reads_only_the_header_and_changes_nothing()
    {
        ClientKeyLedger.Check(LedgerFile); // none yet: fine
        using (var ledger = Open()) Claim(ledger, BoxKeyPair.Generate().PublicKey);
        using (var stream = new FileStream(LedgerFile, FileMode.Append)) stream.Write(new byte[5]); // a record being written
        var before = File.ReadAllBytes(LedgerFile);
        ClientKeyLedger.Check(LedgerFile);
        Assert.Equal(before, File.ReadAllBytes(LedgerFile));

        File.WriteAllText(LedgerFile, new string('x', 100));
        Assert.Contains("is not a client key ledger", Assert.Throws<IdentityFileException>(() => ClientKeyLedger.Check(LedgerFile)).Message);
    }

    [Fact]
    public void A_closed_ledger_refuses_every_key_instead_of_remembering_it_in_memory_only()
    {
        var ledger = Open();
        ledger.Dispose();
        Assert.Equal(ClientKeyClaim.WriteFailed, ledger.TryClaim(BoxKeyPair.Generate().PublicKey, out var error));
        Assert.Contains("is closed", error);
        Assert.Equal(0, ClientKeyLedger.CountIn(LedgerFile));
    }

    [Fact]
    public void A_record_cut_short_by_a_crash_is_dropped_and_the_rest_is_kept()
    {
        var key = BoxKeyPair.Generate().PublicKey;
        using (var ledger = Open()) Claim(ledger, key);
        using (var stream = new FileStream(LedgerFile, FileMode.Append)) stream.Write(new byte[7]);

        var notices = new List<string>();
        using var reopened = Open(notices: notices);
        Assert.Contains(notices, n => n.Contains("dropped an incomplete last record of 7 bytes"));
        Assert.Equal(ClientKeyLedger.HeaderBytes + ClientKeyLedger.DigestBytes, new FileInfo(LedgerFile).Length);
        Assert.Equal(ClientKeyClaim.Replayed, Claim(reopened, key));
    }

    [Fact]
    public void A_ledger_of_an_earlier_keypair_is_replaced_by_an_empty_one()
    {
        var key = BoxKeyPair.Generate().PublicKey;
        using (var old = ClientKeyLedger.Open(LedgerFile, BoxKeyPair.Generate().PublicKey, 100)) Claim(old, key);

        var notices = new List<string>();
        using var ledger = Open(notices: notices);
        Assert.Contains(notices, n => n.Contains("belonged to an earlier keypair"));
        Assert.Equal(0, ledger.Count);
        Assert.Equal(ClientKeyClaim.Claimed, Claim(ledger, key));
    }

    [Fact]
    public void Renewing_for_a_new_keypair_starts_empty_and_rotation_removes_the_file()
    {
        var key = BoxKeyPair.Generate().PublicKey;
        var ledger = Open();
        Claim(ledger, key);
        using (var renewed = ledger.Renew(BoxKeyPair.Generate().PublicKey))
        {
            Assert.Equal(0, renewed.Count);
            Assert.Equal(ClientKeyClaim.Claimed, Claim(renewed, key));
        }

        var home = new PaseoHome(_dir.Path);
        DaemonIdentity.LoadOrCreate(home, new Dictionary<string, string?>());
        Assert.True(File.Exists(home.ClientKeyLedgerFile));
        DaemonIdentity.Rotate(home, new Dictionary<string, string?>());
        Assert.False(File.Exists(home.ClientKeyLedgerFile));
    }
}
