using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// Runs one admitted Server-Sent Events stream: the same <see cref="SendQueue"/>, subscription and
/// <see cref="ConnectionWriter"/> as a WebSocket, writing through an <see cref="EventStreamFrameWriter"/>.
/// The client sends nothing, so there is no reader: the stream ends when the client goes, or when the
/// server closes it (its last event names why), bounded by <see cref="UploadistaEventsOptions.CloseTimeout"/>.
/// </summary>
internal sealed class EventStreamConnection(
    SubscriptionRegistry registry, UploadistaEventsOptions options, TimeProvider time, ILogger logger, UploadistaMetrics? metrics = null)
{
    public async Task RunAsync(HttpContext context, ConnectionRequest request, ConnectionTracker.Admission admission)
    {
        var channel = request.Channel;
        var aborted = context.RequestAborted;
        Log.EventStreamOpened(logger, channel, request.Since);
        var started = metrics?.ConnectionStarted() ?? 0;
        WebSocketCloseStatus? serverClose = null;
        var queue = new SendQueue(options.SendQueueCapacity, metrics);
        var subscription = new ConnectionSubscription(queue, request.Since, request.SinceEpoch);
        admission.Attach(new OpenConnection(queue, context.Abort));

        // A client that goes away ends the writer, which may be waiting for events that never come.
        using var gone = aborted.Register(static state => ((SendQueue)state!).Stop(), queue);

        // The heartbeat rides on the queue's pong, so the writer stays the stream's only writer; it
        // goes out as a comment (EventStreamFrameWriter), once sending has started.
        using var heartbeat = time.CreateTimer(
            static state => ((SendQueue)state!).RequestPong(), queue, options.KeepAliveInterval, options.KeepAliveInterval);

        var frames = new EventStreamFrameWriter(context.Response.BodyWriter);
        var writing = ConnectionSteps.WriteAsync(new ConnectionWriter(queue, frames, () => subscription.Epoch, time, metrics), channel, logger, aborted);
        var joining = ConnectionSteps.JoinAsync(registry, channel, subscription, queue, logger, aborted);
        try
        {
            await Task.WhenAny(writing, queue.Closing);
            serverClose = queue.CloseStatus;
            if (serverClose is { } status)
            {
                Log.EventStreamClosedByServer(logger, channel, status);
                await FinishAsync(context, channel, writing);
            }
        }
        finally
        {
            ConnectionSteps.LeaveWhenJoined(joining, channel, logger);
            queue.Stop();
            await writing;
            metrics?.ConnectionEnded(request.Kind, started, serverClose, Tags.Transport.ServerSentEvents);
            Log.EventStreamEnded(logger, channel);
        }
    }

    /// <summary>
    /// The close event gets <see cref="UploadistaEventsOptions.CloseTimeout"/> to be written; a client
    /// that stopped reading is then dropped, so it cannot keep its connection.
    /// </summary>
    private async Task FinishAsync(HttpContext context, string channel, Task writing)
    {
        try
        {
            await writing.WaitAsync(options.CloseTimeout, time);
        }
        catch (TimeoutException)
        {
            Log.CloseTimedOut(logger, channel, options.CloseTimeout);
            context.Abort();
        }
    }
}
