using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Cli;

/// <summary>What the `paseo` binary says in its hello, caught by a loopback WebSocket listener standing where a daemon would be.</summary>
public sealed class CliHelloTests
{
    [Fact]
    public async Task The_CLI_announces_the_Paseo_protocol_version_it_speaks_not_its_own_assembly_version()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var hello = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var socket = (await context.AcceptWebSocketAsync(null)).WebSocket;
            var buffer = new byte[64 * 1024];
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            var text = Encoding.UTF8.GetString(buffer, 0, received.Count);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "seen", CancellationToken.None);
            return JsonNode.Parse(text)!.AsObject();
        });
        using var home = new TestHome();
        var env = PaseoBinary.CleanEnvironment(home);
        var result = await PaseoBinary.RunAsync(env, "ls", "--host", $"127.0.0.1:{port}");
        var message = await hello.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("hello", message["type"]!.GetValue<string>());
        Assert.Equal("cli", message["clientType"]!.GetValue<string>());
        Assert.Equal(Paseo.Transport.Protocol.PaseoCompatibility.ProtocolVersion, message["appVersion"]!.GetValue<string>());
        Assert.Equal("0.1.65", message["appVersion"]!.GetValue<string>());
        Assert.NotEqual(0, result.ExitCode); // no server_info came: the command fails, clearly
    }
}
