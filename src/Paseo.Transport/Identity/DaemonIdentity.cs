using Paseo.Transport.Configuration;
using Paseo.Transport.Crypto;

namespace Paseo.Transport.Identity;

/// <summary>
/// Who the daemon is to relay clients: its server id (the relay routing key) and its long-term keypair (whose public
/// half travels only inside pairing offers). Both live in $PASEO_HOME and persist across restarts.
/// </summary>
public sealed record DaemonIdentity(ServerId ServerId, BoxKeyPair KeyPair)
{
    public const string ServerIdVariable = "PASEO_SERVER_ID";

    /// <summary>Loads both files, creating whichever is missing. A corrupt keypair file throws <see cref="IdentityFileException"/>.</summary>
    public static DaemonIdentity LoadOrCreate(PaseoHome home, IReadOnlyDictionary<string, string?> env)
    {
        home.EnsureExists();
        var serverId = ServerId.LoadOrCreate(home.ServerIdFile, env.GetValueOrDefault(ServerIdVariable));
        var keyPair = DaemonKeyPairFile.LoadOrCreate(home.DaemonKeyPairFile);
        return new DaemonIdentity(serverId, keyPair);
    }

    /// <summary>
    /// Reads both files again without creating either (a reload must never invent an identity): a missing server-id file
    /// (with no PASEO_SERVER_ID) or keypair file throws <see cref="IdentityFileException"/>.
    /// </summary>
    public static DaemonIdentity Load(PaseoHome home, IReadOnlyDictionary<string, string?> env)
    {
        var overrideId = env.GetValueOrDefault(ServerIdVariable);
        ServerId serverId;
        if (!string.IsNullOrWhiteSpace(overrideId))
        {
            serverId = ServerId.From(overrideId);
        }
        else
        {
            string text;
            try
            {
                text = File.ReadAllText(home.ServerIdFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IdentityFileException(home.ServerIdFile, $"cannot be read ({e.Message})");
            }
            if (text.Length == 0) throw new IdentityFileException(home.ServerIdFile, "is empty");
            serverId = ServerId.From(text);
        }
        if (!File.Exists(home.DaemonKeyPairFile)) throw new IdentityFileException(home.DaemonKeyPairFile, "does not exist");
        return new DaemonIdentity(serverId, DaemonKeyPairFile.Load(home.DaemonKeyPairFile));
    }

    /// <summary>
    /// Replaces both files with a new server id and keypair, so every offer made before stops working: the old id no
    /// longer routes to this daemon and the old public key no longer opens its frames. PASEO_SERVER_ID, when set, still
    /// overrides the id that is used (the caller warns about it).
    /// </summary>
    public static DaemonIdentity Rotate(PaseoHome home, IReadOnlyDictionary<string, string?> env)
    {
        home.EnsureExists();
        var pair = BoxKeyPair.Generate();
        var serverId = ServerId.New();
        // Key first: a crash between the two writes leaves a new key under the old id, which still invalidates old offers.
        DaemonKeyPairFile.Write(home.DaemonKeyPairFile, pair);
        Files.PrivateFiles.WriteAtomically(home.ServerIdFile, serverId.Value + "\n");
        // The client keys remembered under the old keypair mean nothing under the new one.
        if (File.Exists(home.ClientKeyLedgerFile)) File.Delete(home.ClientKeyLedgerFile);
        return LoadOrCreate(home, env);
    }
}
