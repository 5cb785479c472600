using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paseo.Transport.Protocol.Requests;

/// <summary>A session message does not match its schema: answered with rpc_error `unknown_schema` (as Paseo) and logged with the reason.</summary>
public sealed class InvalidRequestException(string reason) : Exception(reason);

/// <summary>A well-formed request beyond a limit of paseo.hocon: answered with rpc_error <paramref name="code"/> and the reason.</summary>
public sealed class RequestLimitException(string code, string reason) : Exception(reason)
{
    public string Code { get; } = code;
}

/// <summary>Typed, strict reads of one inbound session message's flat fields (app-schemas.md §A.3, §F).</summary>
public readonly struct RequestReader(JsonObject message)
{
    public JsonObject Message => message;

    public string RequiredString(string key) =>
        OptionalString(key) ?? throw new InvalidRequestException($"{key} is required and must be a string");

    public string? OptionalString(string key) => message[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new InvalidRequestException($"{key} must be a string"),
    };

    /// <summary>A key that must be present, whose value may be null.</summary>
    public string? RequiredNullableString(string key)
    {
        if (!message.ContainsKey(key)) throw new InvalidRequestException($"{key} is required (it may be null)");
        return message[key] is null ? null : OptionalString(key);
    }

    public bool? OptionalBool(string key) => message[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw new InvalidRequestException($"{key} must be a boolean"),
    };

    public long? OptionalInt(string key) => message[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) => n,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
        _ => throw new InvalidRequestException($"{key} must be an integer"),
    };

    public JsonObject? OptionalObject(string key) => message[key] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw new InvalidRequestException($"{key} must be an object"),
    };

    public JsonArray? OptionalArray(string key) => message[key] switch
    {
        null => null,
        JsonArray a => a,
        _ => throw new InvalidRequestException($"{key} must be an array"),
    };

    public IReadOnlyDictionary<string, string>? OptionalLabels(string key)
    {
        if (OptionalObject(key) is not { } labels) return null;
        var result = new Dictionary<string, string>();
        foreach (var (k, v) in labels)
        {
            if (v is not JsonValue value || value.GetValueKind() != JsonValueKind.String) throw new InvalidRequestException($"{key}.{k} must be a string");
            result[k] = value.GetValue<string>();
        }
        return result;
    }

    public string OneOf(string key, string[] allowed, string fallback)
    {
        var value = OptionalString(key);
        if (value is null) return fallback;
        return allowed.Contains(value) ? value : throw new InvalidRequestException($"{key} must be one of {string.Join(", ", allowed)}");
    }

    public static RequestReader Of(JsonObject obj) => new(obj);

    /// <summary>A paged fetch's `page: {limit, cursor?}`: the limit from 1 to <paramref name="max"/> (<paramref name="max"/> without a page).</summary>
    public (int Limit, string? Cursor) Page(int max = 200)
    {
        if (OptionalObject("page") is not { } page) return (max, null);
        var reader = Of(page);
        var limit = reader.OptionalInt("limit") ?? throw new InvalidRequestException("page.limit is required");
        if (limit < 1 || limit > max) throw new InvalidRequestException($"page.limit must be from 1 to {max}");
        return ((int)limit, reader.OptionalString("cursor"));
    }

    /// <summary>A path field: a non-blank string without NUL (a path that cannot name a directory is refused here, not deep in IO).</summary>
    public string RequiredPath(string key)
    {
        var path = RequiredString(key);
        return path.Trim().Length == 0 || path.Contains('\0') ? throw new InvalidRequestException($"{key} must be a path") : path;
    }
}
