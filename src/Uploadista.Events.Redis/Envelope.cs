using System.Buffers.Text;
using System.Text;

namespace Uploadista.Events.Redis;

/// <summary>
/// Reads what <see cref="PublishScript"/> publishes and retains: <c>seq:epoch:keyLength:key</c> followed
/// by the frame, a JSON object. The key's length is in bytes, so a key may hold any character.
/// </summary>
internal static class Envelope
{
    public static bool TryParse(byte[] message, out ChannelEvent? channelEvent)
    {
        channelEvent = null;
        ReadOnlySpan<byte> rest = message;
        if (!TryReadNumber(ref rest, out var seq) || seq <= 0)
        {
            return false;
        }

        var epochEnd = rest.IndexOf((byte)':');
        if (epochEnd <= 0)
        {
            return false;
        }

        var epoch = Encoding.UTF8.GetString(rest[..epochEnd]);
        rest = rest[(epochEnd + 1)..];
        if (!TryReadNumber(ref rest, out var keyLength) || keyLength < 0 || keyLength > rest.Length)
        {
            return false;
        }

        var key = keyLength == 0 ? null : Encoding.UTF8.GetString(rest[..(int)keyLength]);
        var frameStart = message.Length - rest.Length + (int)keyLength;
        var frame = message.AsMemory(frameStart);
        if (frame.Length < 2 || frame.Span[0] != (byte)'{' || frame.Span[^1] != (byte)'}')
        {
            return false;
        }

        channelEvent = new ChannelEvent(seq, epoch, frame, key);
        return true;
    }

    /// <summary>Reads digits up to a ':' and moves past it.</summary>
    private static bool TryReadNumber(ref ReadOnlySpan<byte> rest, out long value)
    {
        var end = rest.IndexOf((byte)':');
        if (end <= 0 || !Utf8Parser.TryParse(rest[..end], out value, out var consumed) || consumed != end)
        {
            value = 0;
            return false;
        }

        rest = rest[(end + 1)..];
        return true;
    }
}
