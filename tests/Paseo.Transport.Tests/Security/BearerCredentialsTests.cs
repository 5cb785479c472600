using Paseo.Transport.Security;

namespace Paseo.Transport.Tests.Security;

public sealed class BearerCredentialsTests
{
    [Theory]
    [InlineData("Bearer secret", "secret")]
    [InlineData("Bearer a.b.c", "a.b.c")]
    [InlineData("Bearer   spaced", "spaced")]
    [InlineData("Bearer\tsecret", "secret")]
    [InlineData("bearer secret", null)]
    [InlineData("BEARER secret", null)]
    [InlineData("Basic c2VjcmV0", null)]
    [InlineData("Bearer", null)]
    [InlineData("Bearer ", null)]
    [InlineData(" Bearer secret", null)]
    [InlineData("Bearer secret ", null)]
    [InlineData("Bearer two tokens", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Authorization_header(string? header, string? token) =>
        Assert.Equal(token, BearerCredentials.FromAuthorizationHeader(header));

    [Theory]
    [InlineData(new[] { "paseo.bearer.secret" }, "paseo.bearer.secret", "secret")]
    [InlineData(new[] { "paseo.bearer.a.b.c" }, "paseo.bearer.a.b.c", "a.b.c")]
    [InlineData(new[] { "other", "paseo.bearer.x", "paseo.bearer.y" }, "paseo.bearer.x", "x")]
    [InlineData(new[] { " paseo.bearer.trim " }, "paseo.bearer.trim", "trim")]
    [InlineData(new[] { "paseo.bearer." }, "paseo.bearer.", "")]
    [InlineData(new[] { "paseo.bearer" }, null, null)]
    [InlineData(new[] { "paseo.token.x" }, null, null)]
    [InlineData(new[] { "Paseo.Bearer.x" }, null, null)]
    [InlineData(new string[0], null, null)]
    public void WebSocket_subprotocol(string[] requested, string? entry, string? token)
    {
        var found = BearerCredentials.FromSubprotocols(requested);
        Assert.Equal(entry, found?.Entry);
        Assert.Equal(token, found?.Token);
    }
}
