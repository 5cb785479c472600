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
}
