using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// The steps every kind of connection (a WebSocket of its own, a Server-Sent Events stream, a
/// multiplexed socket) runs the same way: its writer, its reader, its join, its leave and its end.
/// </summary>
internal static class ConnectionSteps
{
    /// <summary>Runs the writer loop; a client that has gone (in whatever way its server fails it) ends it quietly.</summary>
    public static async Task WriteAsync(ConnectionWriter writer, string label, ILogger logger, CancellationToken aborted)
    {
        try
        {
            await writer.RunAsync(aborted);
        }
        catch (Exception ex)
        {
            Log.ConnectionLost(logger, label, ex.Message);
        }
    }

    /// <summary>Runs a socket's reader; a violation asks for its close and reads on until the client's answer.</summary>
    public static async Task ReadAsync(InboundReader reader, SendQueue queue, string label, ILogger logger, CancellationToken aborted)
    {
        try
        {
            if (await reader.RunAsync(aborted) is var (status, reason))
            {
                Log.ClosedByServer(logger, label, status, reason);
                queue.RequestClose(status, reason);
                await reader.DrainUntilCloseAsync();
            }
        }
        catch (Exception ex)
        {
            Log.ConnectionLost(logger, label, ex.Message);
        }
    }

    /// <summary>Joins the channel; a join that fails closes the connection with 1013, quietly if the client has already gone.</summary>
    public static async Task<IAsyncDisposable?> JoinAsync(
        SubscriptionRegistry registry, string channel, ConnectionSubscription subscription, SendQueue queue, ILogger logger, CancellationToken aborted)
    {
        try
        {
            return await registry.JoinAsync(channel, subscription, aborted);
        }
        catch (Exception ex)
        {
            if (!aborted.IsCancellationRequested)
            {
                Log.JoinFailed(logger, channel, ex);
                queue.RequestClose(CloseStatuses.TryAgainLater, "Subscription failed; retry later");
            }

            return null;
        }
    }

    /// <summary>Leaves the channel now, or as soon as a join still under way (a broker that does not answer) completes.</summary>
    public static void LeaveWhenJoined(Task<IAsyncDisposable?> joining, string channel, ILogger logger)
    {
        _ = LeaveAsync();

        async Task LeaveAsync()
        {
            try
            {
                if (await joining is { } membership)
                {
                    await membership.DisposeAsync();
                }
            }
            catch (Exception ex)
            {
                Log.UnsubscribeFailed(logger, channel, ex);
            }
        }
    }

    /// <summary>
    /// Ends a socket's two loops, whatever ended the socket: it is aborted unless it closed, its queue
    /// stopped, and both loops awaited.
    /// </summary>
    public static Task StopAsync(WebSocket socket, SendQueue queue, Task writing, Task reading)
    {
        if (socket.State != WebSocketState.Closed)
        {
            socket.Abort();
        }

        queue.Stop();
        return Task.WhenAll(writing, reading);
    }
}
