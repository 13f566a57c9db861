using System.Buffers;
using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Reads what a client sends (protocol.md section 3): a ping gets a pong, other JSON is ignored, and
/// anything else closes the connection. Messages are limited in size and rate; frames and bytes are
/// limited per second too, by the transport's <see cref="InboundMeter"/> where it is captured, and
/// here, per receive, where it is not (there the WebSocket answers pings without telling us).
/// A multiplexed socket passes a <paramref name="handler"/> for its subscribe and unsubscribe messages,
/// which have an allowance of their own: only the messages it does not claim count against
/// <see cref="UploadistaEventsOptions.MaxInboundMessagesPerSecond"/>.
/// </summary>
internal sealed class InboundReader(
    WebSocket socket, SendQueue queue, UploadistaEventsOptions options, TimeProvider time, InboundBudget? budget, ClientMessageHandler? handler = null)
{
    private readonly SecondWindow _messages = new(time);

    /// <summary>Reads until the client closes, or until it breaks the protocol (then returns the close to send).</summary>
    /// <returns>The close the server sends for a violation, or null when the client closed or the connection was lost.</returns>
    public async Task<(WebSocketCloseStatus Status, string Reason)?> RunAsync(CancellationToken aborted)
    {
        while (true)
        {
            // A zero-byte read waits for the next frame without holding a buffer, so an idle
            // connection keeps none; one is rented only while a message is read.
            var next = await socket.ReceiveAsync(Memory<byte>.Empty, aborted);
            if (next.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            if (budget?.Spend(1, 0) is { } flood)
            {
                return flood;
            }

            // With a handler, a message is counted once it is known not to be the handler's.
            if (handler is null && CountMessage() is { } tooMany)
            {
                return tooMany;
            }

            if (next.MessageType == WebSocketMessageType.Binary)
            {
                return (CloseStatuses.BinaryFrame, "Binary frames are not accepted");
            }

            if (next.EndOfMessage)
            {
                return (CloseStatuses.InvalidJson, "Messages must be JSON; an empty one is not");
            }

            if (await ReadMessageAsync(aborted) is { } violation)
            {
                return violation.Status == CloseStatuses.Normal ? null : violation;
            }
        }
    }

    /// <summary>
    /// After the server asked to close, reads and ignores what the client still sends until its close
    /// frame (or <see cref="UploadistaEventsOptions.CloseTimeout"/>), so the closing handshake completes
    /// instead of the connection being reset with data unread. The budget still applies.
    /// </summary>
    public async Task DrainUntilCloseAsync()
    {
        using var deadline = new CancellationTokenSource(options.CloseTimeout, time);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), deadline.Token);
                if (result.MessageType == WebSocketMessageType.Close || budget?.Spend(1, result.Count) is not null)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client did not answer in time; the connection ends anyway.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private (WebSocketCloseStatus Status, string Reason)? CountMessage()
    {
        return _messages.Add(1) > options.MaxInboundMessagesPerSecond
            ? (CloseStatuses.TooManyMessages, $"More than {options.MaxInboundMessagesPerSecond} messages a second")
            : null;
    }

    /// <summary>Reads the rest of one text message and acts on it.</summary>
    /// <returns>The close for a violation; <see cref="CloseStatuses.Normal"/> if the client closed mid-message; null if the message was fine.</returns>
    private async ValueTask<(WebSocketCloseStatus Status, string Reason)?> ReadMessageAsync(CancellationToken aborted)
    {
        var limit = options.MaxInboundMessageBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        try
        {
            var length = 0;
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length, limit + 1 - length), aborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (CloseStatuses.Normal, string.Empty);
                }

                length += result.Count;
                if (budget?.Spend(result.Count == 0 ? 1 : 0, result.Count) is { } flood)
                {
                    return flood;
                }

                if (length > limit)
                {
                    return (CloseStatuses.TooLarge, $"Messages are limited to {limit} bytes");
                }

                if (result.EndOfMessage)
                {
                    break;
                }
            }

            if (length == 0 || !ClientMessage.TryRead(buffer.AsSpan(0, length), out var isPing))
            {
                return (CloseStatuses.InvalidJson, "Messages must be JSON");
            }

            if (handler is not null && handler(buffer.AsSpan(0, length), out var handled))
            {
                return handled;
            }

            if (handler is not null && CountMessage() is { } tooMany)
            {
                return tooMany;
            }

            if (isPing)
            {
                queue.RequestPong();
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Acts on a client's message if it is one of the handler's; <paramref name="violation"/> is then the close to send, if any.</summary>
/// <returns>Whether the message was the handler's.</returns>
internal delegate bool ClientMessageHandler(ReadOnlySpan<byte> message, out (WebSocketCloseStatus Status, string Reason)? violation);
