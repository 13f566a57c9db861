using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Uploadista.Events;

/// <summary>
/// Writes timestamps as RFC 3339 UTC with millisecond precision (<c>2026-11-29T02:12:36.123Z</c>), the
/// form JavaScript's <c>Date.toISOString()</c> produces; reads any RFC 3339 time.
/// </summary>
internal sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
{
    private const int Length = 24; // yyyy-MM-ddTHH:mm:ss.fffZ

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => reader.GetDateTimeOffset().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        Span<byte> buffer = stackalloc byte[Length];
        Format(value, buffer);
        writer.WriteStringValue(buffer);
    }

    internal static void Format(DateTimeOffset value, Span<byte> destination)
    {
        var utc = value.UtcDateTime;
        Write(destination[0..4], utc.Year);
        destination[4] = (byte)'-';
        Write(destination[5..7], utc.Month);
        destination[7] = (byte)'-';
        Write(destination[8..10], utc.Day);
        destination[10] = (byte)'T';
        Write(destination[11..13], utc.Hour);
        destination[13] = (byte)':';
        Write(destination[14..16], utc.Minute);
        destination[16] = (byte)':';
        Write(destination[17..19], utc.Second);
        destination[19] = (byte)'.';
        Write(destination[20..23], utc.Millisecond);
        destination[23] = (byte)'Z';
    }

    private static void Write(Span<byte> destination, int value)
        => Utf8Formatter.TryFormat(value, destination, out _, new System.Buffers.StandardFormat('D', (byte)destination.Length));

    /// <summary>Formats <paramref name="value"/> as it appears in frames.</summary>
    internal static string ToWireString(DateTimeOffset value)
    {
        Span<byte> buffer = stackalloc byte[Length];
        Format(value, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer);
    }
}
