using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Uploadista.Events.Redis;

/// <summary>
/// Format 2 of what the broadcaster publishes and retains in Redis. One pub/sub message carries a
/// batch of events of one channel:
/// <c>U2 &lt;epoch&gt; &lt;first seq&gt; &lt;publisher&gt; &lt;batch&gt; &lt;count&gt;\n</c> followed by the events'
/// entries. Retained, a batch's entries are stored with its first seq beside them (see
/// <see cref="RedisKeys"/>). An entry is
/// <c>&lt;index&gt; &lt;key bytes&gt; &lt;payload bytes&gt; &lt;conflation key&gt;&lt;payload&gt;</c>: the event's seq is
/// the first seq plus its index, and its payload is the JSON object without <c>seq</c>, which the
/// reader adds. Lengths are in bytes, so keys and payloads may hold any character.
/// </summary>
/// <remarks>
/// Format 1 (the first release) published <c>seq:epoch:keyLength:key{json}</c>: it starts with a digit,
/// this format with <c>U2 </c>, so each release recognizes, drops and logs the other's messages.
/// </remarks>
internal static class BatchFormat
{
    private static ReadOnlySpan<byte> Marker => "U2 "u8;

    private static readonly string UploadProgressKey = "upload_progress";

    /// <summary>Appends one entry.</summary>
    public static void WriteEntry(IBufferWriter<byte> writer, int index, string? key, ReadOnlySpan<byte> payload)
    {
        var keyLength = key is null ? 0 : Encoding.UTF8.GetByteCount(key);
        var span = writer.GetSpan(3 * 11 + keyLength + payload.Length);
        var written = WriteNumber(span, index);
        written += WriteNumber(span[written..], keyLength);
        written += WriteNumber(span[written..], payload.Length);
        if (key is not null)
        {
            written += Encoding.UTF8.GetBytes(key, span[written..]);
        }

        payload.CopyTo(span[written..]);
        writer.Advance(written + payload.Length);
    }

    /// <summary>Whether <paramref name="message"/> is of format 1, published by an instance of the first release.</summary>
    public static bool IsFormat1(ReadOnlySpan<byte> message)
        => message.Length > 1 && char.IsAsciiDigit((char)message[0]) && message.IndexOf((byte)':') > 0;

    /// <summary>Reads a pub/sub message into its header and its events, in seq order.</summary>
    /// <param name="message">The message.</param>
    /// <param name="knownEpoch">The epoch the reader already holds, reused when the message is of the same.</param>
    /// <param name="header">The header.</param>
    /// <param name="events">Receives the events.</param>
    /// <returns><see langword="false"/> if the message is not a well-formed format 2 batch.</returns>
    public static bool TryParseMessage(ReadOnlyMemory<byte> message, string? knownEpoch, out MessageHeader header, List<ChannelEvent> events)
    {
        header = default;
        var span = message.Span;
        var lineEnd = span.IndexOf((byte)'\n');
        if (!span.StartsWith(Marker) || lineEnd < 0)
        {
            return false;
        }

        var line = span[Marker.Length..lineEnd];
        var epochEnd = line.IndexOf((byte)' ');
        if (epochEnd <= 0)
        {
            return false;
        }

        var epoch = EpochOf(line[..epochEnd], knownEpoch);
        line = line[(epochEnd + 1)..];
        var publisherStart = line.IndexOf((byte)' ') + 1;
        var publisherEnd = publisherStart > 0 ? line[publisherStart..].IndexOf((byte)' ') : -1;
        if (publisherEnd <= 0 || !TryReadNumber(ref line, out var first) || first <= 0)
        {
            return false;
        }

        var publisher = Encoding.UTF8.GetString(line[..publisherEnd]);
        line = line[(publisherEnd + 1)..];
        if (!TryReadNumber(ref line, out var batch) || !long.TryParse(line, out var count) || count <= 0 || count > int.MaxValue)
        {
            return false;
        }

        header = new MessageHeader(epoch, first, first + count - 1, publisher, batch);
        var before = events.Count;
        if (!TryReadEntries(message[(lineEnd + 1)..], epoch, first, (int)count, events) || events.Count - before != count)
        {
            events.RemoveRange(before, events.Count - before);
            return false;
        }

        // Events that are never superseded come first in the message, the progress after them.
        events.Sort(before, (int)count, SeqOrder.Instance);
        return true;
    }

