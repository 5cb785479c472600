namespace Paseo.Transport.Configuration;

/// <summary>
/// The configuration cannot be used. The message names the source (file or variable), the key path and what
/// was expected; the daemon prints it and exits with code 2 without touching any file.
/// </summary>
public sealed class ConfigException(string message) : Exception(message)
{
    public const int ExitCode = 2;
}
