using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions.Workspaces;
using Paseo.Transport.Configuration;
using Paseo.Transport.Files;
using Paseo.Transport.Processes;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;

namespace Paseo.Actors.Sessions.Daemon;

/// <summary>
/// One session's questions about the daemon itself (`sessions/session-&lt;id&gt;/daemon`; app-workspaces.md §7): providers
/// (availability, modes, features, diagnostics, a snapshot refresh), the config clients may change, and editors. Like the
/// workspace child, it answers each <see cref="SessionRequestProtocol.Request"/> exactly once; daemon_config_changed goes to
/// every session through the event stream.
/// </summary>
public sealed class SessionDaemonRequestsActor : ReceiveActor
{
    public static readonly HashSet<string> Kinds =
    [
        "list_available_providers_request", "list_provider_modes_request", "list_provider_features_request", "provider_diagnostic_request",
        "refresh_providers_snapshot_request", "get_daemon_config_request", "set_daemon_config_request", "list_available_editors_request",
        "open_in_editor_request", "get_providers_snapshot_request", "list_provider_models_request",
    ];

    /// <summary>The editors Paseo offers, in its order: id, label, command (macOS/Windows-only targets are not offered on Linux).</summary>
    private static readonly (string Id, string Label, string Command)[] Editors =
        [("cursor", "Cursor", "cursor"), ("vscode", "VS Code", "code"), ("webstorm", "WebStorm", "webstorm"), ("zed", "Zed", "zed"), ("file-manager", "File Manager", "xdg-open")];

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IReadOnlyDictionary<string, IAgentProvider> _providers;
    private readonly string? _configPath;
    private readonly TimeSpan _listModelsTimeout;

    public SessionDaemonRequestsActor(IReadOnlyDictionary<string, IAgentProvider> providers, string? configPath, TimeSpan listModelsTimeout)
    {
        _providers = providers;
        _configPath = configPath;
        _listModelsTimeout = listModelsTimeout;
        Receive<SessionRequestProtocol.Request>(OnRequest);
        Receive<DaemonConfigChanged>(changed => Context.Parent.Tell(new SessionRequestProtocol.Pushed(WsOutbound.Status(new JsonObject
        {
            ["status"] = "daemon_config_changed", ["config"] = JsonNode.Parse(changed.ConfigJson),
        }))));
        Receive<Done>(done => Context.Parent.Tell(new SessionRequestProtocol.Answered(done.Json)));
    }

