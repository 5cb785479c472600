using System.Security.Cryptography;
using System.Text;

namespace Paseo.Transport.Security;

public enum PasswordCheck
{
    /// <summary>No password is configured, or the token verified.</summary>
    Allowed,
    /// <summary>A password is configured and the request carried no token.</summary>
    Missing,
    /// <summary>The token does not match the configured hash.</summary>
    Incorrect,
    /// <summary>Too many verifications are already running or waiting; the client should retry later.</summary>
    Busy,
}

/// <summary>Limits of the password check, from paseo.hocon (`paseo.auth`).</summary>
public sealed record PasswordGateLimits(int VerifiedTokenCacheSize, int MaxConcurrentVerifications, int MaxQueuedVerifications)
{
    public static readonly PasswordGateLimits Default = new(8, 2, 64);
}

/// <summary>
/// Checks client tokens against the daemon's bcrypt hash. bcrypt at cost 12 costs about 300 ms of CPU, so:
/// a token that verified once is remembered (as an HMAC under a per-process random key, never as text) and
/// later requests with it cost a hash lookup; and at most a few verifications run at once, with a bounded
/// queue behind them, so wrong-password floods cannot take every core.
/// </summary>
public sealed class PasswordGate : IDisposable
{
    private readonly string? _hash;
    private readonly PasswordGateLimits _limits;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly LinkedList<string> _verifiedOrder = new();
    private readonly HashSet<string> _verified = new(StringComparer.Ordinal);
    private readonly object _cacheLock = new();
    private readonly SemaphoreSlim _verifySlots;
    private readonly Func<string, string, bool> _verify;
    private int _waiting;

    public PasswordGate(string? bcryptHash, PasswordGateLimits limits) : this(bcryptHash, limits, SafeVerify)
    {
    }

    /// <summary>With another verification function, so tests can hold a verification in flight deterministically.</summary>
    internal PasswordGate(string? bcryptHash, PasswordGateLimits limits, Func<string, string, bool> verify)
    {
        _hash = string.IsNullOrEmpty(bcryptHash) ? null : bcryptHash;
        _limits = limits;
        _verify = verify;
        _verifySlots = new SemaphoreSlim(Math.Max(1, limits.MaxConcurrentVerifications));
    }

    public bool PasswordRequired => _hash is not null;

    /// <summary>How many bcrypt verifications have run (observable in tests and metrics).</summary>
    public int BcryptVerifications => _bcryptVerifications;
    private int _bcryptVerifications;

    public async Task<PasswordCheck> CheckAsync(string? token, CancellationToken cancellationToken = default)
    {
        if (_hash is null) return PasswordCheck.Allowed;
        if (string.IsNullOrEmpty(token)) return PasswordCheck.Missing;

        var digest = Digest(token);
        lock (_cacheLock)
        {
            if (_verified.Contains(digest)) return PasswordCheck.Allowed;
        }

        if (Interlocked.Increment(ref _waiting) > _limits.MaxConcurrentVerifications + _limits.MaxQueuedVerifications)
        {
            Interlocked.Decrement(ref _waiting);
            return PasswordCheck.Busy;
        }
        try
        {
            await _verifySlots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Interlocked.Increment(ref _bcryptVerifications);
                var ok = await Task.Run(() => _verify(token, _hash), cancellationToken).ConfigureAwait(false);
                if (!ok) return PasswordCheck.Incorrect;
                Remember(digest);
                return PasswordCheck.Allowed;
            }
            finally
            {
                _verifySlots.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private static bool SafeVerify(string token, string hash)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(token, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    private void Remember(string digest)
    {
        lock (_cacheLock)
        {
            if (!_verified.Add(digest)) return;
            _verifiedOrder.AddLast(digest);
            while (_verifiedOrder.Count > Math.Max(1, _limits.VerifiedTokenCacheSize))
            {
                _verified.Remove(_verifiedOrder.First!.Value);
                _verifiedOrder.RemoveFirst();
            }
        }
    }

    private string Digest(string token) => Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(token)));

    public void Dispose() => _verifySlots.Dispose();
}

/// <summary>Makes the bcrypt hashes stored in config.json.</summary>
public static class PasswordHasher
{
    /// <summary>Paseo's cost. Tests lower it through paseo.hocon (`paseo.auth.bcrypt-cost`).</summary>
    public const int DefaultCost = 12;

    public static string Hash(string password, int cost = DefaultCost) =>
        BCrypt.Net.BCrypt.HashPassword(password, BCrypt.Net.BCrypt.GenerateSalt(cost, 'b'));
}
