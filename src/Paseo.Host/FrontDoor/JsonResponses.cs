using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Paseo.Host.FrontDoor;

internal static class JsonResponses
{
    public static Task Write(HttpContext context, int status, object body)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }

    public static Task Error(HttpContext context, int status, string message) => Write(context, status, new { error = message });

    /// <summary>An ISO-8601 UTC timestamp with milliseconds, as JavaScript's Date.toISOString() writes it.</summary>
    public static string IsoNow(TimeProvider time) => time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
