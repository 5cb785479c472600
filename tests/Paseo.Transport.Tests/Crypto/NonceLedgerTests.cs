using System.Security.Cryptography;
using Paseo.Transport.Crypto;

namespace Paseo.Transport.Tests.Crypto;

public sealed class NonceLedgerTests
{
    [Fact]
    public void A_repeated_inbound_nonce_is_a_replay()
    {
        var ledger = new NonceLedger(100);
        var nonce = RandomNumberGenerator.GetBytes(24);
        Assert.Equal(NonceVerdict.Fresh, ledger.CheckInbound(nonce));
        Assert.Equal(NonceVerdict.Replayed, ledger.CheckInbound(nonce));
        Assert.Equal(NonceVerdict.Fresh, ledger.CheckInbound(RandomNumberGenerator.GetBytes(24)));
    }

    [Fact]
    public void Our_own_nonce_coming_back_is_a_reflection()
    {
        var ledger = new NonceLedger(100);
        var key = RandomNumberGenerator.GetBytes(32);
        var (frame, nonce) = E2eeFrames.Encrypt("{\"type\":\"session\"}"u8, key);
        Assert.True(ledger.RecordOutbound(nonce));

        // The bounced frame decrypts fine (one key for both directions): only the ledger catches it.
        var (plaintext, inboundNonce, failure) = E2eeFrames.Decrypt(frame, key);
        Assert.Equal(DecryptFailure.None, failure);
        Assert.NotNull(plaintext);
        Assert.Equal(NonceVerdict.Reflected, ledger.CheckInbound(inboundNonce));
    }

    [Fact]
    public void The_frame_budget_bounds_memory_in_both_directions()
    {
        var ledger = new NonceLedger(3);
        for (var i = 0; i < 3; i++) Assert.Equal(NonceVerdict.Fresh, ledger.CheckInbound(RandomNumberGenerator.GetBytes(24)));
        Assert.Equal(NonceVerdict.Exhausted, ledger.CheckInbound(RandomNumberGenerator.GetBytes(24)));
        Assert.Equal(3, ledger.Received);

        for (var i = 0; i < 3; i++) Assert.True(ledger.RecordOutbound(RandomNumberGenerator.GetBytes(24)));
        Assert.False(ledger.RecordOutbound(RandomNumberGenerator.GetBytes(24)));
        Assert.Equal(3, ledger.Sent);
    }
}
