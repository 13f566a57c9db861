using System.Buffers;
using System.Net.WebSockets;

namespace Uploadista.Events.Client;

/// <summary>One connection of a watch: whole text frames in, a ping out, a polite close at the end.</summary>
internal sealed class WatchSocket(WebSocket socket) : IAsyncDisposable
{
    /// <summary>Events are a few hundred bytes; a frame this large is not one, and ends the connection.</summary>
    internal const int MaxFrameBytes = 1 << 20;

    private static readonly ReadOnlyMemory<byte> Ping = "{\"type\":\"ping\"}"u8.ToArray();

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);

    /// <summary>The next frame; a close (<see cref="Frame.Dropped"/> when the connection failed without one) ends the connection.</summary>
    public async ValueTask<Frame> ReceiveAsync(CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length && !Grow())
            {
                socket.Abort();
                return Frame.Closed(1009, reason: null); // WatchRefusedException says what 1009 means here
            }

            ValueWebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(_buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsFailure(e, cancellationToken))
            {
                return Frame.Closed(Frame.Dropped, e.Message);
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return Frame.Closed((int?)socket.CloseStatus ?? Frame.Dropped, socket.CloseStatusDescription);
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                if (result.MessageType == WebSocketMessageType.Text)
                {
                    return Frame.Parse(_buffer.AsSpan(0, length));
                }

                length = 0; // the protocol has no binary frames from the server
            }
        }
    }

    /// <summary>Asks for a pong, which names the epoch of the connection's events.</summary>
    public async ValueTask PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendAsync(Ping, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            // The connection failed; the next receive says so.
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> says the connection failed, rather than that the watch was cancelled:
    /// an aborted socket (its keep-alive got no pong: a half-open connection) throws
    /// <see cref="OperationCanceledException"/> too, with no cancellation asked.
    /// </summary>
    private static bool IsFailure(Exception e, CancellationToken cancellationToken)
        => e is WebSocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested;

    public async ValueTask DisposeAsync()
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Closing is a courtesy: a server that does not hear it drops the connection itself.
            }
        }

        socket.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private bool Grow()
    {
        if (_buffer.Length >= MaxFrameBytes)
        {
            return false;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, MaxFrameBytes));
        _buffer.CopyTo(larger, 0);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
        return true;
    }
}
