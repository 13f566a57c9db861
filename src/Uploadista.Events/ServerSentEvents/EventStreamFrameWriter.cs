using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text.Json;

namespace Uploadista.Events;

/// <summary>
/// Writes a connection's messages as Server-Sent Events to the response body: each event is
/// <c>id:</c> (its seq), <c>event:</c> (its type) and <c>data:</c> (the same JSON frame the WebSocket
/// sends) lines, written straight into the pipe's pooled buffers and flushed once per batch; a pong
/// (the heartbeat) is a comment line. The close is a last <c>close</c> event naming the status and
/// reason, since the stream has no close frame.
/// </summary>
internal sealed class EventStreamFrameWriter(PipeWriter body) : IFrameWriter
{
    private const int MaxSeqDigits = 20;

    /// <summary>A comment: ignored by <c>EventSource</c>, but traffic that keeps proxies from timing the stream out.</summary>
    internal static ReadOnlySpan<byte> Heartbeat => ":\n\n"u8;

    private static ReadOnlySpan<byte> IdField => "id:"u8;

    private static ReadOnlySpan<byte> EventField => "\nevent:"u8;

    private static ReadOnlySpan<byte> DataField => "\ndata:"u8;

    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    public async ValueTask WriteAsync(byte[]? pong, ReadOnlyMemory<ChannelEvent?> events, CancellationToken cancellationToken)
    {
        Frame(pong is not null, events);
        await FlushAsync(cancellationToken);
    }

    public async ValueTask CloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
    {
        // After 4010 the client's last seq belongs to a run that is gone: the empty id clears it, so that
        // EventSource reconnects without a Last-Event-ID (the WHATWG parser resets it on an empty id).
        if (status == CloseStatuses.StateReset)
        {
            body.Write("id:\n"u8);
        }

        body.Write("event:close\ndata:"u8);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteNumber("code", (int)status);
            json.WriteString("reason", description);
            json.WriteEndObject();
        }

        body.Write(EventEnd);
        await FlushAsync(cancellationToken);
    }

    private void Frame(bool heartbeat, ReadOnlyMemory<ChannelEvent?> events)
    {
        if (heartbeat)
        {
            body.Write(Heartbeat);
        }

        foreach (var channelEvent in events.Span)
        {
            if (channelEvent!.FrameHasLineBreaks)
            {
                FrameLines(channelEvent);
            }
            else
            {
                FrameEvent(channelEvent);
            }
        }
    }

    /// <summary>One event into one span of the pipe: the JSON is copied once, and nothing is allocated.</summary>
    private void FrameEvent(ChannelEvent channelEvent)
    {
        var type = channelEvent.EventType.Span;
        var data = channelEvent.Frame.Span;
        var size = IdField.Length + MaxSeqDigits + (type.IsEmpty ? 0 : EventField.Length + type.Length) + DataField.Length + data.Length + EventEnd.Length;
        var span = body.GetSpan(size);
        var written = WriteHead(span, channelEvent.Seq, type);
        data.CopyTo(span[written..]);
        written += data.Length;
        EventEnd.CopyTo(span[written..]);
        body.Advance(written + EventEnd.Length);
    }

    /// <summary>
    /// A frame with line breaks (not one the library wrote, but a broadcaster's frames are opaque): each
    /// line is a <c>data:</c> line of its own, which the client joins back with line feeds.
    /// </summary>
    private void FrameLines(ChannelEvent channelEvent)
    {
        var type = channelEvent.EventType.Span;
        var head = body.GetSpan(IdField.Length + MaxSeqDigits + EventField.Length + type.Length + DataField.Length);
        var written = WriteHead(head, channelEvent.Seq, type);
        body.Advance(written - DataField.Length);
        var data = channelEvent.Frame.Span;
        while (true)
        {
            var end = data.IndexOfAny((byte)'\n', (byte)'\r');
            body.Write(DataField);
            body.Write(end < 0 ? data : data[..end]);
            if (end < 0)
            {
                break;
            }

            var next = end + (data[end] == '\r' && end + 1 < data.Length && data[end + 1] == '\n' ? 2 : 1);
            data = data[next..];
        }

        body.Write(EventEnd);
    }

    /// <summary>Writes <c>id:N</c>, <c>event:T</c> (when there is a type) and <c>data:</c>; returns the bytes written.</summary>
    private static int WriteHead(Span<byte> span, long seq, ReadOnlySpan<byte> type)
    {
        IdField.CopyTo(span);
        Utf8Formatter.TryFormat(seq, span[IdField.Length..], out var digits);
        var written = IdField.Length + digits;
        if (!type.IsEmpty)
        {
            EventField.CopyTo(span[written..]);
            written += EventField.Length;
            type.CopyTo(span[written..]);
            written += type.Length;
        }

        DataField.CopyTo(span[written..]);
        return written + DataField.Length;
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var result = await body.FlushAsync(cancellationToken);
        if (result.IsCompleted || result.IsCanceled)
        {
            // The response's reader is done: the client has gone. The writer loop ends on this.
            throw new IOException("The event stream's client has gone.");
        }
    }
}
