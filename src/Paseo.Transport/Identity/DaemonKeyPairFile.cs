using System.Security.Cryptography;
using System.Text.Json;
using Paseo.Transport.Crypto;
using Paseo.Transport.Files;

namespace Paseo.Transport.Identity;

/// <summary>
/// The daemon's identity file could not be used. The message names the file and what is wrong with it; the
/// daemon stops (exit 2) instead of replacing its identity, which would silently break every pairing.
/// </summary>
public sealed class IdentityFileException(string path, string problem)
    : Exception($"{path}: {problem}. The daemon's identity is not replaced automatically: restore the file from a backup, " +
                "or run `paseo daemon pair --rotate` to create a new identity (every earlier pairing stops working).")
{
    public const int ExitCode = 2;
    public string Path { get; } = path;
    public string Problem { get; } = problem;
}

/// <summary>
/// `$PASEO_HOME/daemon-keypair.json` (relay-e2ee.md §3): the daemon's long-term Curve25519 keypair, byte-compatible
/// with Paseo's file. Stricter than Paseo: written 0600 and re-tightened on every load; a file that does not parse,
/// has keys of the wrong length, or whose public key does not belong to its secret key is refused, never regenerated.
/// </summary>
public static class DaemonKeyPairFile
{
    public const int Version = 2;

    /// <summary>Loads the keypair, creating the file (0600) if it does not exist yet.</summary>
    public static BoxKeyPair LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            var fresh = BoxKeyPair.Generate();
            Write(path, fresh);
            return fresh;
        }
        return Load(path);
    }

    /// <summary>Loads an existing file; throws <see cref="IdentityFileException"/> for anything but a consistent v2 keypair.</summary>
    public static BoxKeyPair Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException(path, $"cannot be read ({e.Message})");
        }

        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(text);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new IdentityFileException(path, $"is not valid JSON ({e.Message})");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new IdentityFileException(path, "must hold a JSON object");
        if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var version) || version != Version)
            throw new IdentityFileException(path, $"\"v\" must be the number {Version}");

        var publicKey = ReadKey(path, root, "publicKeyB64");
        var secretKey = ReadKey(path, root, "secretKeyB64");
        if (!CryptographicOperations.FixedTimeEquals(BoxKeyPair.PublicKeyOf(secretKey), publicKey))
            throw new IdentityFileException(path, "\"publicKeyB64\" is not the public key of \"secretKeyB64\" (the file was edited or mixed from two keypairs)");

        PrivateFiles.TightenFile(path);
        return new BoxKeyPair(publicKey, secretKey);
    }

    /// <summary>Writes the keypair atomically, mode 0600, in Paseo's exact layout (two-space JSON plus a newline).</summary>
    public static void Write(string path, BoxKeyPair pair)
    {
        var json = "{\n" +
                   $"  \"v\": {Version},\n" +
                   $"  \"publicKeyB64\": \"{Convert.ToBase64String(pair.PublicKey)}\",\n" +
                   $"  \"secretKeyB64\": \"{Convert.ToBase64String(pair.SecretKey)}\"\n" +
                   "}\n";
        PrivateFiles.WriteAtomically(path, json);
    }

    private static byte[] ReadKey(string path, JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            throw new IdentityFileException(path, $"\"{name}\" is missing or not a string");
        var bytes = E2eeFrames.DecodeBase64Lenient(value.GetString()!);
        if (bytes is null) throw new IdentityFileException(path, $"\"{name}\" is not base64");
        if (bytes.Length != NaclBox.KeyBytes) throw new IdentityFileException(path, $"\"{name}\" decodes to {bytes.Length} bytes; a key has {NaclBox.KeyBytes}");
        return bytes;
    }
}
