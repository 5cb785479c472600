using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Json.Schema;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Paseo.Actors.Hosting;
using Paseo.Actors.Mcp;
using Paseo.Transport.Security;

namespace Paseo.Host.Mcp;

/// <summary>`paseo.mcp` in paseo.hocon: the MCP endpoint's bounds.</summary>
public sealed record McpSettings(int MaxSessions, int MaxCallsPerSession, TimeSpan IdleTimeout, long MaxRequestBodyBytes)
{
    public static readonly McpSettings Default = new(100, 16, TimeSpan.FromHours(2), 100 * 1024);
}

/// <summary>
/// The agents' MCP server at `/mcp/agents` (app-orchestration.md §4): Streamable HTTP with sessions (the official C# SDK),
/// server info `agent-mcp 2.0.0`, the tools of <see cref="McpToolCatalogue"/>. Who may call it is decided before the
/// SDK sees the request (<see cref="Authorize"/>): a request naming <c>callerAgentId</c> must carry that agent's
/// credential (<see cref="Paseo.Transport.Mcp.McpAgentCredentials"/>), whatever the daemon's password; one without is a
/// top-level client and needs the daemon's password when one is set, as /ws does.
/// </summary>
public static class McpEndpoint
{
    public const string Path = "/mcp/agents";
    private const string CallerItem = "paseo.mcp.caller";

    // Each session's toolbox, for the end of the session (its client actor is stopped then).
    private static readonly ConditionalWeakTable<McpServerOptions, McpToolbox> Toolboxes = new();