    /// <summary>Reads retained entries of the batch whose first seq is <paramref name="first"/>.</summary>
    /// <returns><see langword="false"/> if they are not well formed; none is added then.</returns>
    public static bool TryParseEntries(ReadOnlyMemory<byte> entries, string epoch, long first, List<ChannelEvent> events)
    {
        var start = events.Count;
        if (TryReadEntries(entries, epoch, first, int.MaxValue, events) && events.Count > start)
        {
            return true;
        }

        events.RemoveRange(start, events.Count - start);
        return false;
    }

    private static bool TryReadEntries(ReadOnlyMemory<byte> entries, string epoch, long first, int indexLimit, List<ChannelEvent> events)
    {
        var offset = 0;
        while (offset < entries.Length)
        {
            var rest = entries.Span[offset..];
            var headerLength = rest.Length;
            if (!TryReadNumber(ref rest, out var index) || index < 0 || index >= indexLimit
                || !TryReadNumber(ref rest, out var keyLength) || keyLength < 0
                || !TryReadNumber(ref rest, out var payloadLength) || payloadLength < 2
                || keyLength + payloadLength > rest.Length)
            {
                return false;
            }

            offset += headerLength - rest.Length;
            var key = keyLength == 0 ? null : KeyOf(rest[..(int)keyLength]);
            var payload = entries.Slice(offset + (int)keyLength, (int)payloadLength);
            if (!IsJsonObject(payload.Span))
            {
                return false;
            }

            events.Add(ChannelEvent.Create(first + index, epoch, new EventPublication(payload, key)));
            offset += (int)(keyLength + payloadLength);
        }

        return true;
    }

    /// <summary>Whether <paramref name="payload"/> is exactly one well-formed, non-empty JSON object: nothing else may reach a browser.</summary>
    private static bool IsJsonObject(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 3 || payload[0] != (byte)'{' || payload[^1] != (byte)'}' || payload[1] == (byte)'}')
        {
            return false;
        }

        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 32 });
        try
        {
            return reader.Read() && reader.TrySkip() && reader.BytesConsumed == payload.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string EpochOf(ReadOnlySpan<byte> bytes, string? known)
        => known is not null && known.Length == bytes.Length && Encoding.UTF8.GetByteCount(known) == bytes.Length && IsSame(bytes, known)
            ? known
            : Encoding.UTF8.GetString(bytes);

    private static string KeyOf(ReadOnlySpan<byte> bytes)
        => IsSame(bytes, UploadProgressKey) ? UploadProgressKey : Encoding.UTF8.GetString(bytes);

    private static bool IsSame(ReadOnlySpan<byte> bytes, string text)
    {
        if (bytes.Length != text.Length)
        {
            return false;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != text[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads digits up to a space and moves past it.</summary>
    private static bool TryReadNumber(ref ReadOnlySpan<byte> rest, out long value)
    {
        var end = rest.IndexOf((byte)' ');
        if (end <= 0 || !Utf8Parser.TryParse(rest[..end], out value, out var consumed) || consumed != end)
        {
            value = 0;
            return false;
        }

        rest = rest[(end + 1)..];
        return true;
    }

    private static int WriteNumber(Span<byte> destination, long value)
    {
        Utf8Formatter.TryFormat(value, destination, out var written);
        destination[written] = (byte)' ';
        return written + 1;
    }

    private sealed class SeqOrder : IComparer<ChannelEvent>
    {
        public static readonly SeqOrder Instance = new();

        public int Compare(ChannelEvent? x, ChannelEvent? y) => x!.Seq.CompareTo(y!.Seq);
    }
}

/// <summary>The header of a format 2 message: which run and seqs it carries, and who published it.</summary>
internal readonly record struct MessageHeader(string Epoch, long First, long Last, string Publisher, long Batch);
