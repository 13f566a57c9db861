using System.Buffers.Text;

namespace Uploadista.Events;

/// <summary>
/// Reads the publish time out of a frame, for the publish-to-write metric, without parsing the JSON:
/// the publisher writes <c>"timestamp":"yyyy-MM-ddTHH:mm:ss.fffZ"</c> as the event's last property
/// before <c>seq</c> (<see cref="UtcTimestampConverter"/>), so the last occurrence of that property
/// name is the event's own, whatever the strings before it hold.
/// </summary>
internal static class PublishTimestamp
{
    private const int Length = 24; // yyyy-MM-ddTHH:mm:ss.fffZ

    private static ReadOnlySpan<byte> Property => "\"timestamp\":\""u8;

    /// <summary>Reads the time, in UTC ticks; false for a frame without one in that form.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out long utcTicks)
    {
        utcTicks = 0;
        var at = frame.LastIndexOf(Property);
        if (at < 0 || frame.Length < at + Property.Length + Length)
        {
            return false;
        }

        var text = frame.Slice(at + Property.Length, Length);
        if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != '.' || text[23] != 'Z'
            || !TryNumber(text[0..4], out var year) || !TryNumber(text[5..7], out var month) || !TryNumber(text[8..10], out var day)
            || !TryNumber(text[11..13], out var hour) || !TryNumber(text[14..16], out var minute) || !TryNumber(text[17..19], out var second)
            || !TryNumber(text[20..23], out var millisecond)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        utcTicks = new DateTime(year, month, day, hour, minute, second, millisecond, DateTimeKind.Utc).Ticks;
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<byte> digits, out int value)
        => Utf8Parser.TryParse(digits, out value, out var consumed) && consumed == digits.Length && value >= 0;
}
