using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// Runs one accepted WebSocket: its writer, its reader and its join, side by side, until either side
/// closes; then the closing handshake, bounded by <see cref="UploadistaEventsOptions.CloseTimeout"/>.
/// Every way out (a close, a reset at any stage, a failed join, shutdown) goes through one
/// <c>finally</c> that stops both loops and leaves the channel, so nothing outlives the connection.
/// </summary>
internal sealed class WebSocketConnection(
    SubscriptionRegistry registry, UploadistaEventsOptions options, TimeProvider time, ILogger logger, UploadistaMetrics? metrics = null)
{
    public async Task RunAsync(WebSocket socket, FrameStream? transport, ConnectionRequest request, ConnectionTracker.Admission admission, CancellationToken aborted)
    {
        var channel = request.Channel;
        Log.ConnectionOpened(logger, channel, request.Since);
        var started = metrics?.ConnectionStarted() ?? 0;
        WebSocketCloseStatus? serverClose = null;
        var queue = new SendQueue(options.SendQueueCapacity, metrics);
        var subscription = new ConnectionSubscription(queue, request.Since, request.SinceEpoch);
        admission.Attach(new OpenConnection(queue, socket));

        IFrameWriter frames = transport is null ? new SocketFrameWriter(socket) : new TransportFrameWriter(socket, transport);
        var budget = new InboundBudget(options.MaxInboundFramesPerSecond, options.MaxInboundBytesPerSecond, time);
        transport?.Meter(new InboundMeter(budget), (status, reason) =>
        {
            Log.ClosedByServer(logger, channel, status, reason);
            metrics?.ServerClosed(status);
            queue.Stop();
        });

        var reader = new InboundReader(socket, queue, options, time, transport is null ? budget : null);
        var writing = WriteAsync(new ConnectionWriter(queue, frames, () => subscription.Epoch, time, metrics), channel, aborted);
        var reading = ReadAsync(reader, queue, channel, aborted);
        var joining = JoinAsync(channel, subscription, queue, aborted);
        try
        {
            await Task.WhenAny(writing, reading, queue.Closing);

            // A close requested by now is the server's (a client's close is echoed just below).
            serverClose = queue.CloseStatus;
            if (reading.IsCompleted)
            {
                // The client closed (or vanished): its close is answered with its own status.
                queue.RequestClose(socket.CloseStatus ?? CloseStatuses.Normal, string.Empty);
            }

            await FinishAsync(socket, queue, channel, writing, reading);
        }
        finally
        {
            // Whatever ended the connection, it leaves its channel, and both loops end now: the
            // socket is gone or closed.
            LeaveWhenJoined(joining, channel);
            if (socket.State != WebSocketState.Closed)
            {
                socket.Abort();
            }

            queue.Stop();
            await Task.WhenAll(writing, reading);
            metrics?.ConnectionEnded(request.Kind, started, serverClose);
            Log.ConnectionEnded(logger, channel);
        }
    }

    /// <summary>
    /// Once either loop ends or a close is requested (shutdown, slow consumer, a bad frame), the
    /// closing handshake gets <see cref="UploadistaEventsOptions.CloseTimeout"/>; after that the socket
    /// is aborted, so a client that stopped reading cannot keep its connection.
    /// </summary>
    private async Task FinishAsync(WebSocket socket, SendQueue queue, string channel, Task writing, Task reading)
    {
        if (queue.CloseStatus == CloseStatuses.SlowConsumer)
        {
            Log.ClosedByServer(logger, channel, CloseStatuses.SlowConsumer, "its send queue overflowed");
        }

        try
        {
            await Task.WhenAll(writing, reading).WaitAsync(options.CloseTimeout, time);
        }
        catch (TimeoutException)
        {
            Log.CloseTimedOut(logger, channel, options.CloseTimeout);
            socket.Abort();
        }
    }

    /// <summary>Joins the channel; a join that fails closes the connection with 1013, quietly if the client has already gone.</summary>
    private async Task<IAsyncDisposable?> JoinAsync(string channel, ConnectionSubscription subscription, SendQueue queue, CancellationToken aborted)
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
    private void LeaveWhenJoined(Task<IAsyncDisposable?> joining, string channel)
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

    /// <summary>Runs the writer loop; a socket that fails (in whatever way its server fails it) ends it quietly.</summary>
    private async Task WriteAsync(ConnectionWriter writer, string channel, CancellationToken aborted)
    {
        try
        {
            await writer.RunAsync(aborted);
        }
        catch (Exception ex)
        {
            Log.ConnectionLost(logger, channel, ex.Message);
        }
    }

    /// <summary>Runs the reader; a violation asks for its close and reads on until the client's answer.</summary>
    private async Task ReadAsync(InboundReader reader, SendQueue queue, string channel, CancellationToken aborted)
    {
        try
        {
            if (await reader.RunAsync(aborted) is var (status, reason))
            {
                Log.ClosedByServer(logger, channel, status, reason);
                queue.RequestClose(status, reason);
                await reader.DrainUntilCloseAsync();
            }
        }
        catch (Exception ex)
        {
            Log.ConnectionLost(logger, channel, ex.Message);
        }
    }
}
