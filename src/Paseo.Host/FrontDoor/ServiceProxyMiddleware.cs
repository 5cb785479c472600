using System.Net;
using Paseo.Transport.Security;
using Paseo.Transport.Workspaces;
using Yarp.ReverseProxy.Forwarder;

namespace Paseo.Host.FrontDoor;

/// <summary>
/// Workspace services on the daemon's own port (app-workspaces.md §2.11): a request whose Host is a running service's
/// `*.localhost` name is forwarded, WebSockets included, to its loopback port by YARP's forwarder. It runs after the access
/// rules, so a daemon with a password asks for it here too; anything else goes on to the daemon's own endpoints.
/// </summary>
public sealed class ServiceProxyMiddleware(RequestDelegate next, ScriptRoutes routes, IHttpForwarder forwarder)
{
    private static readonly HttpMessageInvoker Client = new(new SocketsHttpHandler
    {
        UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    });

    public async Task InvokeAsync(HttpContext context)
    {
        if (routes.Any && HostAllowlist.HostOf(context.Request.Headers.Host.ToString()) is { } host && routes.PortOf(host) is { } port)
        {
            var error = await forwarder.SendAsync(context, $"http://127.0.0.1:{port}/", Client, ForwarderRequestConfig.Empty, HttpTransformer.Default);
            if (error != ForwarderError.None && !context.Response.HasStarted)
            {
                context.Response.StatusCode = StatusCodes.Status502BadGateway;
                await context.Response.WriteAsync($"The workspace service {host} does not answer on port {port}");
            }
            return;
        }
        await next(context);
    }
}
