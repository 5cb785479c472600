using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Paseo.Transport.Pairing;

/// <summary>The pairing link could not be read. The message says what is wrong; nothing else is attempted.</summary>
public sealed class OfferFormatException(string message) : Exception(message);

/// <summary>
/// A pairing offer (relay-e2ee.md §4): what a phone needs to reach this daemon through a relay and to encrypt to it.
/// Serialized exactly as Paseo does — `{"v":2,"serverId","daemonPublicKeyB64","relay":{"endpoint"}}`, no whitespace —
/// and carried in the fragment of `&lt;appBaseUrl&gt;/#offer=&lt;base64url JSON&gt;`, which browsers never send to a server.
/// </summary>
public sealed record ConnectionOffer(string ServerId, string DaemonPublicKeyB64, string RelayEndpoint, bool? RelayUseTls = null)
{
    public const int Version = 2;
    public const string DefaultAppBaseUrl = "https://app.paseo.sh";
    private const string Marker = "#offer=";

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        // JSON.stringify escapes only quotes, backslashes and control characters; so does the relaxed encoder.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("v", Version);
            json.WriteString("serverId", ServerId);
            json.WriteString("daemonPublicKeyB64", DaemonPublicKeyB64);
            json.WriteStartObject("relay");
            json.WriteString("endpoint", RelayEndpoint);
            // Later Paseo trees add `relay.useTls`; older clients strip unknown keys, so it is written only when known.
            if (RelayUseTls is { } useTls) json.WriteBoolean("useTls", useTls);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>`&lt;appBaseUrl minus one trailing slash&gt;/#offer=&lt;base64url of the JSON, no padding&gt;`.</summary>
    public string ToUrl(string appBaseUrl)
    {
        var baseUrl = appBaseUrl.EndsWith('/') ? appBaseUrl[..^1] : appBaseUrl;
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(ToJson())).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{baseUrl}/{Marker}{encoded}";
    }

    /// <summary>
    /// Where a relay serves Paseo.NET's phone web client: `https://host` for an endpoint on port 443 (a relay behind TLS),
    /// `http://host:port` otherwise (a relay on a LAN, a tailnet or loopback).
    /// </summary>
    public static string WebClientBaseUrl(string relayEndpoint)
    {
        var colon = relayEndpoint.LastIndexOf(':');
        var host = colon > 0 ? relayEndpoint[..colon] : relayEndpoint;
        return colon > 0 && relayEndpoint[(colon + 1)..] == "443" ? $"https://{host}" : $"http://{relayEndpoint}";
    }

    /// <summary>True when the text carries an offer (`#offer=` anywhere), as Paseo's scanners decide.</summary>
    public static bool LooksLikeOfferUrl(string text) => text.Contains(Marker, StringComparison.Ordinal);

    /// <summary>Reads an offer from a pairing link the way Paseo's clients do; throws <see cref="OfferFormatException"/> with the reason.</summary>
    public static ConnectionOffer ParseUrl(string url)
    {
        var at = url.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0) throw new OfferFormatException("the link has no '#offer=' part");
        var encoded = url[(at + Marker.Length)..].Trim().Replace('-', '+').Replace('_', '/');
        if (encoded.Length % 4 == 1) throw new OfferFormatException("the offer is not base64url");
        encoded = encoded.PadRight(encoded.Length + (4 - encoded.Length % 4) % 4, '=');
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            throw new OfferFormatException("the offer is not base64url");
        }
        string json;
        try
        {
            json = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new OfferFormatException("the offer is not UTF-8 text");
        }
        return ParseJson(json);
    }

    public static ConnectionOffer ParseJson(string json)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(json);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new OfferFormatException($"the offer is not JSON ({e.Message})");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new OfferFormatException("the offer must be a JSON object");
        if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var version) || version != Version)
            throw new OfferFormatException($"the offer's \"v\" must be {Version}");
        var serverId = RequiredString(root, "serverId");
        var key = RequiredString(root, "daemonPublicKeyB64");
        if (!root.TryGetProperty("relay", out var relay) || relay.ValueKind != JsonValueKind.Object)
            throw new OfferFormatException("the offer has no \"relay\" object");
        var endpoint = RequiredString(relay, "endpoint", "relay.endpoint");
        bool? useTls = relay.TryGetProperty("useTls", out var tls) && tls.ValueKind is JsonValueKind.True or JsonValueKind.False ? tls.GetBoolean() : null;
        return new ConnectionOffer(serverId, key, endpoint, useTls);
    }

    private static string RequiredString(JsonElement obj, string name, string? path = null)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || value.GetString()!.Length == 0)
            throw new OfferFormatException($"the offer's \"{path ?? name}\" must be a non-empty string");
        return value.GetString()!;
    }
}
