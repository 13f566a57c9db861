using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>An accepted connection as the <see cref="ConnectionTracker"/> knows it: shutdown closes it through its queue.</summary>
internal sealed class OpenConnection(SendQueue queue, Action abort)
{
    public OpenConnection(SendQueue queue, WebSocket socket)
        : this(queue, socket.Abort)
    {
    }

    public SendQueue Queue => queue;

    /// <summary>Gets the number of events waiting to be sent.</summary>
    public int QueuedCount => queue.Count;

    /// <summary>Gets the close status the server chose, or <see langword="null"/> while none was requested.</summary>
    public WebSocketCloseStatus? CloseStatus => queue.CloseStatus;

    /// <summary>Drops the connection at once, without a closing handshake, as a failed network would.</summary>
    public void Abort() => abort();
}
