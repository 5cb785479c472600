using System.Text;
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
/// Every message that crosses relay nodes goes through our serializer (found by Akka's binding, not picked by hand) and
/// comes back equal: frames, random in kind, content and size up to the relay's frame cap, byte for byte.
/// </summary>
public sealed class RelayClusterSerializerSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon + RelayClusterSerializer.Hocon, output)
{
    private object RoundTrip(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<RelayClusterSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
    }

    [Fact]
    public void Random_frames_up_to_the_size_cap_come_back_byte_for_byte()
    {
        var random = new Random(14);
        var sizes = new List<int> { 0, 1, 2, RelayLimits.Default.MaxFrameBytes };
        for (var i = 0; i < 300; i++) sizes.Add(random.Next(0, i < 290 ? 70_000 : RelayLimits.Default.MaxFrameBytes));
        foreach (var size in sizes)
        {
            if (random.Next(2) == 0)
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                var back = Assert.IsType<PeerFrame>(RoundTrip(new PeerFrame(new WireFrame.Binary(bytes))));
                Assert.True(Assert.IsType<WireFrame.Binary>(back.Frame).Value.Span.SequenceEqual(bytes), $"binary frame of {size} bytes");
            }
            else
            {
                var text = RandomText(random, Math.Min(size, 1_000_000));
                var back = Assert.IsType<PeerFrame>(RoundTrip(new PeerFrame(new WireFrame.Text(text))));
                Assert.Equal(text, Assert.IsType<WireFrame.Text>(back.Frame).Value);
            }
        }
    }

    /// <summary>Valid UTF-16 text (what a WebSocket text frame decodes to): ASCII, accents, CJK and emoji (surrogate pairs).</summary>
    private static string RandomText(Random random, int length)
    {
        var text = new StringBuilder(length);
        while (text.Length < length)
            switch (random.Next(4))
            {
                case 0: text.Append((char)random.Next(0x20, 0x7F)); break;
                case 1: text.Append((char)random.Next(0xC0, 0x17F)); break;
                case 2: text.Append((char)random.Next(0x4E00, 0x9FFF)); break;
                default: text.Append(char.ConvertFromUtf32(random.Next(0x1F300, 0x1F6FF))); break;
            }
        return text.ToString();
    }

    [Fact]
    public void Every_other_message_comes_back_equal_with_its_actor_refs_resolved()
    {
        var socket = CreateTestProbe("socket").Ref;
        var messages = new object[]
        {
            new Register(new RelayRoomId("srv_a:b/c ü", 2), Role.Client, null, false),
            new Register(new RelayRoomId("srv", 1), Role.Server, "conn_0123456789abcdef", true),
            new Registered(null),
            new Registered("conn_x"),
            new Refused(1013, "Too many clients"),
            new Link(socket, true),
            new Link(socket, false),
            new Unlink(socket),
            new Say("{\"type\":\"sync\",\"connectionIds\":[\"a\"]}"),
            new CloseSocket(1012, "Server disconnected"),
            new Ack(16, 70_000_000_000),
            AckRequest.Instance,
            RegisterAgain.Instance,
        };
        foreach (var message in messages) Assert.Equal(message, RoundTrip(message));
    }

    [Fact]
    public void A_damaged_message_is_a_serialization_error_not_a_wrong_message()
    {
        var serializer = (RelayClusterSerializer)Sys.Serialization.FindSerializerForType(typeof(Register));
        var bytes = serializer.ToBinary(new Register(new RelayRoomId("srv", 2), Role.Client, "c", false));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes[..^3], "R"));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([9, 1, 2], "F"));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([], "Z"));
    }
}
