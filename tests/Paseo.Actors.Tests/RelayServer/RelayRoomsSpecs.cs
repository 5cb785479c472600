using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.RelayServer;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Channels;
using Xunit.Abstractions;
using static Paseo.Actors.RelayServer.RelayRoomProtocol;

namespace Paseo.Actors.Tests.RelayServer;

/// <summary>
/// The relay server's rooms with in-memory sockets (the transport's twin): a room per daemon, the control socket told of
/// phones, a phone's frames held until its daemon data socket comes and then forwarded both ways, and a phone's leaving
/// closing its data socket.
/// </summary>
public sealed class RelayRoomsSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly RelayRoomId Room = new("srv_spec", 2);

    private static async Task<string> NextTextAsync(InMemoryFrameTransport socket)
    {
        using var limit = new CancellationTokenSource(Wait);
        return ((WireFrame.Text)await socket.Inbound.ReadAsync(limit.Token)).Value;
    }

    private async Task<InMemoryFrameTransport> JoinAsync(IActorRef rooms, Role role, string? connectionId)
    {
        var (relaySide, peerSide) = InMemoryFrameTransport.CreatePair();
        var joined = await rooms.Ask<Joined>(new Join(Room, role, connectionId, relaySide), Wait);
        Assert.Equal(connectionId, joined.ConnectionId);
        return peerSide;
    }

    [Fact]
    public async Task A_phones_frames_wait_for_its_daemon_socket_then_flow_both_ways_and_its_leaving_is_told()
    {
        var rooms = Sys.ActorOf(RelayRooms.Props(RelayLimits.Default, TimeProvider.System));
        var control = await JoinAsync(rooms, Role.Server, null);
        Assert.Equal("sync", JsonNode.Parse(await NextTextAsync(control))!["type"]!.GetValue<string>());

        var phone = await JoinAsync(rooms, Role.Client, "c1");
        var connected = JsonNode.Parse(await NextTextAsync(control))!;
        Assert.Equal(("connected", "c1"), (connected["type"]!.GetValue<string>(), connected["connectionId"]!.GetValue<string>()));

        // Sent before the daemon's data socket exists: held, then delivered in order.
        await phone.Outbound.WriteAsync(new WireFrame.Text("first"));
        await phone.Outbound.WriteAsync(new WireFrame.Text("second"));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await rooms.Ask<RoomState>(new InspectRoom(Room), Wait)).BufferedFrames.GetValueOrDefault("c1")));
        var data = await JoinAsync(rooms, Role.Server, "c1");
        Assert.Equal("first", await NextTextAsync(data));
        Assert.Equal("second", await NextTextAsync(data));

        await data.Outbound.WriteAsync(new WireFrame.Text("reply"));
        Assert.Equal("reply", await NextTextAsync(phone));

        // The phone leaves: the control socket is told, and the data socket for it is closed.
        phone.Close(1000, "bye");
        var disconnected = JsonNode.Parse(await NextTextAsync(control))!;
        Assert.Equal(("disconnected", "c1"), (disconnected["type"]!.GetValue<string>(), disconnected["connectionId"]!.GetValue<string>()));
        Assert.Equal(1001, (await data.Closed.WaitAsync(Wait)).Code);
    }
}
