using System.Text.Json.Nodes;
using Paseo.Transport.Crypto;

namespace Paseo.Host.Tests.Support;

public static class E2eeChannelExtensions
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>The next decrypted JSON frame matching the predicate; frames before it are consumed.</summary>
    public static async Task<JsonObject> NextAsync(this E2eeClientChannel channel, Func<JsonObject, bool> predicate)
    {
        while (true)
        {
            var message = await channel.Messages.ReadAsync().AsTask().WaitAsync(Wait);
            var frame = (JsonObject)JsonNode.Parse(message.Text)!;
            if (predicate(frame)) return frame;
        }
    }
}
