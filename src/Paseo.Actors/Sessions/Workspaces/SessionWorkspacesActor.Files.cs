using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Files;
using Paseo.Transport.Git;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Paseo.Transport.Workspaces;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Sessions.Workspaces;

/// <summary>A session's requests about a directory's contents: suggestions, project icons, paseo.json, the file explorer and downloads.</summary>
public sealed partial class SessionWorkspacesActor
{
    // ---- directory suggestions, icons, paseo.json ---------------------------------------------------------------------

    private void OnSuggestions(string requestId, RequestReader request)
    {
        var query = request.RequiredString("query");
        var cwd = request.OptionalString("cwd");
        var includeFiles = request.OptionalBool("includeFiles") ?? false;
        var includeDirectories = request.OptionalBool("includeDirectories") ?? true;
        var limit = request.OptionalInt("limit") ?? 30;
        if (limit is < 1 or > 100) throw new InvalidRequestException("limit must be from 1 to 100");
        var limits = _suggestionLimits;
        var home = _userHome;
        Task.Run(() => cwd is null
                ? DirectorySuggestions.UnderHome(home, query, (int)limit, limits)
                : DirectorySuggestions.InDirectory(WorkspacePaths.ExpandHome(cwd, home), query, includeFiles, includeDirectories, (int)limit, limits))
            .PipeTo(Self, success: found => new Built(WsOutbound.Session("directory_suggestions_response", new JsonObject
            {
                ["directories"] = new JsonArray([.. found.Where(f => f.IsDirectory).Select(f => (JsonNode)f.Path)]),
                ["entries"] = new JsonArray([.. found.Select(f => (JsonNode)new JsonObject { ["path"] = f.Path, ["kind"] = f.IsDirectory ? "directory" : "file" })]),
                ["error"] = null,
                ["requestId"] = requestId,
            })), failure: e => new Built(WsOutbound.Session("directory_suggestions_response", new JsonObject
            {
                ["directories"] = new JsonArray(), ["entries"] = new JsonArray(), ["error"] = e.GetBaseException().Message, ["requestId"] = requestId,
            })));
    }

    private void OnIcon(string requestId, string cwd)
    {
        Task.Run(() => ProjectIcons.Find(cwd)).PipeTo(Self, success: icon => new Built(WsOutbound.Session("project_icon_response", new JsonObject
        {
            ["cwd"] = cwd,
            ["icon"] = icon is { } found ? new JsonObject { ["data"] = Convert.ToBase64String(found.Data), ["mimeType"] = found.MimeType } : null,
            ["error"] = null,
            ["requestId"] = requestId,
        })), failure: e => new Built(WsOutbound.Session("project_icon_response", new JsonObject
        {
            ["cwd"] = cwd, ["icon"] = null, ["error"] = e.GetBaseException().Message, ["requestId"] = requestId,
        })));
    }

    /// <summary>The canonical root of a non-archived project equal to <paramref name="repoRoot"/>, or null (project_not_found).</summary>
    private string? ProjectRoot(string repoRoot)
    {
        var canonical = CheckoutFacts.RealPath(WorkspacePaths.Normalize(repoRoot));
        return _shared.Current.Projects.Values.Any(p => !p.Archived && (p.RootPath == canonical || CheckoutFacts.RealPath(p.RootPath) == canonical)) ? canonical : null;
    }

    private void OnReadConfig(string requestId, string repoRoot)
    {
        var root = ProjectRoot(repoRoot);
        if (root is null) { Answer(ConfigReply("read_project_config_response", requestId, repoRoot, new JsonObject { ["code"] = "project_not_found" })); return; }
        Task.Run(() => ProjectConfigFile.Read(root)).PipeTo(Self, success: outcome => new Built(outcome switch
        {
            ProjectConfigFile.Ok ok => WsOutbound.Session("read_project_config_response", new JsonObject
            {
                ["requestId"] = requestId, ["repoRoot"] = root, ["ok"] = true, ["config"] = ok.Config, ["revision"] = ok.Revision?.ToJson(),
            }),
            _ => ConfigReply("read_project_config_response", requestId, root, new JsonObject { ["code"] = "invalid_project_config" }),
        }), failure: _ => new Built(ConfigReply("read_project_config_response", requestId, root, new JsonObject { ["code"] = "invalid_project_config" })));
    }