    public static void AddPaseoMcp(IServiceCollection services, McpSettings settings, string daemonCwd, string home)
    {
        services.AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "agent-mcp", Version = "2.0.0" };
                options.Capabilities = new ServerCapabilities { Tools = new ToolsCapability { ListChanged = true } };
            })
            .WithHttpTransport(transport =>
            {
                // Stateful sessions (mcp-session-id), as Paseo's server and the clients agents run today (protocol
                // 2025-06-18) expect; the SDK marks this mode as kept for such clients (SEP-2567), hence the pragmas.
#pragma warning disable MCP9006, MCPEXP002
                transport.SessionMode = HttpServerSessionMode.Stateful;
                transport.IdleTimeout = settings.IdleTimeout;
                // Below the actors' cap: the SDK ends idle sessions (an agent killed without ending its own) first.
                transport.MaxIdleSessionCount = Math.Max(1, settings.MaxSessions * 3 / 4);
                transport.ConfigureSessionOptions = async (http, options, cancel) =>
                {
                    var caller = http.Items[CallerItem] as string;
                    var sessions = http.RequestServices.GetRequiredService<IRequiredActor<McpSessionsKey>>().ActorRef;
                    var opened = await sessions.Ask<object>(new McpSessionsActor.OpenClient(caller ?? ""), TimeSpan.FromSeconds(10), cancel);
                    if (opened is McpClientActor.Refused refused) throw new McpProtocolException(refused.Reason, McpErrorCode.InternalError);
                    var agents = http.RequestServices.GetRequiredService<IRequiredActor<AgentSupervisorKey>>().ActorRef;
                    var toolbox = new McpToolbox((IActorRef)opened, agents, caller, daemonCwd, home);
                    Toolboxes.AddOrUpdate(options, toolbox);
                    var tools = McpToolCatalogue.Tools(caller is not null).ToDictionary(t => t.Name);
                    options.Handlers.ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult
                    {
                        Tools = [.. tools.Values.Select(t => new Tool
                        {
                            Name = t.Name, Title = t.Title, Description = t.Description,
                            InputSchema = McpToolCatalogue.Element(t.Input), OutputSchema = McpToolCatalogue.Element(t.Output),
                        })],
                    });
                    options.Handlers.CallToolHandler = async (request, token) => await CallAsync(toolbox, tools, request.Params!, token);
                };
                transport.RunSessionHandler = async (http, server, cancel) =>
                {
                    // When its client actor ends (evicted when sessions are full, or its daemon session gone), the session's tool
                    // calls fail at once with the reason; the SDK session itself stays until it is idle long enough to be
                    // dropped (cancelling it from here left requests of its client waiting on a session nobody read).
                    using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                    if (Toolboxes.TryGetValue(server.ServerOptions, out var running))
                        _ = running.Client.WatchAsync(watching.Token).ContinueWith(_ => running.MarkEnded(), CancellationToken.None,
                            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                    try
                    {
                        await server.RunAsync(cancel);
                    }
                    finally
                    {
                        // The session's client actor goes with it (its parent forgets it by DeathWatch). Not through the
                        // HttpContext: that was the initialize request's, long over when the session ends.
                        if (Toolboxes.TryGetValue(server.ServerOptions, out var toolbox)) toolbox.Client.Tell(PoisonPill.Instance);
                    }
                };
#pragma warning restore MCP9006, MCPEXP002
            });
    }

    public static void MapPaseoMcp(WebApplication app) => app.MapMcp(Path);

    /// <summary>§4.4: arguments checked against the tool's schema (-32602 otherwise), the tool run, a failure as an error result.</summary>
    private static async Task<CallToolResult> CallAsync(McpToolbox toolbox, Dictionary<string, McpToolCatalogue.ToolDefinition> tools, CallToolRequestParams call,
        CancellationToken cancel)
    {
        if (!tools.TryGetValue(call.Name, out var tool)) throw new McpProtocolException($"Tool {call.Name} not found", McpErrorCode.InvalidParams);
        var args = new JsonObject();
        if (call.Arguments is { } given)
            foreach (var (key, value) in given) args[key] = JsonNode.Parse(value.GetRawText());
        // Unknown keys are dropped, as Paseo's schema parsing does; then the rest must match.
        var known = tool.Input["properties"]!.AsObject();
        foreach (var key in args.Select(p => p.Key).Where(k => !known.ContainsKey(k)).ToList()) args.Remove(key);
        var problems = Problems(tool.Input, args);
        // Strings Paseo's schema trims before it checks their length (§4.5: str(trim,1+)).
        foreach (var key in new[] { "title", "initialPrompt", "prompt" })
            if (args[key] is JsonValue v && v.TryGetValue<string>(out var text) && text.Trim().Length == 0) problems.Add($"/{key}: must not be blank");
        if (problems.Count > 0)
            throw new McpProtocolException($"Invalid arguments for tool {call.Name}: {new JsonArray([.. problems.Select(p => (JsonNode?)p)]).ToJsonString()}", McpErrorCode.InvalidParams);
        JsonObject result;
        try
        {
            // An agent's credential acts for a live agent only: once it is deleted, its token (still valid until the daemon
            // restarts) drives nothing.
            if (toolbox.Caller is { } caller && await toolbox.IsLiveAsync(caller, cancel) is false) throw new McpToolException($"Parent agent {caller} not found");
            result = await toolbox.CallAsync(call.Name, args, cancel);
        }
        catch (McpToolException e)
        {
            return new CallToolResult { Content = [new TextContentBlock { Text = e.Message }], IsError = true };
        }
        if (Problems(tool.Output, result) is { Count: > 0 } wrong)
            throw new McpProtocolException($"Invalid structured content for tool {call.Name}: {string.Join("; ", wrong)}", McpErrorCode.InvalidParams);
        return new CallToolResult { Content = [], StructuredContent = JsonSerializer.SerializeToElement(result) };
    }

    private static List<string> Problems(JsonObject schema, JsonObject value)
    {
        var evaluated = JsonSchema.FromText(schema.ToJsonString()).Evaluate(JsonSerializer.SerializeToElement(value), new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (evaluated.IsValid) return [];
        var problems = new List<string>();
        foreach (var detail in evaluated.Details ?? [])
            foreach (var (keyword, message) in detail.Errors ?? new Dictionary<string, string>())
                problems.Add($"{(detail.InstanceLocation.ToString() is { Length: > 0 } at ? at : "/")}: {message} ({keyword})");
        foreach (var (keyword, message) in evaluated.Errors ?? new Dictionary<string, string>()) problems.Add($"/: {message} ({keyword})");
        return problems.Count > 0 ? problems : ["/: does not match the schema"];
    }

    /// <summary>
    /// The access rule of the endpoint (called by the front door after its Host check): with <c>callerAgentId</c>, that
    /// agent's credential, never the password; without, the daemon's password when one is set. A request body over
    /// paseo.mcp.max-request-body-bytes is refused (413). Returns true when the request may go on.
    /// </summary>
    public static async Task<bool> Authorize(HttpContext context, DaemonMcp mcp, McpSettings settings, Func<HttpContext, Task<bool>> passwordAllows)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body) body.MaxRequestBodySize = settings.MaxRequestBodyBytes;
        var caller = context.Request.Query["callerAgentId"] is { Count: > 0 } values ? values[0] : null;
        if (string.IsNullOrEmpty(caller))
        {
            if (!await passwordAllows(context)) return false;
            context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                [new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, "top-level")], "paseo-mcp"));
            return true;
        }
        var token = BearerCredentials.FromAuthorizationHeader(context.Request.Headers.Authorization.Count > 0 ? context.Request.Headers.Authorization[0] : null);
        if (!mcp.Credentials.Verify(caller, token))
        {
            await FrontDoor.JsonResponses.Error(context, StatusCodes.Status401Unauthorized,
                "Unauthorized: a request for callerAgentId needs that agent's credential (the Authorization header of its injected MCP entry)");
            return false;
        }
        context.Items[CallerItem] = caller;
        // The session is the caller's: the SDK refuses its later requests from anyone else (another agent, a top-level client).
        context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
            [new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, "agent:" + caller)], "paseo-mcp-agent"));
        return true;
    }
}
