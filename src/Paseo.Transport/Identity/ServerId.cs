using System.Security.Cryptography;
using Paseo.Transport.Files;

namespace Paseo.Transport.Identity;

/// <summary>
/// The daemon's public name on a relay: `srv_` + 12 base64url characters (9 random bytes), kept in
/// $PASEO_HOME/server-id; PASEO_SERVER_ID overrides it (relay-e2ee.md §3).
/// </summary>
public readonly record struct ServerId
{
    public string Value { get; }

    private ServerId(string value) => Value = value;

    public static ServerId From(string value)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException("a server id cannot be empty", nameof(value));
        return new ServerId(value.Trim());
    }

    public static ServerId New() =>
        new("srv_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(9)).Replace('+', '-').Replace('/', '_').TrimEnd('='));

    /// <summary>Reads the id file, creating it when missing or empty. The env override is persisted only if no file exists.</summary>
    public static ServerId LoadOrCreate(string path, string? overrideFromEnv)
    {
        string? stored = null;
        if (File.Exists(path))
        {
            stored = File.ReadAllText(path).Trim();
            if (stored.Length == 0) stored = null;
        }
        if (!string.IsNullOrWhiteSpace(overrideFromEnv))
        {
            if (stored is null) PrivateFiles.WriteAtomically(path, overrideFromEnv.Trim() + "\n");
            return From(overrideFromEnv);
        }
        if (stored is not null) return From(stored);
        var fresh = New();
        PrivateFiles.WriteAtomically(path, fresh.Value + "\n");
        return fresh;
    }

    public override string ToString() => Value;
}
