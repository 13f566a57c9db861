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
        var writing = ConnectionSteps.WriteAsync(new ConnectionWriter(queue, frames, () => subscription.Epoch, time, metrics), channel, logger, aborted);
        var reading = ConnectionSteps.ReadAsync(reader, queue, channel, logger, aborted);
        var joining = ConnectionSteps.JoinAsync(registry, channel, subscription, queue, logger, aborted);
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
            ConnectionSteps.LeaveWhenJoined(joining, channel, logger);
            await ConnectionSteps.StopAsync(socket, queue, writing, reading);
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
}