    public static Props Props(IReadOnlyDictionary<string, IAgentProvider> providers, string? configPath, TimeSpan listModelsTimeout) =>
        Akka.Actor.Props.Create(() => new SessionDaemonRequestsActor(providers, configPath, listModelsTimeout));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DaemonConfigChanged));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    /// <summary>Published after set_daemon_config changed config.json: every session tells its clients.</summary>
    public sealed record DaemonConfigChanged(string ConfigJson);

    private sealed record Done(string Json);

    private void Answer(string json) => Context.Parent.Tell(new SessionRequestProtocol.Answered(json));

    private void OnRequest(SessionRequestProtocol.Request request)
    {
        var requestId = request.RequestId!;
        var reader = RequestReader.Of(request.Message);
        try
        {
            switch (request.Type)
            {
                case "list_available_providers_request":
                    Availability(null, ChecksWait).PipeTo(Self,
                        success: known => new Done(WsOutbound.Session("list_available_providers_response", new JsonObject
                        {
                            ["providers"] = new JsonArray([.. _providers.Values.Select(p => known.Of(p.Description.Id) is { } a
                                ? (JsonNode)new JsonObject { ["provider"] = p.Description.Id, ["available"] = a.Status == "ready", ["error"] = a.Error }
                                : new JsonObject { ["provider"] = p.Description.Id, ["available"] = false, ["error"] = StillChecking(p.Description.Id) })]),
                            ["error"] = null, ["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow), ["requestId"] = requestId,
                        })),
                        failure: e => new Done(WsOutbound.Session("list_available_providers_response", new JsonObject
                        {
                            ["providers"] = new JsonArray(), ["error"] = e.GetBaseException().Message, ["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow), ["requestId"] = requestId,
                        })));
                    break;
                case "get_providers_snapshot_request":
                    // Stale availability checks run again first, waited for at most SnapshotWait (below the clients' 10 s).
                    Availability(null, SnapshotWait).ContinueWith(known => new Done(WsOutbound.Session("get_providers_snapshot_response", new JsonObject
                    {
                        ["entries"] = Entries(known.IsCompletedSuccessfully ? known.Result : null),
                        ["generatedAt"] = IsoTime.Format(DateTimeOffset.UtcNow),
                        ["requestId"] = requestId,
                    })), TaskScheduler.Default).PipeTo(Self,
                        failure: e => new Done(WsOutbound.RpcError(requestId, "get_providers_snapshot_request", $"Request failed: {e.GetBaseException().Message}", "handler_error")));
                    break;
                case "list_provider_models_request":
                    ListModels(requestId, reader.RequiredString("provider"), reader.OptionalString("cwd"));
                    break;
                case "list_provider_modes_request":
                {
                    var id = reader.RequiredString("provider");
                    reader.OptionalString("cwd");
                    var payload = new JsonObject { ["provider"] = id };
                    if (_providers.TryGetValue(id, out var provider)) payload["modes"] = new JsonArray([.. provider.Description.Modes.Select(m => (JsonNode)m.ToJson())]);
                    payload["error"] = provider is null ? $"Unknown provider: {id}" : null;
                    payload["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow);
                    payload["requestId"] = requestId;
                    Answer(WsOutbound.Session("list_provider_modes_response", payload));
                    break;
                }
                case "list_provider_features_request":
                {
                    var draft = reader.OptionalObject("draftConfig") ?? throw new InvalidRequestException("draftConfig is required");
                    var id = RequestReader.Of(draft).RequiredString("provider");
                    var known = _providers.ContainsKey(id);
                    Context.ActorSelection(ProvidersProtocol.Path).Ask<ProvidersProtocol.AvailabilitySnapshot>(ProvidersProtocol.GetAvailability.Instance, TimeSpan.FromSeconds(5))
                        .ContinueWith(snapshot =>
                        {
                            var payload = new JsonObject { ["provider"] = id };
                            var available = known && snapshot.IsCompletedSuccessfully && snapshot.Result.Of(id)?.Status == "ready";
                            // No provider here has toggleable features (set_agent_feature refuses them too): an available one has none.
                            if (available) payload["features"] = new JsonArray();
                            payload["error"] = !known ? $"Unknown provider: {id}" : available ? null : $"Provider '{id}' is not available. Please ensure the CLI is installed.";
                            payload["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow);
                            payload["requestId"] = requestId;
                            return new Done(WsOutbound.Session("list_provider_features_response", payload));
                        }, TaskScheduler.Default).PipeTo(Self,
                            failure: e => new Done(WsOutbound.RpcError(requestId, "list_provider_features_request", $"Request failed: {e.GetBaseException().Message}", "handler_error")));
                    break;
                }
                case "provider_diagnostic_request":
                {
                    var id = reader.RequiredString("provider");
                    if (!_providers.TryGetValue(id, out var provider))
                    {
                        Answer(WsOutbound.RpcError(requestId, request.Type, $"Failed to get provider diagnostic: Unknown provider: {id}", "provider_diagnostic_failed"));
                        break;
                    }
                    Availability([id], ChecksWait).PipeTo(Self,
                        success: known => known.Of(id) is { } availability
                            ? new Done(WsOutbound.Session("provider_diagnostic_response", new JsonObject
                            {
                                ["provider"] = id, ["diagnostic"] = Diagnostic(provider, availability), ["requestId"] = requestId,
                            }))
                            : new Done(WsOutbound.RpcError(requestId, "provider_diagnostic_request", $"Failed to get provider diagnostic: {StillChecking(id)}", "provider_diagnostic_failed")),
                        failure: e => new Done(WsOutbound.RpcError(requestId, "provider_diagnostic_request", $"Failed to get provider diagnostic: {e.GetBaseException().Message}", "provider_diagnostic_failed")));
                    break;
                }
                case "refresh_providers_snapshot_request":
                {
                    var cwd = reader.OptionalString("cwd");
                    var only = reader.OptionalArray("providers")?.Select(n => n is JsonValue v && v.TryGetValue<string>(out var id) ? id
                        : throw new InvalidRequestException("providers must be strings")).ToHashSet();
                    var chosen = _providers.Keys.Where(id => only is null || only.Contains(id)).ToList();
                    var parent = Context.Parent;
                    Answer(WsOutbound.Session("refresh_providers_snapshot_response", new JsonObject { ["requestId"] = requestId, ["acknowledged"] = true }));
                    // The new snapshot follows as providers_snapshot_update once every check has answered.
                    var entries = Entries;
                    Availability(chosen, ChecksWait).ContinueWith(known =>
                    {
                        var update = new JsonObject();
                        if (cwd is not null) update["cwd"] = cwd;
                        update["entries"] = entries(known.IsCompletedSuccessfully ? known.Result : null);
                        update["generatedAt"] = IsoTime.Format(DateTimeOffset.UtcNow);
                        parent.Tell(new SessionRequestProtocol.Pushed(WsOutbound.Session("providers_snapshot_update", update)));
                    }, TaskScheduler.Default);
                    break;
                }
                case "get_daemon_config_request":
                    ReadConfig(requestId);
                    break;
                case "set_daemon_config_request":
                    SetConfig(requestId, reader.OptionalObject("config") ?? throw new InvalidRequestException("config is required"));
                    break;
                case "list_available_editors_request":
                {
                    var (editors, error) = AvailableEditors();
                    Answer(WsOutbound.Session("list_available_editors_response", new JsonObject
                    {
                        ["requestId"] = requestId,
                        ["editors"] = new JsonArray([.. editors.Select(e => (JsonNode)new JsonObject { ["id"] = e.Id, ["label"] = e.Label })]),
                        ["error"] = error,
                    }));
                    break;
                }
                case "open_in_editor_request":
                    OpenInEditor(requestId, reader.RequiredPath("path"), reader.RequiredString("editorId"));
                    break;
                default:
                    Answer(WsOutbound.RpcError(requestId, request.Type, "Unknown request schema", "unknown_schema"));
                    break;
            }
        }
        catch (InvalidRequestException e)
        {
            _log.Info("Invalid {0}: {1}", request.Type, e.Message);
            Answer(WsOutbound.RpcError(requestId, request.Type, "Unknown request schema", "unknown_schema"));
        }
        catch (Exception e)
        {
            _log.Error(e, "Request {0} failed", request.Type);
            Answer(WsOutbound.RpcError(requestId, request.Type, $"Request failed: {e.Message}", "handler_error"));
        }
    }

    /// <summary>
    /// list_provider_models: what the provider says (OpenCode asks its server, off this thread, starting it if needed),
    /// bounded by paseo.sessions.list-models-timeout (Paseo's clients wait 45 s); when it cannot say, the configured models
    /// with the reason.
    /// </summary>
    private void ListModels(string requestId, string providerId, string? cwd)
    {
        static string Response(string requestId, string providerId, IEnumerable<JsonObject>? models, string? error)
        {
            var payload = new JsonObject { ["provider"] = providerId };
            if (models is not null) payload["models"] = new JsonArray([.. models.Select(m => (JsonNode)m.DeepClone())]); // `models?`: absent, not null
            payload["error"] = error;
            payload["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow);
            payload["requestId"] = requestId;
            return WsOutbound.Session("list_provider_models_response", payload);
        }
        if (!_providers.TryGetValue(providerId, out var provider))
        {
            Answer(Response(requestId, providerId, null, $"Unknown provider: {providerId}"));
            return;
        }
        // The token stops the listing itself (e.g. a short-lived CLI that does not answer), not only the wait for it.
        var limit = _listModelsTimeout;
        var timeout = new CancellationTokenSource(limit);
        provider.ListModelsAsync(cwd, Context.System, timeout.Token).WaitAsync(limit)
            .ContinueWith(t => { timeout.Dispose(); return t; }, TaskScheduler.Default).Unwrap().PipeTo(Self,
            success: models => new Done(Response(requestId, providerId, models, null)),
            failure: e => new Done(Response(requestId, providerId, provider.Description.Models,
                $"{providerId}: could not list its models ({e.GetBaseException().Message}); the known ones instead")));
    }

    // How long a request waits for the providers' checks (each bounded by paseo.providers.version-timeout) before it
    // answers with what is known; a snapshot answers sooner, as the app waits 10 s for it.
    private static readonly TimeSpan ChecksWait = TimeSpan.FromSeconds(25);
    private static readonly TimeSpan SnapshotWait = TimeSpan.FromSeconds(8);

    /// <summary>The providers' availability from the `providers` actor, after it re-checked the stale ones (all, or <paramref name="ids"/>).</summary>
    private Task<ProvidersProtocol.AvailabilitySnapshot> Availability(IReadOnlyCollection<string>? ids, TimeSpan maxWait) =>
        Context.ActorSelection(ProvidersProtocol.Path).Ask<ProvidersProtocol.AvailabilitySnapshot>(new ProvidersProtocol.RefreshAvailability(ids, maxWait),
            maxWait + TimeSpan.FromSeconds(1));

    private static string StillChecking(string providerId) => $"{providerId}: its check has not answered yet";

    private JsonArray Entries(ProvidersProtocol.AvailabilitySnapshot? known) =>
        new([.. _providers.Values.Select(p => (JsonNode)ProviderEntry(p, known?.Of(p.Description.Id)))]);

    /// <summary>
    /// One entry of a providers snapshot (app-workspaces.md §7): what the provider is and whether its CLI answered
    /// (<paramref name="availability"/>: "loading" while its first check runs).
    /// </summary>
    internal static JsonObject ProviderEntry(IAgentProvider provider, ProviderAvailability? availability)
    {
        var d = provider.Description;
        var entry = new JsonObject
        {
            ["provider"] = d.Id,
            ["status"] = availability?.Status ?? "loading",
            ["enabled"] = availability?.Error != ProviderAvailability.Disabled.Error,
            ["models"] = new JsonArray([.. d.Models.Select(m => (JsonNode)m.DeepClone())]),
            ["modes"] = new JsonArray([.. d.Modes.Select(m => (JsonNode)m.ToJson())]),
            ["fetchedAt"] = IsoTime.Format(DateTimeOffset.UtcNow),
            ["label"] = d.Label,
            ["description"] = d.Description,
            ["defaultModeId"] = d.DefaultModeId,
        };
        if (availability?.Error is { } error) entry["error"] = error;
        // Beyond Paseo's shape (clients drop unknown keys): what `<cli> --version` said, for `paseo provider ls`.
        if (availability?.Version is { } version) entry["version"] = version;
        return entry;
    }

    private static string Diagnostic(IAgentProvider provider, ProviderAvailability availability)
    {
        var lines = new List<string> { $"{provider.Description.Label} ({provider.Description.Id}): {availability.Status}" };
        if (availability.Version is { } version) lines.Add($"version: {version}");
        if (availability.Error is { } error) lines.Add($"error: {error}");
        lines.Add($"models: {string.Join(", ", provider.Description.Models.Select(m => m["id"]?.GetValue<string>()).OfType<string>().DefaultIfEmpty("(none known)"))}");
        lines.Add($"modes: {string.Join(", ", provider.Description.Modes.Select(m => m.Id).DefaultIfEmpty("(none)"))}");
        return string.Join("\n", lines);
    }

    private void ReadConfig(string requestId)
    {
        var path = _configPath;
        Task.Run(() => path is null ? DaemonConfigPatch.Read("/nonexistent") : DaemonConfigPatch.Read(path)).PipeTo(Self,
            success: config => new Done(WsOutbound.Session("get_daemon_config_response", new JsonObject { ["requestId"] = requestId, ["config"] = config })),
            failure: e => new Done(WsOutbound.RpcError(requestId, "get_daemon_config_request", $"Request failed: {e.GetBaseException().Message}", "handler_error")));
    }

    private void SetConfig(string requestId, JsonObject patch)
    {
        if (_configPath is not { } path)
        {
            Answer(WsOutbound.RpcError(requestId, "set_daemon_config_request", "This daemon has no config.json to change", "handler_error"));
            return;
        }
        var copy = (JsonObject)patch.DeepClone();
        var stream = Context.System.EventStream;
        Task.Run(() =>
        {
            var (config, changed) = DaemonConfigPatch.Apply(path, copy);
            if (changed) stream.Publish(new DaemonConfigChanged(config.ToJsonString()));
            return config;
        }).PipeTo(Self,
            success: config => new Done(WsOutbound.Session("set_daemon_config_response", new JsonObject { ["requestId"] = requestId, ["config"] = config })),
            failure: e => new Done(WsOutbound.RpcError(requestId, "set_daemon_config_request", e.GetBaseException().Message,
                e.GetBaseException() is ConfigException ? "invalid_daemon_config" : "handler_error")));
    }

    /// <summary>A daemon without a display (a VPS) opens no editor: an empty list, and the reason.</summary>
    private static (IReadOnlyList<(string Id, string Label, string Command)> Editors, string? Error) AvailableEditors()
    {
        if (!HasDisplay()) return ([], "No editor can be opened: the daemon runs without a display (neither DISPLAY nor WAYLAND_DISPLAY is set)");
        return (Editors.Where(e => ChildProcess.Which(e.Command) is not null).ToList(), null);
    }

    private static bool HasDisplay() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY"));

    private void OpenInEditor(string requestId, string path, string editorId)
    {
        if (editorId.Trim().Length == 0) throw new InvalidRequestException("editorId must not be blank");
        string? error = null;
        if (!Path.IsPathFullyQualified(path)) error = "Editor target path must be an absolute local path";
        else if (!File.Exists(path) && !Directory.Exists(path)) error = $"Path does not exist: {path}";
        else if (Editors.FirstOrDefault(e => e.Id == editorId.Trim()) is not { Id: not null } editor) error = $"Unknown editor target: {editorId}";
        else if (!HasDisplay() || ChildProcess.Which(editor.Command) is null) error = $"Editor target unavailable: {editor.Label}";
        else
        {
            // The spawn runs off this actor's thread.
            var label = editor.Label;
            var command = editor.Command;
            Task.Run(() =>
            {
                try
                {
                    using var started = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, [path]) { UseShellExecute = false });
                    return (string?)null;
                }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
                {
                    return $"Editor target unavailable: {label} ({e.Message})";
                }
            }).PipeTo(Self, success: failure => new Done(WsOutbound.Session("open_in_editor_response", new JsonObject { ["requestId"] = requestId, ["error"] = failure })));
            return;
        }
        Answer(WsOutbound.Session("open_in_editor_response", new JsonObject { ["requestId"] = requestId, ["error"] = error }));
    }
}
