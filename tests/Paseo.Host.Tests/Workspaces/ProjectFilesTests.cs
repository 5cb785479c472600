using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Workspaces;

/// <summary>The project picker and the composer's @ (directory_suggestions), project icons and paseo.json (app-workspaces.md §2.8, §2.9, §2.12).</summary>
public sealed class ProjectFilesTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _home = null!;

    public async Task InitializeAsync()
    {
        var home = new TestHome();
        _home = home.PathIn("user");
        foreach (var dir in new[] { "code/shop/src/cart", "code/shop/node_modules/left-pad", "code/shop/.git", "code/tools", "notes/shopping", ".secret/shop" })
            Directory.CreateDirectory(Path.Combine(_home, dir));
        File.WriteAllText(Path.Combine(_home, "code/shop/src/cart/cart.ts"), "x");
        File.WriteAllText(Path.Combine(_home, "code/shop/README.md"), "x");
        // A link out of the home directory is not followed.
        File.CreateSymbolicLink(Path.Combine(_home, "code/outside"), "/usr");
        _daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?> { ["HOME"] = _home }, existingHome: home);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
        _daemon.TestHome.Dispose();
    }

    private async Task<JsonObject> Suggest(JsonObject fields) =>
        ProtocolClient.Payload(await _client.RequestAsync("directory_suggestions_request", fields), "directory_suggestions_response") ?? throw new Xunit.Sdk.XunitException(_client.Received.Last().ToJsonString());

    [Fact]
    public async Task The_project_picker_searches_directories_under_home_ranked_and_bounded()
    {
        var found = await Suggest(new JsonObject { ["query"] = "shop", ["includeDirectories"] = true, ["includeFiles"] = false, ["limit"] = 30 });
        Assert.Null(found["error"]);
        var directories = found["directories"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        // An exact segment first; hidden and outside-home paths never.
        Assert.Equal(Path.Combine(_home, "code/shop"), directories[0]);
        Assert.Contains(Path.Combine(_home, "notes/shopping"), directories);
        Assert.DoesNotContain(directories, d => d.Contains("/.secret") || d.Contains("/.git") || d.StartsWith("/usr"));
        Assert.All(found["entries"]!.AsArray(), e => Assert.Equal("directory", e!["kind"]!.GetValue<string>()));

        var browse = await Suggest(new JsonObject { ["query"] = "~/code/" });
        Assert.Equal(new[] { "shop", "tools" }, browse["directories"]!.AsArray().Select(d => Path.GetFileName(d!.GetValue<string>())).Order().ToArray());
        Assert.Empty((await Suggest(new JsonObject { ["query"] = "   " }))["directories"]!.AsArray());
        Assert.Empty((await Suggest(new JsonObject { ["query"] = "/usr/" }))["directories"]!.AsArray());
        var tooMany = await _client.RequestAsync("directory_suggestions_request", new JsonObject { ["query"] = "x", ["limit"] = 101 });
        Assert.Equal("unknown_schema", tooMany["message"]!["payload"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_composer_lists_files_and_directories_relative_to_the_agent_directory()
    {
        var shop = Path.Combine(_home, "code/shop");
        var found = await Suggest(new JsonObject { ["query"] = "cart", ["cwd"] = shop, ["includeFiles"] = true, ["includeDirectories"] = true, ["limit"] = 50 });
        var entries = found["entries"]!.AsArray().Select(e => $"{e!["kind"]}:{e["path"]}").ToList();
        Assert.Equal(new[] { "directory:src/cart", "file:src/cart/cart.ts" }, entries);
        Assert.Equal(new[] { "src/cart" }, found["directories"]!.AsArray().Select(d => d!.GetValue<string>()).ToArray());
        var top = await Suggest(new JsonObject { ["query"] = "", ["cwd"] = shop, ["includeFiles"] = true });
        Assert.Equal(new[] { "README.md", "src" }, top["entries"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToArray());
        var escape = await Suggest(new JsonObject { ["query"] = "../../", ["cwd"] = shop, ["includeFiles"] = true });
        Assert.Empty(escape["entries"]!.AsArray());
        var missing = await Suggest(new JsonObject { ["query"] = "x", ["cwd"] = Path.Combine(_home, "nowhere") });
        Assert.Contains("does not exist", missing["error"]!.GetValue<string>());
        Assert.Empty(missing["entries"]!.AsArray());
    }

    [Fact]
    public async Task A_directory_of_100_000_files_is_searched_in_bounded_time_and_answer()
    {
        var big = Path.Combine(_home, "big");
        Directory.CreateDirectory(big);
        for (var i = 0; i < 100_000; i++) File.Create(Path.Combine(big, $"file-{i:D6}.txt")).Dispose();
        // Answered within the client's wait (15 s) although the directory holds twice paseo.workspaces.suggestions.max-entries.
        var found = await Suggest(new JsonObject { ["query"] = "file-0999", ["cwd"] = big, ["includeFiles"] = true, ["limit"] = 100 });
        Assert.Null(found["error"]);
        // At most max-entries (50 000) names are looked at: the answer is what those held, and it is bounded by the limit.
        Assert.InRange(found["entries"]!.AsArray().Count, 1, 100);
        var pong = await _client.RequestAsync("ping", new JsonObject());
        Assert.NotNull(ProtocolClient.Payload(pong, "pong"));
    }

    [Fact]
    public async Task Project_icons_are_found_where_projects_keep_them_and_only_when_small_and_square()
    {
        var web = Path.Combine(_home, "web");
        Directory.CreateDirectory(Path.Combine(web, "public"));
        Directory.CreateDirectory(Path.Combine(web, "src"));
        File.WriteAllBytes(Path.Combine(web, "src", "favicon.png"), Png(16, 16)); // src is skipped
        File.WriteAllBytes(Path.Combine(web, "public", "logo.png"), Png(64, 32)); // not square
        File.WriteAllBytes(Path.Combine(web, "public", "icon.png"), Png(32, 32));
        var icon = ProtocolClient.Payload(await _client.RequestAsync("project_icon_request", new JsonObject { ["cwd"] = web }), "project_icon_response")!;
        Assert.Null(icon["error"]);
        Assert.Equal("image/png", icon["icon"]!["mimeType"]!.GetValue<string>());
        Assert.Equal(Png(32, 32), Convert.FromBase64String(icon["icon"]!["data"]!.GetValue<string>()));
        Assert.Equal(web, icon["cwd"]!.GetValue<string>());
        var none = ProtocolClient.Payload(await _client.RequestAsync("project_icon_request", new JsonObject { ["cwd"] = Path.Combine(_home, "notes") }), "project_icon_response")!;
        Assert.Null(none["icon"]);
        Assert.Null(none["error"]);
    }

    private static byte[] Png(int width, int height)
    {
        var bytes = new byte[33];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R' }.CopyTo(bytes, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), (uint)width);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), (uint)height);
        return bytes;
    }

    [Fact]
    public async Task Paseo_json_is_read_and_written_against_its_revision()
    {
        var project = Path.Combine(_home, "code/tools");
        await _client.RequestAsync("open_project_request", new JsonObject { ["cwd"] = project });
        var read = ProtocolClient.Payload(await _client.RequestAsync("read_project_config_request", new JsonObject { ["repoRoot"] = project + "/" }), "read_project_config_response")!;
        Assert.True(read["ok"]!.GetValue<bool>());
        Assert.Null(read["config"]);
        Assert.True(read.ContainsKey("revision") && read["revision"] is null);
        Assert.Equal(project, read["repoRoot"]!.GetValue<string>());

        var config = new JsonObject { ["worktree"] = new JsonObject { ["setup"] = "npm ci" }, ["scripts"] = new JsonObject { ["web"] = new JsonObject { ["command"] = "npm run dev", ["type"] = "service" } }, ["custom"] = 1 };
        var written = ProtocolClient.Payload(await _client.RequestAsync("write_project_config_request", new JsonObject
        {
            ["repoRoot"] = project, ["config"] = config.DeepClone(), ["expectedRevision"] = null,
        }), "write_project_config_response")!;
        Assert.True(written["ok"]!.GetValue<bool>(), written.ToJsonString());
        var revision = written["revision"]!.AsObject();
        Assert.Equal(File.ReadAllText(Path.Combine(project, "paseo.json")).Length, revision["size"]!.GetValue<long>());
        Assert.EndsWith("\n", File.ReadAllText(Path.Combine(project, "paseo.json")));
        Assert.Equal(1, JsonNode.Parse(File.ReadAllText(Path.Combine(project, "paseo.json")))!["custom"]!.GetValue<int>());

        // Someone else wrote it meanwhile: the stale revision is refused and the file kept.
        File.WriteAllText(Path.Combine(project, "paseo.json"), "{\"scripts\":{}}\n");
        var stale = ProtocolClient.Payload(await _client.RequestAsync("write_project_config_request", new JsonObject
        {
            ["repoRoot"] = project, ["config"] = config.DeepClone(), ["expectedRevision"] = revision.DeepClone(),
        }), "write_project_config_response")!;
        Assert.False(stale["ok"]!.GetValue<bool>());
        Assert.Equal("stale_project_config", stale["error"]!["code"]!.GetValue<string>());
        Assert.NotNull(stale["error"]!["currentRevision"]);
        Assert.Equal("{\"scripts\":{}}\n", File.ReadAllText(Path.Combine(project, "paseo.json")));
        Assert.Empty(Directory.GetFiles(project, ".paseo.json.*"));

        File.WriteAllText(Path.Combine(project, "paseo.json"), "{ not json");
        var invalid = ProtocolClient.Payload(await _client.RequestAsync("read_project_config_request", new JsonObject { ["repoRoot"] = project }), "read_project_config_response")!;
        Assert.Equal("invalid_project_config", invalid["error"]!["code"]!.GetValue<string>());
        var unknown = ProtocolClient.Payload(await _client.RequestAsync("read_project_config_request", new JsonObject { ["repoRoot"] = "/not/a/project" }), "read_project_config_response")!;
        Assert.Equal("project_not_found", unknown["error"]!["code"]!.GetValue<string>());
        Assert.Equal("/not/a/project", unknown["repoRoot"]!.GetValue<string>());
        foreach (var bad in new JsonObject[]
                 {
                     new() { ["repoRoot"] = project, ["config"] = new JsonObject() },
                     new() { ["repoRoot"] = project, ["config"] = new JsonObject { ["worktree"] = new JsonObject { ["setup"] = 5 } }, ["expectedRevision"] = null },
                 })
        {
            var refused = await _client.RequestAsync("write_project_config_request", bad);
            Assert.Equal("unknown_schema", refused["message"]!["payload"]!["code"]!.GetValue<string>());
        }
    }
}
