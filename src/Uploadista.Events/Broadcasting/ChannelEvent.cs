using System.Buffers.Text;

namespace Uploadista.Events;

/// <summary>
/// An event on a channel, with its sequence number, framed once and shared by every connection that
/// receives it.
/// </summary>
public sealed class ChannelEvent
{
    private static ReadOnlySpan<byte> SeqProperty => ",\"seq\":"u8;

    /// <summary>Initializes a new instance of the <see cref="ChannelEvent"/> class.</summary>
    /// <param name="seq">The event's sequence number in its channel.</param>
    /// <param name="frame">The complete UTF-8 JSON text frame, <c>seq</c> included.</param>
    /// <param name="conflationKey">The key of what the progress event supersedes, or <see langword="null"/>.</param>
    public ChannelEvent(long seq, ReadOnlyMemory<byte> frame, string? conflationKey)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        Seq = seq;
        Frame = frame;
        ConflationKey = conflationKey;
    }

    /// <summary>Gets the event's sequence number in its channel.</summary>
    public long Seq { get; }

    /// <summary>Gets the complete UTF-8 JSON text frame sent to clients.</summary>
    public ReadOnlyMemory<byte> Frame { get; }

    /// <summary>Gets the key of what this progress event supersedes, or <see langword="null"/>.</summary>
    public string? ConflationKey { get; }

    /// <summary>Frames <paramref name="publication"/> with sequence number <paramref name="seq"/>.</summary>
    /// <param name="seq">The sequence number assigned to the event.</param>
    /// <param name="publication">The serialized event.</param>
    /// <returns>The framed event.</returns>
    /// <exception cref="ArgumentException">The payload is not a JSON object.</exception>
    public static ChannelEvent Create(long seq, EventPublication publication)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        var frame = AppendSeq(publication.Payload.Span, seq)
            ?? throw new ArgumentException("The payload must be a JSON object.", nameof(publication));
        return new ChannelEvent(seq, frame, publication.ConflationKey);
    }

    /// <summary>Turns <c>{...}</c> into <c>{...,"seq":N}</c>, the one allocation per event and channel.</summary>
    private static byte[]? AppendSeq(ReadOnlySpan<byte> payload, long seq)
    {
        payload = payload.TrimEnd(" \t\r\n"u8);
        if (payload.Length < 2 || payload[0] != (byte)'{' || payload[^1] != (byte)'}')
        {
            return null;
        }

        var body = payload[..^1];
        var isEmpty = body.TrimEnd(" \t\r\n"u8).Length == 1;
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(seq, digits, out var digitCount);

        var separator = isEmpty ? SeqProperty[1..] : SeqProperty;
        var frame = new byte[body.Length + separator.Length + digitCount + 1];
        body.CopyTo(frame);
        separator.CopyTo(frame.AsSpan(body.Length));
        digits[..digitCount].CopyTo(frame.AsSpan(body.Length + separator.Length));
        frame[^1] = (byte)'}';
        return frame;
    }
}
