using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.RelayServer;
using Paseo.Actors.RelayServer.Cluster;
using Paseo.Actors.Tests.Support;
using Xunit.Abstractions;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;
using Role = Paseo.Actors.RelayServer.RelayRoomProtocol.Role;

namespace Paseo.Actors.Tests.RelayServer.Cluster;

/// <summary>
/// The clustered room with probes for sockets: it links a phone and its daemon data socket to each other, tells the
/// control socket what a one-node room would, applies the one-node departure rules and close codes to sockets that stop
/// (as when their node is lost), bounds its phones, and is rebuilt from sockets that register again.
/// </summary>
public sealed class RelayRoomEntitySpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static readonly RelayRoomId Room = new("srv_spec", 2);

    private IActorRef NewRoom(RelayLimits? limits = null) => Sys.ActorOf(RelayRoomEntity.Props(Room, limits ?? RelayLimits.Default, new LocalRoomCount()));

    private static string TypeOf(Say say) => JsonNode.Parse(say.Json)!["type"]!.GetValue<string>();

    private static string? Register(IActorRef room, TestProbe socket, Role role, string? connectionId, bool rejoin = false)
    {
        room.Tell(new Register(Room, role, connectionId, rejoin), socket.Ref);
        return socket.ExpectMsg<Registered>().ConnectionId;
    }

    [Fact]
    public void A_phone_and_its_daemon_data_socket_are_linked_to_each_other_and_the_control_is_told()
    {
        var room = NewRoom();
        var control = CreateTestProbe();
        Register(room, control, Role.Server, null);
        Assert.Equal("sync", TypeOf(control.ExpectMsg<Say>()));

        var phone = CreateTestProbe();
        var connectionId = Register(room, phone, Role.Client, null);
        Assert.StartsWith("conn_", connectionId);
        var connected = JsonNode.Parse(control.ExpectMsg<Say>().Json)!;
        Assert.Equal(connectionId, connected["connectionId"]!.GetValue<string>());

        var data = CreateTestProbe();
        Register(room, data, Role.Server, connectionId);
        Assert.Equal(new Link(data.Ref, true), phone.ExpectMsg<Link>());
        Assert.Equal(new Link(phone.Ref, false), data.ExpectMsg<Link>());
    }

    [Fact]
    public void A_lost_data_socket_closes_its_phones_with_1012_and_a_lost_last_phone_closes_its_data_socket_and_is_told()
    {
        var room = NewRoom();
        var control = CreateTestProbe();
        Register(room, control, Role.Server, null);
        control.ExpectMsg<Say>();
        var phone = CreateTestProbe();
        Register(room, phone, Role.Client, "c1");
        control.ExpectMsg<Say>();
        var data = CreateTestProbe();
        Register(room, data, Role.Server, "c1");
        phone.ExpectMsg<Link>();
        data.ExpectMsg<Link>();

        // The data socket's node is lost (its actor is gone): the phone is closed as on one node.
        Sys.Stop(data.Ref);
        Assert.Equal(new CloseSocket(1012, "Server disconnected"), phone.ExpectMsg<CloseSocket>());
        Assert.Equal("disconnected", TypeOf(control.ExpectMsg<Say>()));

        // A phone whose last fellow leaves closes the connection's data socket (1001) and the control is told.
        var phone2 = CreateTestProbe();
        Register(room, phone2, Role.Client, "c2");
        control.ExpectMsg<Say>();
        var data2 = CreateTestProbe();
        Register(room, data2, Role.Server, "c2");
        phone2.ExpectMsg<Link>();
        data2.ExpectMsg<Link>();
        Sys.Stop(phone2.Ref);
        Assert.Equal(new CloseSocket(1001, "Client disconnected"), data2.ExpectMsg<CloseSocket>());
        var disconnected = JsonNode.Parse(control.ExpectMsg<Say>().Json)!;
        Assert.Equal(("disconnected", "c2"), (disconnected["type"]!.GetValue<string>(), disconnected["connectionId"]!.GetValue<string>()));
    }

    [Fact]
    public void Phones_beyond_the_limit_are_refused_and_a_new_control_replaces_the_old()
    {
        var room = NewRoom(RelayLimits.Default with { MaxClientsPerServer = 2 });
        Register(room, CreateTestProbe(), Role.Client, null);
        Register(room, CreateTestProbe(), Role.Client, null);
        var third = CreateTestProbe();
        room.Tell(new Register(Room, Role.Client, null, false), third.Ref);
        Assert.Equal(new Refused(1013, "Too many clients"), third.ExpectMsg<Refused>());

        var control = CreateTestProbe();
        Register(room, control, Role.Server, null);
        control.ExpectMsg<Say>();
        Register(room, CreateTestProbe(), Role.Server, null);
        Assert.Equal(new CloseSocket(1008, "Replaced by new connection"), control.ExpectMsg<CloseSocket>());
    }

    [Fact]
    public void A_rebuilt_room_relinks_sockets_that_register_again_and_answers_a_repeated_registration_the_same()
    {
        // The room's node was lost: a new room gets the survivors' registrations, in any order.
        var room = NewRoom();
        var phone = CreateTestProbe();
        Assert.Equal("c1", Register(room, phone, Role.Client, "c1", rejoin: true));
        var data = CreateTestProbe();
        Register(room, data, Role.Server, "c1", rejoin: true);
        Assert.Equal(new Link(data.Ref, true), phone.ExpectMsg<Link>());
        Assert.Equal(new Link(phone.Ref, false), data.ExpectMsg<Link>());
        var control = CreateTestProbe();
        Register(room, control, Role.Server, null, rejoin: true);
        var sync = JsonNode.Parse(control.ExpectMsg<Say>().Json)!;
        Assert.Equal("c1", sync["connectionIds"]![0]!.GetValue<string>());

        // The phone's retry crossed the answer: same connection, same link, no second phone.
        Assert.Equal("c1", Register(room, phone, Role.Client, "c1", rejoin: true));
        phone.ExpectMsg<Link>();
        data.ExpectMsg<Link>();
        control.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Rooms_beyond_max_rooms_on_this_node_refuse_their_sockets()
    {
        var count = new LocalRoomCount();
        var limits = RelayLimits.Default with { MaxRooms = 1 };
        var first = Sys.ActorOf(RelayRoomEntity.Props(Room, limits, count));
        var probe = CreateTestProbe();
        first.Tell(new Register(Room, Role.Server, null, false), probe.Ref);
        probe.ExpectMsg<Registered>();
        probe.ExpectMsg<Say>();
        var second = Sys.ActorOf(RelayRoomEntity.Props(new RelayRoomId("srv_other", 2), limits, count));
        second.Tell(new Register(new RelayRoomId("srv_other", 2), Role.Server, null, false), probe.Ref);
        Assert.Equal(new Refused(1013, "Relay full"), probe.ExpectMsg<Refused>());
    }

    [Fact]
    public void A_late_rejoin_of_a_replaced_socket_does_not_take_its_place_back()
    {
        var room = NewRoom();
        var old = CreateTestProbe();
        Register(room, old, Role.Server, null);
        old.ExpectMsg<Say>();
        var current = CreateTestProbe();
        Register(room, current, Role.Server, null);
        old.ExpectMsg<CloseSocket>();
        current.ExpectMsg<Say>();

        // The replaced control's rejoin (sent before it learned it was replaced) arrives now: refused, the current stays.
        room.Tell(new Register(Room, Role.Server, null, Rejoin: true), old.Ref);
        Assert.Equal(new Refused(1008, "Replaced by new connection"), old.ExpectMsg<Refused>());
        current.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        var phone = CreateTestProbe();
        Register(room, phone, Role.Client, "c1");
        Assert.Equal("connected", TypeOf(current.ExpectMsg<Say>()));
    }
}
