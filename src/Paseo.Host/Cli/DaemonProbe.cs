using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Paseo.Transport.Listen;

namespace Paseo.Host.Cli;

/// <summary>Asks a daemon's /api/health over TCP or a unix socket. Used by `daemon start` and `daemon status`.</summary>
public static class DaemonProbe
{
    /// <summary>An HTTP client that reaches the listen target: a unix socket, or the TCP address (a wildcard bind is probed on loopback).</summary>
    public static (HttpClient Client, Uri BaseUri) ClientFor(ListenTarget target, TimeSpan timeout)
    {
        switch (target)
        {
            case UnixListenTarget unix:
                var handler = new SocketsHttpHandler
                {
                    ConnectCallback = async (_, ct) =>
                    {
                        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                        try
                        {
                            await socket.ConnectAsync(new UnixDomainSocketEndPoint(unix.Path), ct);
                            return new NetworkStream(socket, ownsSocket: true);
                        }
                        catch
                        {
                            socket.Dispose();
                            throw;
                        }
                    },
                };
                return (new HttpClient(handler) { Timeout = timeout }, new Uri("http://localhost/"));
            case TcpListenTarget tcp:
                var host = tcp.Host switch
                {
                    "0.0.0.0" => "127.0.0.1",
                    "::" => "[::1]",
                    _ => tcp.UrlHost,
                };
                return (new HttpClient { Timeout = timeout }, new Uri($"http://{host}:{tcp.Port}/"));
            default:
                throw new ArgumentOutOfRangeException(nameof(target));
        }
    }

    public static async Task<bool> IsHealthyAsync(ListenTarget target, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var (client, baseUri) = ClientFor(target, timeout);
        using (client)
        {
            try
            {
                using var response = await client.GetAsync(new Uri(baseUri, "api/health"), cancellationToken);
                if (response.StatusCode != HttpStatusCode.OK) return false;
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                return body.RootElement.TryGetProperty("status", out var status) && status.GetString() == "ok";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or SocketException)
            {
                return false;
            }
        }
    }
}