    private void OnWriteConfig(string requestId, RequestReader request)
    {
        var repoRoot = request.RequiredPath("repoRoot");
        var config = request.OptionalObject("config") ?? throw new InvalidRequestException("config is required");
        if (!request.Message.ContainsKey("expectedRevision")) throw new InvalidRequestException("expectedRevision is required (null allowed)");
        ProjectConfigRevision? expected = null;
        if (request.OptionalObject("expectedRevision") is { } revision)
        {
            var r = RequestReader.Of(revision);
            if (revision["mtimeMs"] is not JsonValue m || !m.TryGetValue<double>(out var mtime)) throw new InvalidRequestException("expectedRevision.mtimeMs must be a number");
            expected = new ProjectConfigRevision(mtime, r.OptionalInt("size") ?? throw new InvalidRequestException("expectedRevision.size is required"));
        }
        if (ProjectConfigFile.Validate(config) is not null) throw new InvalidRequestException("config does not match the paseo.json schema");
        var root = ProjectRoot(repoRoot);
        if (root is null) { Answer(ConfigReply("write_project_config_response", requestId, repoRoot, new JsonObject { ["code"] = "project_not_found" })); return; }
        var copy = (JsonObject)config.DeepClone();
        Task.Run(() => ProjectConfigFile.Write(root, copy, expected)).PipeTo(Self, success: outcome => new Built(outcome switch
        {
            ProjectConfigFile.Ok ok => WrittenConfig(root, WsOutbound.Session("write_project_config_response", new JsonObject
            {
                ["requestId"] = requestId, ["repoRoot"] = root, ["ok"] = true, ["config"] = ok.Config!.DeepClone(), ["revision"] = ok.Revision!.ToJson(),
            })),
            ProjectConfigFile.Stale stale => ConfigReply("write_project_config_response", requestId, root, new JsonObject { ["code"] = "stale_project_config", ["currentRevision"] = stale.Current?.ToJson() }),
            ProjectConfigFile.Invalid => ConfigReply("write_project_config_response", requestId, root, new JsonObject { ["code"] = "invalid_project_config" }),
            _ => ConfigReply("write_project_config_response", requestId, root, new JsonObject { ["code"] = "write_failed" }),
        }), failure: _ => new Built(ConfigReply("write_project_config_response", requestId, root, new JsonObject { ["code"] = "write_failed" })));
    }

    // ---- files ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// file_explorer (§6.1), answered as JSON (the spec lets a server ignore acceptBinary; the file-transfer frames come with
    /// the binary channel of terminals). Read off this thread.
    /// </summary>
    private void OnFileExplorer(string requestId, RequestReader request)
    {
        var cwd = request.RequiredString("cwd");
        var path = request.OptionalString("path") ?? ".";
        var mode = request.OneOf("mode", ["list", "file"], "");
        if (mode.Length == 0) throw new InvalidRequestException("mode must be list or file");
        var acceptBinary = request.OptionalBool("acceptBinary") ?? false;
        var limits = _fileLimits;
        var home = _userHome;
        JsonObject Reply(string replyPath, JsonObject? directory, JsonObject? file, string? error) => new()
        {
            ["cwd"] = cwd, ["path"] = replyPath, ["mode"] = mode, ["directory"] = directory, ["file"] = file, ["error"] = error, ["requestId"] = requestId,
        };
        Task.Run(() =>
        {
            try
            {
                var (absolute, relative) = FileExplorer.Resolve(cwd, path, home);
                if (mode == "list") return (object)Reply(relative, FileExplorer.List(absolute, relative, limits), null, null);
                // What the app asks for: the file as file-transfer frames, and no JSON reply (§6.1).
                if (acceptBinary) return FileExplorer.Frames(requestId, absolute, limits);
                return Reply(relative, null, FileExplorer.Read(absolute, relative, limits), null);
            }
            catch (Exception e) when (e is FileExplorerException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                return Reply(path, null, null, e.Message);
            }
        }).PipeTo(Self, success: answer => answer is JsonObject payload
                ? new Built(WsOutbound.Session("file_explorer_response", payload))
                : new FramesBuilt((IReadOnlyList<byte[]>)answer),
            failure: e => new Built(WsOutbound.Session("file_explorer_response", Reply(path, null, null, e.GetBaseException().Message))));
    }

