using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Writes through the socket's own <see cref="WebSocket.SendAsync(ReadOnlyMemory{byte}, WebSocketMessageType, bool, CancellationToken)"/>,
/// one call per message: what any server supports, used where the transport cannot be captured.
/// </summary>
internal sealed class SocketFrameWriter(WebSocket socket) : IFrameWriter
{
    public async ValueTask WriteAsync(byte[]? pong, ReadOnlyMemory<ChannelEvent?> events, CancellationToken cancellationToken)
    {
        if (pong is not null)
        {
            await socket.SendAsync(pong, WebSocketMessageType.Text, true, cancellationToken);
        }

        for (var i = 0; i < events.Length; i++)
        {
            await socket.SendAsync(events.Span[i]!.Frame, WebSocketMessageType.Text, true, cancellationToken);
        }
    }

    public ValueTask CloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
        => SocketClose.SendAsync(socket, status, description, cancellationToken);
}

/// <summary>Sends a close frame if the socket can still send one.</summary>
internal static class SocketClose
{
    public static async ValueTask SendAsync(WebSocket socket, WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await socket.CloseOutputAsync(status, description, cancellationToken);
        }
    }
}
