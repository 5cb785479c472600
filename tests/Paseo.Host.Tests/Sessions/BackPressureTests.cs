using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.Hosting;
using Paseo.Actors.Relay;
using Paseo.Actors.Sessions;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Xunit.Abstractions;

namespace Paseo.Host.Tests.Sessions;

/// <summary>Tests that measure the whole process (its managed heap) run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAloneCollection
{
    public const string Name = "measured alone";
}

/// <summary>
/// Back-pressure from the socket to the session, on the real daemon and a real relay process: a direct client and a relayed
/// phone each flood 20 000 frames of 64 KiB at a session that is held busy. The daemon takes one message of each socket
/// and leaves the rest in the peers' TCP windows: its heap stays flat, another client is answered within a second, and
/// once the sessions are free every frame is answered, in order.
/// </summary>
[Collection(MeasuredAloneCollection.Name)]
public sealed class BackPressureTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Frames = 20_000;
    private const int FrameBytes = 64 * 1024;
    private const long HeldHeapBound = 64L * 1024 * 1024;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(1);

    private readonly TestHome _relayHome = new();
    private RelayProcess _relay = null!;
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync()
    {
        // The relay in a process of its own, so the heap measured here is the daemon's (and the test clients').
        _relay = await RelayProcess.StartAsync(PaseoBinary.CleanEnvironment(_relayHome));
        _daemon = await InProcessDaemon.StartAsync(env: new Dictionary<string, string?>
        {
            ["PASEO_RELAY_ENABLED"] = "true",
            ["PASEO_RELAY_ENDPOINT"] = $"127.0.0.1:{_relay.Port}",
        });
        await _daemon.WaitForRelayControlAsync();
    }

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        await _relay.DisposeAsync();
        _relayHome.Dispose();
    }

    /// <summary>A session message of exactly <see cref="FrameBytes"/>: a ping (answered with a pong carrying its requestId) and padding.</summary>
    private static string Frame(int n)
    {
        var head = $"{{\"type\":\"session\",\"message\":{{\"type\":\"ping\",\"requestId\":\"{n}\",\"pad\":\"";
        const string tail = "\"}}";
        return head + new string('x', FrameBytes - head.Length - tail.Length) + tail;
    }

    /// <summary>The requestId of a pong, or null for any other frame.</summary>
    private static int? PongId(string frame)
    {
        if (!frame.Contains("\"type\":\"pong\"", StringComparison.Ordinal)) return null;
        var payload = JsonNode.Parse(frame)!["message"]!["payload"]!;
        return int.Parse(payload["requestId"]!.GetValue<string>());
    }

    private async Task<IActorRef> SessionAsync(string clientId) =>
        await _daemon.Server.App.Services.GetRequiredService<ActorSystem>()
            .ActorSelection($"/user/paseo/sessions/session-{Uri.EscapeDataString(clientId)}").ResolveOne(Wait);

    /// <summary>Counts what a flooding client has sent and which pongs it got back, in order.</summary>
    private sealed class Flood
    {
        public int Sent;
        public readonly List<int> Pongs = [];
        public Task Sending = Task.CompletedTask;
        public Task Receiving = Task.CompletedTask;
    }

    private static Flood DirectFlood(ClientWebSocket socket)
    {
        var flood = new Flood();
        flood.Receiving = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            var message = new MemoryStream();
            while (flood.Pongs.Count < Frames)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"closed: {result.CloseStatus} {result.CloseStatusDescription}");
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (PongId(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length)) is { } id) lock (flood.Pongs) flood.Pongs.Add(id);
                message.SetLength(0);
            }
        });
        flood.Sending = Task.Run(async () =>
        {
            for (var n = 0; n < Frames; n++)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(Frame(n)), WebSocketMessageType.Text, true, CancellationToken.None);
                Interlocked.Increment(ref flood.Sent);
            }
        });
        return flood;
    }

    private static Flood RelayedFlood(E2eeClientChannel phone)
    {
        var flood = new Flood();
        flood.Receiving = Task.Run(async () =>
        {
            while (flood.Pongs.Count < Frames)
                if (PongId((await phone.Messages.ReadAsync()).Text) is { } id) lock (flood.Pongs) flood.Pongs.Add(id);
        });
        flood.Sending = Task.Run(async () =>
        {
            for (var n = 0; n < Frames; n++)
            {
                await phone.SendTextAsync(Frame(n));
                Interlocked.Increment(ref flood.Sent);
            }
        });
        return flood;
    }

    [Fact]
    public async Task Floods_at_busy_sessions_stay_in_the_peers_sockets_other_clients_are_answered_and_every_frame_is_answered_in_order_after()
    {
        // A direct client, a phone through the relay, and a bystander, each with its own session.
        var direct = await _daemon.ConnectAsync();
        await direct.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"hello\",\"clientId\":\"flood-direct\",\"clientType\":\"cli\",\"protocolVersion\":1}"),
            WebSocketMessageType.Text, true, CancellationToken.None);
        var phoneSocket = new ClientWebSocket();
        await phoneSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{_relay.Port}/ws?serverId={_daemon.Server.Identity.ServerId.Value}&role=client&v=2"), CancellationToken.None);
        // The phone queues at most two frames itself: what it holds is not the daemon's memory.
        var phone = E2eeClientChannel.Start(new WebSocketFrameTransport(phoneSocket, 16 * 1024 * 1024, 64, 2), Convert.ToBase64String(_daemon.Server.Identity.KeyPair.PublicKey));
        await phone.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"flood-relay\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
        await phone.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        var (bystander, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, "bystander");
        await bystander.RequestAsync("ping"); // every session exists now
        var directSession = await SessionAsync("flood-direct");
        var relayedSession = await SessionAsync("flood-relay");

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var directHeld = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var relayedHeld = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        directSession.Tell(new ClientSessionActor.HoldForTests(release.Task, directHeld));
        relayedSession.Tell(new ClientSessionActor.HoldForTests(release.Task, relayedHeld));

        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long Retained() => GC.GetTotalMemory(forceFullCollection: true) - baseline;

        var floods = new[] { DirectFlood(direct), RelayedFlood(phone) };
        // Each flood has sent more than the daemon would take of it (one message with the session, one in flight, 4 read
        // ahead): a daemon that read on would now hold several of them in the held session. Where a flood stalls after
        // that depends on the kernel's socket buffers (about 100 frames of 64 KiB on an idle loopback, fewer under load).
        await Eventually.HoldsAsync(() => Task.FromResult(floods.All(f => Volatile.Read(ref f.Sent) >= 8)), "both floods to be under way");

        // The bystander is answered promptly while the floods wait in their sockets.
        for (var i = 0; i < 20; i++)
        {
            var started = DateTimeOffset.UtcNow;
            await bystander.RequestAsync(i % 2 == 0 ? "ping" : "fetch_agents_request");
            var took = DateTimeOffset.UtcNow - started;
            Assert.True(took < AnswerBound, $"the bystander waited {took.TotalMilliseconds:0} ms for an answer");
        }
        var heldHeap = Retained();
        output.WriteLine($"while held: sent {floods[0].Sent} direct and {floods[1].Sent} relayed frames of 64 KiB; heap +{heldHeap / 1024} KiB");
        Assert.True(heldHeap < HeldHeapBound, $"the heap grew by {heldHeap / (1024 * 1024)} MiB while the sessions were held");
        Assert.All(floods, f => Assert.False(f.Sending.IsCompleted, "a flood went through whole while its session was held"));

        release.SetResult();
        // Back-pressure: at most the one message each socket had in flight reached its busy session.
        Assert.InRange(await directHeld.Task.WaitAsync(Wait), 0, 1);
        Assert.InRange(await relayedHeld.Task.WaitAsync(Wait), 0, 1);

        // Halfway through, and at the end, the daemon holds no more than while it was held.
        await Eventually.HoldsAsync(() => floods.All(f => { lock (f.Pongs) return f.Pongs.Count >= Frames / 2; }), "half of each flood to be answered", TimeSpan.FromMinutes(2));
        var halfway = Retained();
        await Task.WhenAll(floods.SelectMany(f => new[] { f.Sending, f.Receiving })).WaitAsync(TimeSpan.FromMinutes(3));
        var after = Retained();
        output.WriteLine($"heap halfway +{halfway / 1024} KiB, after +{after / 1024} KiB");
        Assert.True(halfway < HeldHeapBound, $"the heap grew by {halfway / (1024 * 1024)} MiB halfway through the floods");
        Assert.True(after < HeldHeapBound, $"the heap grew by {after / (1024 * 1024)} MiB after the floods");
        foreach (var flood in floods) Assert.Equal(Enumerable.Range(0, Frames), flood.Pongs);

        await bystander.DisposeAsync();
        await phone.DisposeAsync();
        direct.Dispose();
    }
}
