using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Writes a connection's messages to its client. A connection's writer loop is its only caller, so
/// calls never overlap. One implementation writes ready-made WebSocket frames straight to the captured
/// transport, many at once; the other goes through <see cref="WebSocket.SendAsync(ReadOnlyMemory{byte}, WebSocketMessageType, bool, CancellationToken)"/>
/// where the transport cannot be captured (TestServer, another server).
/// </summary>
internal interface IFrameWriter
{
    /// <summary>Writes the pong (if any), then each event as its own text message, in order.</summary>
    ValueTask WriteAsync(byte[]? pong, ReadOnlyMemory<ChannelEvent?> events, CancellationToken cancellationToken);

    /// <summary>Sends the close frame (the client's answer is read by the receiving side).</summary>
    ValueTask CloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken);
}
