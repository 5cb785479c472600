using System.Text.Json.Nodes;
using Paseo.Transport.Crypto;

namespace Paseo.Host.Tests.Support;

public static class E2eeChannelExtensions
{
    /// <summary>The next decrypted message whose plaintext is not JSON (a binary frame), as bytes; JSON before it is consumed.</summary>
    public static async Task<byte[]> NextBinaryAsync(this E2eeClientChannel channel)
    {
        while (true)
        {
            var message = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
            if (message.Bytes.Length > 0 && message.Bytes.Span[0] != (byte)'{') return message.Bytes.ToArray();
        }
    }

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>The next decrypted JSON frame matching the predicate; frames before it are consumed.</summary>
    public static async Task<JsonObject> NextAsync(this E2eeClientChannel channel, Func<JsonObject, bool> predicate)
    {
        while (true)
        {
            var message = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
            // A binary frame's plaintext may be valid UTF-8 too: JSON is what starts with `{`.
            if (message.Bytes.Length == 0 || message.Bytes.Span[0] != (byte)'{') continue;
            var frame = (JsonObject)JsonNode.Parse(message.Text)!;
            if (predicate(frame)) return frame;
        }
    }
}
