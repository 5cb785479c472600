using System.Text;

namespace Paseo.Transport.Channels;

/// <summary>One WebSocket message as it travels: text or binary, whole (never a fragment).</summary>
public abstract record WireFrame
{
    /// <summary>The size that limits apply to: UTF-8 bytes of a text frame, bytes of a binary one.</summary>
    public abstract int ByteLength { get; }

    public sealed record Text(string Value) : WireFrame
    {
        public override int ByteLength => Encoding.UTF8.GetByteCount(Value);
    }

    public sealed record Binary(ReadOnlyMemory<byte> Value) : WireFrame
    {
        public override int ByteLength => Value.Length;
    }
}

/// <summary>How a frame transport ended: the close code and reason, and whether the peer or this side closed it.</summary>
public sealed record TransportClosure(int Code, string Reason, bool ByPeer);

/// <summary>WebSocket close codes this project sends (RFC 6455 §7.4 plus Paseo's application codes).</summary>
public static class CloseCodes
{
    public const int Normal = 1000;
    public const int GoingAway = 1001;
    public const int Abnormal = 1006;
    public const int PolicyViolation = 1008;
    public const int MessageTooBig = 1009;
    public const int InternalError = 1011;
    public const int TryAgainLater = 1013;
    /// <summary>Paseo's client closes its relay socket with this when it cannot even start the handshake.</summary>
    public const int ClientHandshakeFailed = 4001;
    /// <summary>The daemon's answer to a missing or wrong password (after accepting the upgrade, as Paseo does).</summary>
    public const int Unauthorized = 4401;
}
