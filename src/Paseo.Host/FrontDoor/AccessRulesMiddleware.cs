using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Transport.Security;
using Paseo.Transport.Workspaces;

namespace Paseo.Host.FrontDoor;

/// <summary>
/// The front door's access rules, in Paseo's order (app-protocol.md §6): Host allowlist, then CORS, then the
/// password. `/ws` upgrades get the Host and Origin checks here and the password check after the upgrade
/// (so that browsers, which cannot read an HTTP 401 on a WebSocket, see a close code instead).
/// </summary>
public sealed class AccessRulesMiddleware(RequestDelegate next, FrontDoorPolicies policies, ScriptRoutes routes, McpAccess mcp)
{
    public const string HealthPath = "/api/health";
    public const string WebSocketPath = "/ws";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var host = request.Headers.Host.Count > 0 && !string.IsNullOrWhiteSpace(request.Headers.Host[0]) ? request.Headers.Host[0] : null;
        var origin = request.Headers.Origin.Count > 0 ? request.Headers.Origin[0] : null;

        // Every upgrade gets the WebSocket rules, whatever the path's spelling: routing matches /WS and /ws/ too,
        // and an upgrade must never slip past the Origin check through the plain-HTTP branch.
        if (context.WebSockets.IsWebSocketRequest)
        {
            // The MCP endpoint speaks HTTP only: an upgrade there would skip its access rule.
            if (mcp.Enabled && request.Path.StartsWithSegments(Mcp.McpEndpoint.Path, StringComparison.OrdinalIgnoreCase))
            {
                await PlainText(context, StatusCodes.Status400BadRequest, "Not a WebSocket endpoint");
                return;
            }
            if (host is not null && !policies.Hosts.IsAllowed(host))
            {
                await PlainText(context, StatusCodes.Status403Forbidden, "Host not allowed");
                return;
            }
            if (!policies.Cors.IsAllowedWebSocketOrigin(origin, host))
            {
                await PlainText(context, StatusCodes.Status403Forbidden, "Origin not allowed");
                return;
            }
            // An upgrade that goes to a workspace service (not the daemon's /ws, which checks the password itself after the
            // upgrade) needs the password here, as the service's plain HTTP requests do.
            if (IsServiceHost(host) && policies.Password.PasswordRequired && !await PasswordAllowsAsync(context))
                return;
            await next(context);
            return;
        }

        if (policies.ChecksHttpHost && !policies.Hosts.IsAllowed(host))
        {
            await JsonResponses.Error(context, StatusCodes.Status403Forbidden, "Invalid Host header");
            return;
        }

        if (policies.Cors.IsAllowedOrigin(origin))
        {
            var headers = context.Response.Headers;
            headers.AccessControlAllowOrigin = origin;
            headers.AccessControlAllowMethods = CorsPolicy.AllowMethods;
            headers.AccessControlAllowHeaders = CorsPolicy.AllowHeaders;
            headers.AccessControlAllowCredentials = "true";
            headers.Vary = "Origin";
        }

        if (HttpMethods.IsOptions(request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        // The agents' MCP server: an agent's own credential, or the password for a top-level client (Mcp/McpEndpoint).
        // Any spelling routing would match (/MCP/agents, /mcp/agents/) gets this rule, not the generic one.
        if (mcp.Enabled && request.Path.StartsWithSegments(Mcp.McpEndpoint.Path, StringComparison.OrdinalIgnoreCase) && !IsServiceHost(host))
        {
            var daemonMcp = Paseo.Actors.Mcp.DaemonMcp.Get(context.RequestServices.GetRequiredService<Akka.Actor.ActorSystem>());
            if (!await Mcp.McpEndpoint.Authorize(context, daemonMcp, mcp.Settings,
                    c => policies.Password.PasswordRequired ? PasswordAllowsAsync(c) : Task.FromResult(true)))
                return;
            await next(context);
            return;
        }

        // The health probe, and the daemon's own web client files fetched with GET or HEAD (no secret in them; every action
        // goes through /ws, which asks for the password), are served without it. Anything for a workspace service is not.
        var openWithoutPassword = request.Path.Equals(HealthPath, StringComparison.Ordinal)
            || (Web.WebClientAssets.Embedded.Serves(request.Path) && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && !IsServiceHost(host));
        if (!openWithoutPassword && policies.Password.PasswordRequired && !await PasswordAllowsAsync(context))
            return;

        await next(context);
    }

    private bool IsServiceHost(string? host) => routes.Any && HostAllowlist.HostOf(host ?? "") is { } name && routes.PortOf(name) is not null;

    /// <summary>The request's bearer token (header, or the WebSocket subprotocol) against the password; false once it has answered.</summary>
    private async Task<bool> PasswordAllowsAsync(HttpContext context)
    {
        var request = context.Request;
        var token = BearerCredentials.FromAuthorizationHeader(request.Headers.Authorization.Count > 0 ? request.Headers.Authorization[0] : null)
                    ?? (context.WebSockets.IsWebSocketRequest ? BearerCredentials.FromSubprotocols(context.WebSockets.WebSocketRequestedProtocols)?.Token : null);
        switch (await policies.Password.CheckAsync(token, context.RequestAborted))
        {
            case PasswordCheck.Allowed:
                return true;
            case PasswordCheck.Busy:
                context.Response.Headers.RetryAfter = "1";
                await JsonResponses.Error(context, StatusCodes.Status429TooManyRequests, "Too many authentication attempts; retry later");
                return false;
            default:
                await JsonResponses.Error(context, StatusCodes.Status401Unauthorized, "Unauthorized");
                return false;
        }
    }

    private static Task PlainText(HttpContext context, int status, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }
}

/// <summary>Whether the agents' MCP server is served, and its `paseo.mcp` bounds, for the front door.</summary>
public sealed record McpAccess(bool Enabled, Mcp.McpSettings Settings);
