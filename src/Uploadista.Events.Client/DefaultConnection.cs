using System.Net.WebSockets;

namespace Uploadista.Events.Client;

/// <summary>The connection a client opens unless told otherwise: a <see cref="ClientWebSocket"/>.</summary>
internal static class DefaultConnection
{
    public static async Task<WebSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        // The server pings every 15 s too; these catch a half-open connection from this side.
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(30);
        try
        {
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (WebSocketException) when (IsRefusal((int)socket.HttpStatusCode))
        {
            var status = (int)socket.HttpStatusCode;
            socket.Dispose();
            // docs/protocol.md maps these refusals to the close statuses a socket would have received.
            throw new WatchRefusedException(status switch { 401 => 4401, 403 => 4403, _ => 1008 }, reason: null, status);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A 4xx the same request would get again: not 408 (timeout) or 429 (too many connections), which
    /// pass, and so are retried with backoff like 5xx and network failures.
    /// </summary>
    private static bool IsRefusal(int status) => status is >= 400 and < 500 and not 408 and not 429;
}
