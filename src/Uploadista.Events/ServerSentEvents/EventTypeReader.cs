using System.Text.Json;

namespace Uploadista.Events;

/// <summary>
/// Reads what Server-Sent Events need of a frame: its top-level <c>type</c> value (the <c>event:</c>
/// line) and whether it holds line breaks. It runs once per event (<see cref="ChannelEvent"/> caches
/// the answer, packed in a long), not once per connection.
/// </summary>
internal static class EventTypeReader
{
    // The packing: bit 62 says it was read (so the answer is never 0), bit 61 that the frame has line
    // breaks, bits 32-60 where the type's value starts, bits 0-31 its length (0: none usable).
    private const long ReadFlag = 1L << 62;
    private const long LineBreaksFlag = 1L << 61;
    private const long OffsetMask = (1L << 29) - 1;

    /// <summary>Reads the frame's layout (never 0).</summary>
    public static long Read(ReadOnlySpan<byte> frame)
    {
        var layout = ReadFlag | FindType(frame);
        return frame.IndexOfAny((byte)'\n', (byte)'\r') >= 0 ? layout | LineBreaksFlag : layout;
    }

    public static ReadOnlyMemory<byte> TypeOf(ReadOnlyMemory<byte> frame, long layout)
        => frame.Slice((int)((layout >> 32) & OffsetMask), (int)(layout & uint.MaxValue));

    public static bool HasLineBreaks(long layout) => (layout & LineBreaksFlag) != 0;

    private static long FindType(ReadOnlySpan<byte> frame)
    {
        try
        {
            var reader = new Utf8JsonReader(frame);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return 0;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                if (!reader.Read())
                {
                    return 0;
                }

                if (isType)
                {
                    // Only a value without escapes goes on the line as it is (a JSON string holds no
                    // raw line break, so it cannot end the line early). TokenStartIndex is its quote.
                    var start = reader.TokenStartIndex + 1;
                    return reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && start <= OffsetMask
                        ? (start << 32) | (uint)reader.ValueSpan.Length
                        : 0;
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not JSON the library wrote: sent without an event: line (a "message" event).
        }

        return 0;
    }
}