    /// <summary>file_download_token (§6.3): a single-use token for GET /api/files/download, valid paseo.files.download-token-lifetime.</summary>
    private void OnDownloadToken(string requestId, RequestReader request)
    {
        var cwd = request.RequiredString("cwd");
        var path = request.RequiredString("path");
        var downloads = _downloads;
        var home = _userHome;
        JsonObject Reply(string replyPath, string? token, string? fileName, string? mime, long? size, string? error) => new()
        {
            ["cwd"] = cwd, ["path"] = replyPath, ["token"] = token, ["fileName"] = fileName, ["mimeType"] = mime, ["size"] = size, ["error"] = error, ["requestId"] = requestId,
        };
        Task.Run(() =>
        {
            try
            {
                if (downloads is null) throw new FileExplorerException("Downloads are not available on this daemon");
                var (absolute, relative) = FileExplorer.Resolve(cwd, path, home);
                var info = new FileInfo(absolute);
                if (!info.Exists) throw new FileExplorerException(Directory.Exists(absolute) ? "Requested path is not a file" : $"ENOENT: no such file or directory, stat '{absolute}'");
                if (UnixFiles.IsRegularFile(absolute) == false) throw new FileExplorerException("Requested path is not a regular file");
                var head = new byte[Math.Min(8192, info.Length)];
                using (var stream = info.OpenRead()) stream.ReadExactly(head);
                var (_, mime) = FileExplorer.Classify(absolute, head);
                // The real path it was issued for: the download serves that file or nothing (a link swapped in meanwhile is refused).
                return Reply(relative, downloads.Issue(absolute, info.Name, mime, info.Length, UnixFiles.RealPath(absolute)), info.Name, mime, info.Length, null);
            }
            catch (Exception e) when (e is FileExplorerException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                return Reply(path, null, null, null, null, e.Message);
            }
        }).PipeTo(Self, success: payload => new Built(WsOutbound.Session("file_download_token_response", payload)),
            failure: e => new Built(WsOutbound.Session("file_download_token_response", Reply(path, null, null, null, null, e.GetBaseException().Message))));
    }

    /// <summary>paseo.json was written: the workspaces under it read their scripts again.</summary>
    private string WrittenConfig(string root, string reply)
    {
        _scripts.Tell(new ScriptsActor.ReloadScripts(root));
        return reply;
    }

    private static string ConfigReply(string type, string requestId, string repoRoot, JsonObject error) =>
        WsOutbound.Session(type, new JsonObject { ["requestId"] = requestId, ["repoRoot"] = repoRoot, ["ok"] = false, ["error"] = error });

    private static List<(string Key, string Direction)> ReadSort(RequestReader request)
    {
        var result = new List<(string, string)>();
        if (request.OptionalArray("sort") is not { } sort) return [("activity_at", "desc")];
        foreach (var node in sort)
        {
            if (node is not JsonObject entry) throw new InvalidRequestException("sort entries must be objects");
            var reader = RequestReader.Of(entry);
            var key = reader.OneOf("key", SortKeys, "");
            var direction = reader.OneOf("direction", ["asc", "desc"], "");
            if (key.Length == 0 || direction.Length == 0) throw new InvalidRequestException("sort entries need a known key and a direction");
            if (result.All(r => r.Item1 != key)) result.Add((key, direction));
        }
        return result.Count == 0 ? [("activity_at", "desc")] : result;
    }
}
