using System.Security.Cryptography;
using System.Text;

namespace Paseo.Transport.Mcp;

/// <summary>
/// The per-agent credential of the agents' MCP server (app-orchestration.md §4.2): the entry injected into an agent's
/// provider carries <c>Authorization: Bearer &lt;token&gt;</c>, where the token is an HMAC of the agent's id under a key
/// the daemon draws at start and keeps in memory only. The endpoint recomputes it for the <c>callerAgentId</c> a request
/// names, so a caller cannot claim another agent's id (Paseo trusts the query parameter), and an agent's tools work
/// with a daemon password set (Paseo's injected entry carries no credential and gets 401). Nothing is stored: tokens
/// end with the daemon process, as the agent CLIs that hold them do.
/// </summary>
public sealed class McpAgentCredentials
{
    private const string Prefix = "pma_";
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string TokenFor(string agentId) => Prefix + Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("paseo-mcp-agent\n" + agentId)));

    /// <summary>True when <paramref name="token"/> is the credential of <paramref name="agentId"/> (compared in constant time).</summary>
    public bool Verify(string agentId, string? token) =>
        token is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(TokenFor(agentId)), Encoding.ASCII.GetBytes(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
