using Paseo.Transport.Security;

namespace Paseo.Transport.Tests.Security;

public sealed class PasswordGateTests
{
    private static readonly string Hash = PasswordHasher.Hash("correct.horse", cost: 4);

    [Fact]
    public async Task Without_a_password_everything_is_allowed()
    {
        using var gate = new PasswordGate(null, PasswordGateLimits.Default);
        Assert.False(gate.PasswordRequired);
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync(null));
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync("anything"));
    }

    [Fact]
    public async Task Missing_wrong_and_right_tokens()
    {
        using var gate = new PasswordGate(Hash, PasswordGateLimits.Default);
        Assert.Equal(PasswordCheck.Missing, await gate.CheckAsync(null));
        Assert.Equal(PasswordCheck.Missing, await gate.CheckAsync(""));
        Assert.Equal(PasswordCheck.Incorrect, await gate.CheckAsync("wrong"));
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync("correct.horse"));
    }

    [Fact]
    public async Task A_verified_token_skips_bcrypt_afterwards_but_wrong_ones_always_pay()
    {
        using var gate = new PasswordGate(Hash, PasswordGateLimits.Default);
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync("correct.horse"));
        Assert.Equal(1, gate.BcryptVerifications);
        for (var i = 0; i < 5; i++) Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync("correct.horse"));
        Assert.Equal(1, gate.BcryptVerifications);

        Assert.Equal(PasswordCheck.Incorrect, await gate.CheckAsync("wrong"));
        Assert.Equal(PasswordCheck.Incorrect, await gate.CheckAsync("wrong"));
        Assert.Equal(3, gate.BcryptVerifications);
    }

    [Fact]
    public async Task The_cache_is_bounded()
    {
        // bcrypt reads only the first 72 bytes, so every token below verifies; the cache keeps only the last two.
        var prefix = new string('p', 72);
        using var gate = new PasswordGate(PasswordHasher.Hash(prefix, 4), new PasswordGateLimits(2, 1, 10));
        foreach (var suffix in new[] { "a", "b", "c" }) Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync(prefix + suffix));
        Assert.Equal(3, gate.BcryptVerifications);
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync(prefix + "a"));
        Assert.Equal(4, gate.BcryptVerifications);
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync(prefix + "c"));
        Assert.Equal(4, gate.BcryptVerifications);
    }

    [Fact]
    public async Task Verifications_beyond_the_queue_are_turned_away()
    {
        // One slot and no queue: while a verification is in flight, the next guess is refused at once.
        using var release = new ManualResetEventSlim();
        using var gate = new PasswordGate(Hash, new PasswordGateLimits(8, 1, 0), (token, hash) =>
        {
            release.Wait(TimeSpan.FromSeconds(30));
            return BCrypt.Net.BCrypt.Verify(token, hash);
        });
        var first = gate.CheckAsync("guess-1");
        var second = await gate.CheckAsync("guess-2");
        Assert.Equal(PasswordCheck.Busy, second);
        release.Set();
        Assert.Equal(PasswordCheck.Incorrect, await first);
        Assert.Equal(PasswordCheck.Allowed, await gate.CheckAsync("correct.horse"));
    }

    [Fact]
    public void Hashes_are_bcrypt_2b_at_the_given_cost()
    {
        var hash = PasswordHasher.Hash("pw", 5);
        Assert.StartsWith("$2b$05$", hash);
        Assert.Matches(Paseo.Transport.Configuration.PaseoConfigSchema.BcryptPattern, hash);
    }
}
