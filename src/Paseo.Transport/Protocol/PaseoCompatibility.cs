namespace Paseo.Transport.Protocol;

/// <summary>Which Paseo this implementation speaks.</summary>
public static class PaseoCompatibility
{
    /// <summary>
    /// The Paseo release whose protocol our clients speak, announced as `appVersion` in their hello: a Paseo daemon treats a
    /// client older than 0.1.45 as legacy and hides every provider but claude, codex and opencode from it.
    /// </summary>
    public const string ProtocolVersion = "0.1.65";
}
