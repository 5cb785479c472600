using System.Text;
using System.Text.Json;
using Paseo.Transport.Pairing;

namespace Paseo.Transport.Tests.Pairing;

public sealed class ConnectionOfferTests
{
    private static readonly JsonElement Vector = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "e2ee.json"))).RootElement.GetProperty("offer");
    private const string VectorKey = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";

    private static readonly ConnectionOffer VectorOffer = new(Vector.GetProperty("serverId").GetString()!, VectorKey, "relay.paseo.sh:443");

    [Fact]
    public void The_offer_json_and_url_match_the_vector_byte_for_byte()
    {
        Assert.Equal(Vector.GetProperty("json").GetString(), VectorOffer.ToJson());
        Assert.Equal(Vector.GetProperty("url").GetString(), VectorOffer.ToUrl("https://app.paseo.sh"));
        Assert.Equal(Vector.GetProperty("url").GetString(), VectorOffer.ToUrl("https://app.paseo.sh/"));
    }

    [Fact]
    public void The_vector_url_parses_back_to_the_offer()
    {
        Assert.Equal(VectorOffer, ConnectionOffer.ParseUrl(Vector.GetProperty("url").GetString()!));
        // Anywhere in the text, with whitespace around it, as Paseo's scanner reads it.
        Assert.Equal(VectorOffer, ConnectionOffer.ParseUrl("open this: http://x/y/#offer=" + Vector.GetProperty("url").GetString()!.Split("#offer=")[1] + "  \n"));
    }

    [Fact]
    public void Use_tls_is_written_only_when_known_and_read_back()
    {
        var withTls = VectorOffer with { RelayEndpoint = "relay.example.net:443", RelayUseTls = true };
        Assert.EndsWith("\"relay\":{\"endpoint\":\"relay.example.net:443\",\"useTls\":true}}", withTls.ToJson());
        Assert.Equal(withTls, ConnectionOffer.ParseUrl(withTls.ToUrl("https://app.example.net")));
        Assert.DoesNotContain("useTls", VectorOffer.ToJson());
    }

    [Fact]
    public void Unknown_keys_are_ignored_as_paseos_schema_strips_them()
    {
        var json = "{\"v\":2,\"serverId\":\"srv_x\",\"daemonPublicKeyB64\":\"k\",\"relay\":{\"endpoint\":\"h:1\",\"x\":1},\"endpoints\":[]}";
        Assert.Equal(new ConnectionOffer("srv_x", "k", "h:1"), ConnectionOffer.ParseJson(json));
    }

    public static TheoryData<string, string> BadLinks => new()
    {
        { "https://app.paseo.sh/", "no '#offer=' part" },
        { "https://app.paseo.sh/#offer=%%%%", "not base64url" },
        { "https://app.paseo.sh/#offer=A", "not base64url" },
        { "https://app.paseo.sh/#offer=" + Encode("not json"), "not JSON" },
        { "https://app.paseo.sh/#offer=" + Convert.ToBase64String([0xff, 0xfe, 0x7b]).TrimEnd('='), "not UTF-8" },
        { "https://app.paseo.sh/#offer=" + Encode("{\"v\":3,\"serverId\":\"s\",\"daemonPublicKeyB64\":\"k\",\"relay\":{\"endpoint\":\"h:1\"}}"), "\"v\" must be 2" },
        { "https://app.paseo.sh/#offer=" + Encode("{\"v\":2,\"daemonPublicKeyB64\":\"k\",\"relay\":{\"endpoint\":\"h:1\"}}"), "\"serverId\" must be a non-empty string" },
        { "https://app.paseo.sh/#offer=" + Encode("{\"v\":2,\"serverId\":\"s\",\"daemonPublicKeyB64\":\"\",\"relay\":{\"endpoint\":\"h:1\"}}"), "\"daemonPublicKeyB64\" must be" },
        { "https://app.paseo.sh/#offer=" + Encode("{\"v\":2,\"serverId\":\"s\",\"daemonPublicKeyB64\":\"k\"}"), "no \"relay\" object" },
        { "https://app.paseo.sh/#offer=" + Encode("{\"v\":2,\"serverId\":\"s\",\"daemonPublicKeyB64\":\"k\",\"relay\":{}}"), "\"relay.endpoint\" must be" },
    };

    [Theory]
    [MemberData(nameof(BadLinks))]
    public void A_bad_link_is_refused_with_its_reason(string url, string expected)
    {
        var error = Assert.Throws<OfferFormatException>(() => ConnectionOffer.ParseUrl(url));
        Assert.Contains(expected, error.Message);
    }

    private static string Encode(string json) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
