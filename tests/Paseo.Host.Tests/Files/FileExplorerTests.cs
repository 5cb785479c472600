using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Paseo.Host.Tests.FrontDoor;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Files;

/// <summary>The file explorer and downloads (app-workspaces.md §6.1, §6.3) over a real socket and the daemon's HTTP listener.</summary>
public sealed class FileExplorerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _cwd = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync(time: _time, extraHocon: "paseo.files.max-read-bytes = 8m\n");
        _cwd = _daemon.TestHome.PathIn("shop");
        Directory.CreateDirectory(Path.Combine(_cwd, "src"));
        File.WriteAllText(Path.Combine(_cwd, "README.md"), "# Shop\n");
        File.WriteAllText(Path.Combine(_cwd, "package.json"), "{\"name\":\"shop\"}");
        File.WriteAllBytes(Path.Combine(_cwd, "logo.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        File.WriteAllBytes(Path.Combine(_cwd, "data.bin"), [0, 1, 2, 3, 4]);
        File.WriteAllBytes(Path.Combine(_cwd, "big.txt"), new byte[9 << 20]);
        File.WriteAllText(_daemon.TestHome.PathIn("secret.txt"), "not yours\n");
        File.CreateSymbolicLink(Path.Combine(_cwd, "escape"), _daemon.TestHome.PathIn("secret.txt"));
        File.CreateSymbolicLink(Path.Combine(_cwd, "dangling"), Path.Combine(_cwd, "gone"));
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> Explore(string mode, string? path, bool acceptBinary = false)
    {
        var fields = new JsonObject { ["cwd"] = _cwd, ["mode"] = mode };
        if (path is not null) fields["path"] = path;
        if (acceptBinary) fields["acceptBinary"] = true;
        var payload = ProtocolClient.Payload(await _client.RequestAsync("file_explorer_request", fields), "file_explorer_response")!;
        Assert.Equal(new[] { "cwd", "path", "mode", "directory", "file", "error", "requestId" }, payload.Select(p => p.Key).ToArray());
        return payload;
    }

    [Fact]
    public async Task List_and_read_text_images_and_binary_files()
    {
        var root = await Explore("list", null);
        Assert.Null(root["error"]);
        Assert.Equal(".", root["path"]!.GetValue<string>());
        var entries = root["directory"]!["entries"]!.AsArray().ToDictionary(e => e!["name"]!.GetValue<string>(), e => e!.AsObject());
        Assert.Equal("directory", entries["src"]["kind"]!.GetValue<string>());
        Assert.Equal("file", entries["escape"]["kind"]!.GetValue<string>()); // a link counts as a file
        Assert.False(entries.ContainsKey("dangling"));
        Assert.Equal(7, entries["README.md"]["size"]!.GetValue<long>());
        Assert.Equal(9 << 20, entries["big.txt"]["size"]!.GetValue<long>());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", entries["README.md"]["modifiedAt"]!.GetValue<string>());

        var readme = (await Explore("file", "README.md"))["file"]!;
        Assert.Equal(("text", "utf-8", "# Shop\n", "text/plain"), (readme["kind"]!.GetValue<string>(), readme["encoding"]!.GetValue<string>(), readme["content"]!.GetValue<string>(), readme["mimeType"]!.GetValue<string>()));
        Assert.Equal("application/json", (await Explore("file", "./package.json"))["file"]!["mimeType"]!.GetValue<string>());
        var logo = (await Explore("file", "logo.png"))["file"]!;
        Assert.Equal("base64", logo["encoding"]!.GetValue<string>());
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 }, Convert.FromBase64String(logo["content"]!.GetValue<string>()));
        var binary = (await Explore("file", "data.bin"))["file"]!.AsObject();
        Assert.Equal("none", binary["encoding"]!.GetValue<string>());
        Assert.False(binary.ContainsKey("content"));
        Assert.Contains("paseo.files.max-read-bytes", (await Explore("file", "big.txt"))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Escapes_and_wrong_kinds_are_refused_with_the_specs_errors()
    {
        foreach (var path in new[] { "..", "../secret.txt", "src/../../secret.txt", "/etc/passwd", "escape" })
        {
            var refused = await Explore("file", path);
            Assert.Equal("Access outside of workspace is not allowed", refused["error"]!.GetValue<string>());
            Assert.Null(refused["file"]);
            Assert.Equal(path, refused["path"]!.GetValue<string>());
        }
        Assert.Equal("Requested path is not a directory", (await Explore("list", "README.md"))["error"]!.GetValue<string>());
        Assert.Equal("Requested path is not a file", (await Explore("file", "src"))["error"]!.GetValue<string>());
        Assert.StartsWith("ENOENT: no such file or directory", (await Explore("file", "missing.txt"))["error"]!.GetValue<string>());
        var blank = ProtocolClient.Payload(await _client.RequestAsync("file_explorer_request", new JsonObject { ["cwd"] = "  ", ["mode"] = "list" }), "file_explorer_response")!;
        Assert.Equal("cwd is required", blank["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_acceptBinary_a_file_comes_as_file_transfer_frames_and_no_JSON_reply()
    {
        var content = new byte[(3 << 20) + 17];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(Path.Combine(_cwd, "src", "blob.bin"), content);
        var requestId = await _client.SendSessionAsync("file_explorer_request", new JsonObject { ["cwd"] = _cwd, ["path"] = "src/blob.bin", ["mode"] = "file", ["acceptBinary"] = true });
        var begin = Paseo.Transport.Protocol.BinaryFrames.ReadFile(await _client.NextBinaryAsync())!.Value;
        Assert.Equal((Paseo.Transport.Protocol.BinaryFrames.FileBegin, requestId), (begin.Kind, begin.RequestId));
        Assert.Equal(content.Length, begin.Meta!["size"]!.GetValue<long>());
        Assert.Equal("binary", begin.Meta["encoding"]!.GetValue<string>());
        Assert.Equal("application/octet-stream", begin.Meta["mime"]!.GetValue<string>());
        var received = new MemoryStream();
        while (true)
        {
            var frame = Paseo.Transport.Protocol.BinaryFrames.ReadFile(await _client.NextBinaryAsync())!.Value;
            Assert.Equal(requestId, frame.RequestId);
            if (frame.Kind == Paseo.Transport.Protocol.BinaryFrames.FileEnd) break;
            received.Write(frame.Bytes.Span);
        }
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(received.ToArray()));
        Assert.NotNull(await _client.RequestAsync("ping", new JsonObject()));
        Assert.DoesNotContain(_client.Received, f => ProtocolClient.Payload(f, "file_explorer_response")?["requestId"]?.GetValue<string>() == requestId);

        // Errors still come as the JSON reply.
        var missing = ProtocolClient.Payload(await _client.RequestAsync("file_explorer_request", new JsonObject
        {
            ["cwd"] = _cwd, ["path"] = "nope.bin", ["mode"] = "file", ["acceptBinary"] = true,
        }), "file_explorer_response")!;
        Assert.StartsWith("ENOENT", missing["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Special_files_loops_and_a_link_swapped_in_after_the_token_are_refused()
    {
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(_cwd, "pipe"))!) await mkfifo.WaitForExitAsync();
        File.CreateSymbolicLink(Path.Combine(_cwd, "loop"), Path.Combine(_cwd, "loop"));
        // A FIFO would block the read for ever: refused before it is opened; the listing leaves the loop out and goes on.
        Assert.Equal("Requested path is not a regular file", (await Explore("file", "pipe"))["error"]!.GetValue<string>());
        Assert.Equal("Requested path is not a regular file", (await Token("pipe"))["error"]!.GetValue<string>());
        var listed = (await Explore("list", null))["directory"]!["entries"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("README.md", listed);
        Assert.DoesNotContain("loop", listed);

        File.WriteAllText(Path.Combine(_cwd, "report.txt"), "quarterly\n");
        File.WriteAllText(Path.Combine(_cwd, "résumé.md"), "cv\n");
        var report = await Token("report.txt");
        File.Delete(Path.Combine(_cwd, "report.txt"));
        File.CreateSymbolicLink(Path.Combine(_cwd, "report.txt"), _daemon.TestHome.PathIn("secret.txt"));
        using var http = _daemon.Http();
        using (var swapped = await http.GetAsync($"/api/files/download?token={report["token"]!.GetValue<string>()}"))
            Assert.Equal(HttpStatusCode.NotFound, swapped.StatusCode);
        var accented = await Token("résumé.md");
        using var download = await http.GetAsync($"/api/files/download?token={accented["token"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("résumé.md", download.Content.Headers.ContentDisposition!.FileNameStar);
        Assert.Equal("cv\n", await download.Content.ReadAsStringAsync());
    }

    private async Task<JsonObject> Token(string path) =>
        ProtocolClient.Payload(await _client.RequestAsync("file_download_token_request", new JsonObject { ["cwd"] = _cwd, ["path"] = path }), "file_download_token_response")!;

    [Fact]
    public async Task A_download_token_serves_the_file_once_and_not_after_it_expires()
    {
        var big = new byte[3 << 20];
        Random.Shared.NextBytes(big);
        File.WriteAllBytes(Path.Combine(_cwd, "src", "archive \"v1\".bin"), big);
        var token = await Token("src/archive \"v1\".bin");
        Assert.Null(token["error"]);
        Assert.Equal("src/archive \"v1\".bin", token["path"]!.GetValue<string>());
        Assert.Equal("application/octet-stream", token["mimeType"]!.GetValue<string>());
        Assert.Equal(big.Length, token["size"]!.GetValue<long>());

        using var http = _daemon.Http();
        var url = $"/api/files/download?token={token["token"]!.GetValue<string>()}";
        using (var response = await http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("archive _v1_.bin", response.Content.Headers.ContentDisposition!.FileNameStar);
            Assert.Equal(big.Length, response.Content.Headers.ContentLength);
            Assert.Equal(SHA256.HashData(big), SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));
        }
        using (var again = await http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.Forbidden, again.StatusCode);
            Assert.Contains("Invalid or expired token", await again.Content.ReadAsStringAsync());
        }
        var late = await Token("README.md");
        _time.Advance(TimeSpan.FromSeconds(61));
        using (var expired = await http.GetAsync($"/api/files/download?token={late["token"]!.GetValue<string>()}"))
            Assert.Equal(HttpStatusCode.Forbidden, expired.StatusCode);
        using (var missing = await http.GetAsync("/api/files/download"))
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal("Access outside of workspace is not allowed", (await Token("escape"))["error"]!.GetValue<string>());
        Assert.Equal("Requested path is not a file", (await Token("src"))["error"]!.GetValue<string>());
    }
}

/// <summary>Downloads sit behind the front door's password like every route.</summary>
public sealed class FileDownloadPasswordTests(PasswordProtectedDaemonFixture fixture) : IClassFixture<PasswordProtectedDaemonFixture>
{
    [Fact]
    public async Task Without_the_password_a_download_is_refused_before_the_token_is_looked_at()
    {
        using var http = fixture.Daemon.Http();
        using var response = await http.GetAsync("/api/files/download?token=anything");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
