using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Frames the messages itself and writes them all to the captured transport at once, each its own
/// WebSocket message: one write (and one system call) for a burst instead of one per event. The
/// socket still reads, answers pings and sends the close; <see cref="FrameStream"/> keeps the two
/// writers from interleaving.
/// </summary>
internal sealed class TransportFrameWriter(WebSocket socket, Stream transport) : IFrameWriter
{
    public async ValueTask WriteAsync(byte[]? pong, ReadOnlyMemory<ChannelEvent?> events, CancellationToken cancellationToken)
    {
        var size = pong is null ? 0 : FrameSize(pong.Length);
        foreach (var channelEvent in events.Span)
        {
            size += FrameSize(channelEvent!.Frame.Length);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var written = pong is null ? 0 : WriteFrame(buffer, pong);
            foreach (var channelEvent in events.Span)
            {
                written += WriteFrame(buffer.AsSpan(written), channelEvent!.Frame.Span);
            }

            await transport.WriteAsync(buffer.AsMemory(0, written), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask CloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
        => SocketClose.SendAsync(socket, status, description, cancellationToken);

    private static int FrameSize(int payload) => payload + (payload < 126 ? 2 : payload <= ushort.MaxValue ? 4 : 10);

    /// <summary>Writes one final, unmasked text frame (RFC 6455 section 5.2): what a server sends.</summary>
    private static int WriteFrame(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        destination[0] = 0x81; // FIN, text
        int header;
        if (payload.Length < 126)
        {
            destination[1] = (byte)payload.Length;
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            header = 10;
        }

        payload.CopyTo(destination[header..]);
        return header + payload.Length;
    }
}
