using Paseo.Transport.Files;

namespace Paseo.Host.FrontDoor;

/// <summary>
/// `GET /api/files/download?token=…` (app-workspaces.md §6.3), behind the front door's rules like every route: the file a
/// single-use token was issued for, streamed (never read whole), with the size recorded in the token.
/// </summary>
public static class FileDownloads
{
    public const string Path = "/api/files/download";

    public static async Task ServeAsync(HttpContext http, DownloadTokens downloads)
    {
        var token = http.Request.Query["token"].ToString();
        if (string.IsNullOrWhiteSpace(token))
        {
            await JsonResponses.Error(http, StatusCodes.Status400BadRequest, "Missing download token");
            return;
        }
        if (downloads.Redeem(token) is not { } grant)
        {
            await JsonResponses.Error(http, StatusCodes.Status403Forbidden, "Invalid or expired token");
            return;
        }
        FileStream stream;
        try
        {
            if (!File.Exists(grant.Path) || (File.GetAttributes(grant.Path) & FileAttributes.Directory) != 0 || UnixFiles.IsRegularFile(grant.Path) == false
                || (grant.RealPath is not null && UnixFiles.RealPath(grant.Path) != grant.RealPath))
            {
                await JsonResponses.Error(http, StatusCodes.Status404NotFound, "File not found");
                return;
            }
            stream = new FileStream(grant.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await JsonResponses.Error(http, StatusCodes.Status500InternalServerError, "Failed to read file");
            return;
        }
        await using (stream)
        {
            var name = grant.FileName.Replace('"', '_').Replace('\r', '_').Replace('\n', '_').Replace('\\', '_');
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = grant.MimeType;
            // An ASCII name plus filename* (RFC 6266) for the rest: a header may carry no other character.
            var disposition = new Microsoft.Net.Http.Headers.ContentDispositionHeaderValue("attachment");
            disposition.SetHttpFileName(name);
            http.Response.Headers.ContentDisposition = disposition.ToString();
            http.Response.ContentLength = grant.Size;
            // Exactly the recorded size: a file that grew is cut there, one that shrank ends the response early (the client sees it short).
            var buffer = new byte[64 * 1024];
            var left = grant.Size;
            while (left > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), http.RequestAborted);
                if (read == 0) break;
                await http.Response.Body.WriteAsync(buffer.AsMemory(0, read), http.RequestAborted);
                left -= read;
            }
        }
    }
}
