using System.Buffers.Binary;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using SerializationException = System.Runtime.Serialization.SerializationException;
using Paseo.Transport.Channels;
using static Paseo.Actors.RelayServer.Cluster.RelayClusterProtocol;

namespace Paseo.Actors.RelayServer.Cluster;

/// <summary>
/// The wire format of every <see cref="IRelayClusterMessage"/> between relay nodes: a one-letter manifest and a few
/// length-prefixed fields. A frame is one kind byte then its bytes as they came (a text frame's UTF-8, a binary frame's
/// bytes): no JSON and no base64 on the way, and a binary frame read back is a slice of the received array (no copy).
/// </summary>
public sealed class RelayClusterSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka reserves 0–40 for its own serializers.</summary>
    public const int Id = 4417;

    private const byte TextFrame = 0, BinaryFrame = 1;

    /// <summary>The binding: every <see cref="IRelayClusterMessage"/> is written by this serializer.</summary>
    public static readonly string Hocon = $$"""
        akka.actor {
          serializers.paseo-relay = "{{typeof(RelayClusterSerializer).AssemblyQualifiedName}}"
          serialization-bindings { "{{typeof(IRelayClusterMessage).AssemblyQualifiedName}}" = paseo-relay }
        }
        """;

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        PeerFrame => "F",
        Ack => "A",
        Register => "R",
        Registered => "D",
        Refused => "X",
        Link => "L",
        Unlink => "U",
        Say => "S",
        CloseSocket => "C",
        RegisterAgain => "G",
        AckRequest => "Q",
        _ => throw new ArgumentException($"{o.GetType()} is not a relay cluster message", nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        switch (obj)
        {
            case PeerFrame { Frame: WireFrame.Text text }:
            {
                var bytes = new byte[1 + Encoding.UTF8.GetByteCount(text.Value)];
                bytes[0] = TextFrame;
                Encoding.UTF8.GetBytes(text.Value, bytes.AsSpan(1));
                return bytes;
            }
            case PeerFrame { Frame: WireFrame.Binary binary }:
            {
                var bytes = new byte[1 + binary.Value.Length];
                bytes[0] = BinaryFrame;
                binary.Value.Span.CopyTo(bytes.AsSpan(1));
                return bytes;
            }
            case RegisterAgain or AckRequest:
                return [];
            case Ack ack:
            {
                var bytes = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, ack.Frames);
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), ack.Bytes);
                return bytes;
            }
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            switch (obj)
            {
                case Register register:
                    writer.Write(register.Room.Version);
                    writer.Write(register.Room.ServerId);
                    writer.Write((byte)register.Role);
                    WriteOptional(writer, register.ConnectionId);
                    writer.Write(register.Rejoin);
                    break;
                case Registered registered:
                    WriteOptional(writer, registered.ConnectionId);
                    break;
                case Refused refused:
                    writer.Write(refused.Code);
                    writer.Write(refused.Reason);
                    break;
                case Link link:
                    writer.Write(Serialization.SerializedActorPath(link.Peer));
                    writer.Write(link.Exclusive);
                    break;
                case Unlink unlink:
                    writer.Write(Serialization.SerializedActorPath(unlink.Peer));
                    break;
                case Say say:
                    writer.Write(say.Json);
                    break;
                case CloseSocket close:
                    writer.Write(close.Code);
                    writer.Write(close.Reason);
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not a relay cluster message", nameof(obj));
            }
        }
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        switch (manifest)
        {
            case "F":
                if (bytes.Length == 0) throw new SerializationException("A relay frame without its kind byte");
                return new PeerFrame(bytes[0] switch
                {
                    TextFrame => new WireFrame.Text(Encoding.UTF8.GetString(bytes, 1, bytes.Length - 1)),
                    BinaryFrame => new WireFrame.Binary(bytes.AsMemory(1)),
                    var kind => throw new SerializationException($"Unknown relay frame kind {kind}"),
                });
            case "G":
                return RegisterAgain.Instance;
            case "Q":
                return AckRequest.Instance;
            case "A":
                if (bytes.Length != 16) throw new SerializationException("An ack is 16 bytes");
                return new Ack(BinaryPrimitives.ReadInt64LittleEndian(bytes), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)));
        }
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        try
        {
            return manifest switch
            {
                "R" => ReadRegister(reader),
                "D" => new Registered(ReadOptional(reader)),
                "X" => new Refused(reader.ReadInt32(), reader.ReadString()),
                "L" => new Link(Resolve(reader.ReadString()), reader.ReadBoolean()),
                "U" => new Unlink(Resolve(reader.ReadString())),
                "S" => new Say(reader.ReadString()),
                "C" => new CloseSocket(reader.ReadInt32(), reader.ReadString()),
                _ => throw new SerializationException($"Unknown relay cluster manifest '{manifest}'"),
            };
        }
        catch (EndOfStreamException e)
        {
            throw new SerializationException($"A truncated relay cluster message '{manifest}': {e.Message}");
        }
    }

    private static Register ReadRegister(BinaryReader reader)
    {
        var version = reader.ReadInt32();
        var serverId = reader.ReadString();
        var role = reader.ReadByte() switch
        {
            0 => RelayRoomProtocol.Role.Server,
            1 => RelayRoomProtocol.Role.Client,
            var other => throw new SerializationException($"Unknown relay socket role {other}"),
        };
        return new Register(new RelayRoomId(serverId, version), role, ReadOptional(reader), reader.ReadBoolean());
    }

    private IActorRef Resolve(string path) => system.Provider.ResolveActorRef(path);

    private static void WriteOptional(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        if (value is not null) writer.Write(value);
    }

    private static string? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;
}
