using Akka.Actor;
using Paseo.Actors.RelayServer;
using Paseo.Actors.RelayServer.Cluster;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Channels;
using Xunit.Abstractions;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;
using Role = Paseo.Actors.RelayServer.RelayRoomProtocol.Role;

namespace Paseo.Actors.Tests.RelayServer.Cluster;

/// <summary>
/// A clustered relay socket over the in-memory transport, with probes for its room (the shard region) and its peers:
/// it registers, holds a phone's frames until its daemon data socket is known, paces a phone by its daemon's acks, closes
/// a peer that stops acknowledging, follows the one-node rules when a peer is lost, and registers again when its room is.
/// </summary>
public sealed class RelaySocketActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static readonly RelayRoomId Room = new("srv_spec", 2);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly RelaySocketSettings Flow = new(Window: 4, WindowBytes: 1 << 20, AckEvery: 2, AckBytes: 1 << 20, MaxUnacked: 3, MaxUnackedBytes: 1 << 20,
        AckTimeout: TimeSpan.FromSeconds(30), RegisterRetry: TimeSpan.FromSeconds(30), RegisterTimeout: TimeSpan.FromSeconds(30));

    private sealed record Started(IActorRef Socket, InMemoryFrameTransport Peer, Akka.TestKit.TestProbe Region, Akka.TestKit.TestProbe Room, SemaphoreSlim Read);

    /// <summary>A socket registered through a region probe and taken by a room probe; <see cref="Started.Read"/> counts the frames it has read.</summary>
    private Started Start(Role role, string? connectionId, RelaySocketSettings? flow = null)
    {
        var (relaySide, peerSide) = InMemoryFrameTransport.CreatePair();
        var region = CreateTestProbe();
        var read = new SemaphoreSlim(0);
        var socket = Sys.ActorOf(RelaySocketActor.Props(Room, role, connectionId, relaySide, region.Ref, RelayLimits.Default with { BufferFrames = 3 }, flow ?? Flow, TimeProvider.System,
            tap: _ => read.Release()));
        var register = region.ExpectMsg<Register>();
        Assert.Equal((Room, role, connectionId, false), (register.Room, register.Role, register.ConnectionId, register.Rejoin));
        var room = CreateTestProbe();
        socket.Tell(new Registered(connectionId ?? "conn_given"), room.Ref);
        return new Started(socket, peerSide, region, room, read);
    }

    private static string Text(object message) => ((WireFrame.Text)((PeerFrame)message).Frame).Value;

    [Fact]
    public async Task A_phone_keeps_its_last_frames_until_its_data_socket_is_known_then_is_paced_by_its_acks()
    {
        var (phone, screen, _, _, read) = Start(Role.Client, null);
        for (var i = 1; i <= 5; i++) await screen.Outbound.WriteAsync(new WireFrame.Text($"f{i}"));
        var data = CreateTestProbe();
        // buffer-frames = 3: once all five are read, the oldest two are dropped, as the one-node room does.
        for (var i = 0; i < 5; i++) Assert.True(await read.WaitAsync(Wait));
        phone.Tell(new Link(data.Ref, Exclusive: true));
        Assert.Equal(["f3", "f4", "f5"], [Text(data.ExpectMsg<PeerFrame>()), Text(data.ExpectMsg<PeerFrame>()), Text(data.ExpectMsg<PeerFrame>())]);

        // Window 4: one more frame goes, then the phone is not read until its daemon acknowledges.
        for (var i = 6; i <= 9; i++) await screen.Outbound.WriteAsync(new WireFrame.Text($"f{i}"));
        Assert.Equal("f6", Text(data.ExpectMsg<PeerFrame>()));
        data.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        phone.Tell(new Ack(2, 4), data.Ref);
        Assert.Equal("f7", Text(data.ExpectMsg<PeerFrame>()));
        Assert.Equal("f8", Text(data.ExpectMsg<PeerFrame>()));
        // Acks are cumulative: a stale one changes nothing, a later one makes good a lost one.
        phone.Tell(new Ack(1, 2), data.Ref);
        phone.Tell(new Ack(4, 8), data.Ref);
        Assert.Equal("f9", Text(data.ExpectMsg<PeerFrame>()));
    }

    [Fact]
    public async Task A_data_socket_writes_a_phones_frames_and_acks_them_and_closes_a_phone_that_stops_acknowledging()
    {
        var (data, daemon, _, _, _) = Start(Role.Server, "c1");
        var phone = CreateTestProbe();
        data.Tell(new Link(phone.Ref, Exclusive: false));
        data.Tell(new PeerFrame(new WireFrame.Text("up1")), phone.Ref);
        data.Tell(new PeerFrame(new WireFrame.Text("up2")), phone.Ref);
        using var limit = new CancellationTokenSource(Wait);
        Assert.Equal("up1", ((WireFrame.Text)await daemon.Inbound.ReadAsync(limit.Token)).Value);
        Assert.Equal("up2", ((WireFrame.Text)await daemon.Inbound.ReadAsync(limit.Token)).Value);
        Assert.Equal(new Ack(2, 6), phone.ExpectMsg<Ack>());

        // The daemon's frames go to the phone; three unacknowledged (max-unacked-frames) and the next closes it as too slow.
        for (var i = 1; i <= 4; i++) await daemon.Outbound.WriteAsync(new WireFrame.Text($"down{i}"));
        Assert.Equal(["down1", "down2", "down3"], [Text(phone.ExpectMsg<PeerFrame>()), Text(phone.ExpectMsg<PeerFrame>()), Text(phone.ExpectMsg<PeerFrame>())]);
        Assert.Equal(new CloseSocket(1013, "Too slow"), phone.ExpectMsg<CloseSocket>());
    }

    [Fact]
    public async Task A_socket_whose_room_is_lost_registers_again_and_a_phone_whose_data_socket_is_lost_closes_with_1012()
    {
        var (phone, screen, region, room, _) = Start(Role.Client, null);
        Watch(phone);
        // The room's node is lost: the socket asks the region again, as what it is, with the connectionId it was given.
        Sys.Stop(room.Ref);
        var again = region.ExpectMsg<Register>();
        Assert.Equal((Role.Client, "conn_given", true), (again.Role, again.ConnectionId, again.Rejoin));
        var rebuilt = CreateTestProbe();
        phone.Tell(new Registered("conn_given"), rebuilt.Ref);

        // That room fails and restarts empty under the same ref: it asks its sockets to register again, and they do.
        phone.Tell(RegisterAgain.Instance, rebuilt.Ref);
        Assert.True(region.ExpectMsg<Register>().Rejoin);
        phone.Tell(new Registered("conn_given"), rebuilt.Ref);

        // Its daemon data socket's node is lost: the phone closes as on one node.
        var data = CreateTestProbe();
        phone.Tell(new Link(data.Ref, Exclusive: true));
        Sys.Stop(data.Ref);
        var closure = await screen.Closed.WaitAsync(Wait);
        Assert.Equal((1012, "Server disconnected"), (closure.Code, closure.Reason));
        ExpectTerminated(phone);
    }

    [Fact]
    public async Task A_phone_is_paced_by_bytes_too_and_asks_for_a_lost_ack()
    {
        var flow = Flow with { WindowBytes = 10, AckBytes = 10, AckTimeout = TimeSpan.FromMilliseconds(300) };
        var (phone, screen, _, _, read) = Start(Role.Client, null, flow);
        var data = CreateTestProbe();
        phone.Tell(new Link(data.Ref, Exclusive: true));
        // 6 bytes, then 6 more: 12 ≥ 10 in flight, so the third waits.
        foreach (var text in new[] { "aaaaaa", "bbbbbb", "cccccc" }) await screen.Outbound.WriteAsync(new WireFrame.Text(text));
        Assert.Equal("aaaaaa", Text(data.ExpectMsg<PeerFrame>()));
        Assert.Equal("bbbbbb", Text(data.ExpectMsg<PeerFrame>()));
        // The ack that would free it was lost: after ack-timeout the phone asks, and the answer lets the third go.
        data.ExpectMsg<AckRequest>(TimeSpan.FromSeconds(5));
        phone.Tell(new Ack(2, 12), data.Ref);
        Assert.Equal("cccccc", Text(data.ExpectMsg<PeerFrame>()));
        _ = read;
    }

    [Fact]
    public async Task A_data_socket_answers_a_phone_whose_frames_come_before_the_rooms_link()
    {
        var (data, daemon, _, _, _) = Start(Role.Server, "c1");
        var phone = CreateTestProbe();
        // The phone's hello overtakes the room's Link(phone) to this data socket.
        data.Tell(new PeerFrame(new WireFrame.Text("hello")), phone.Ref);
        using var limit = new CancellationTokenSource(Wait);
        Assert.Equal("hello", ((WireFrame.Text)await daemon.Inbound.ReadAsync(limit.Token)).Value);
        await daemon.Outbound.WriteAsync(new WireFrame.Text("ready"));
        Assert.Equal("ready", Text(phone.ExpectMsg<PeerFrame>()));
    }

    [Fact]
    public async Task Frames_a_phone_sent_just_before_closing_still_reach_its_daemon()
    {
        var (phone, screen, _, _, _) = Start(Role.Client, null);
        var data = CreateTestProbe();
        phone.Tell(new Link(data.Ref, Exclusive: true));
        Watch(phone);
        await screen.Outbound.WriteAsync(new WireFrame.Text("last-1"));
        await screen.Outbound.WriteAsync(new WireFrame.Text("last-2"));
        screen.Close(1000, "bye");
        Assert.Equal("last-1", Text(data.ExpectMsg<PeerFrame>()));
        Assert.Equal("last-2", Text(data.ExpectMsg<PeerFrame>()));
        ExpectTerminated(phone);
    }

    [Fact]
    public async Task A_paused_phone_that_closes_still_forwards_what_it_sent_then_stops()
    {
        var (phone, screen, _, _, _) = Start(Role.Client, null);
        var data = CreateTestProbe();
        phone.Tell(new Link(data.Ref, Exclusive: true));
        Watch(phone);
        // Window 4, no ack: the phone is paused after four, and then closes with two more in its queue.
        for (var i = 1; i <= 6; i++) await screen.Outbound.WriteAsync(new WireFrame.Text($"f{i}"));
        for (var i = 1; i <= 4; i++) Assert.Equal($"f{i}", Text(data.ExpectMsg<PeerFrame>()));
        screen.Close(1000, "bye");
        Assert.Equal("f5", Text(data.ExpectMsg<PeerFrame>()));
        Assert.Equal("f6", Text(data.ExpectMsg<PeerFrame>()));
        ExpectTerminated(phone);
    }

    [Fact]
    public async Task A_link_that_comes_before_the_registration_answer_is_kept()
    {
        var (relaySide, screen) = InMemoryFrameTransport.CreatePair();
        var region = CreateTestProbe();
        var phone = Sys.ActorOf(RelaySocketActor.Props(Room, Role.Client, null, relaySide, region.Ref, RelayLimits.Default, Flow, TimeProvider.System));
        region.ExpectMsg<Register>();
        // The room's Link overtakes its own Registered (the room tells both; the data socket's node may answer first).
        var data = CreateTestProbe();
        phone.Tell(new Link(data.Ref, Exclusive: true));
        await screen.Outbound.WriteAsync(new WireFrame.Text("hello"));
        phone.Tell(new Registered("conn_given"), CreateTestProbe().Ref);
        Assert.Equal("hello", Text(data.ExpectMsg<PeerFrame>()));
    }
}
