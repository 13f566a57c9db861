using System.Text;
using System.Text.Json;

namespace Uploadista.Events;

/// <summary>What a client may send (<c>{"type":"ping"}</c>), and the pong it gets back.</summary>
internal static class ClientMessage
{
    /// <summary>Checks that <paramref name="message"/> is one complete JSON value and whether it is a ping.</summary>
    /// <returns><see langword="false"/> if the message is not valid JSON.</returns>
    public static bool TryRead(ReadOnlySpan<byte> message, out bool isPing)
    {
        isPing = false;
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = 32 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    isPing = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("ping"u8);
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Builds <c>{"type":"pong","timestamp":"...","epoch":"..."}</c>; the epoch is the connection's, for
    /// resuming with <c>since</c> and <c>epoch</c>, and is left out while the channel has none.
    /// </summary>
    public static byte[] Pong(DateTimeOffset now, string? epoch)
        => Encoding.UTF8.GetBytes(epoch is null
            ? $"{{\"type\":\"pong\",\"timestamp\":\"{UtcTimestampConverter.ToWireString(now)}\"}}"
            : $"{{\"type\":\"pong\",\"timestamp\":\"{UtcTimestampConverter.ToWireString(now)}\",\"epoch\":\"{epoch}\"}}");
}
