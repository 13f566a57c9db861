using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// Runs one accepted multiplexed socket (<c>{prefix}/ws</c>): one <see cref="SendQueue"/>, one writer
/// and one reader, as a socket of one channel has, and any number of subscriptions (up to
/// <see cref="UploadistaEventsOptions.MaxSubscriptionsPerConnection"/>) feeding that queue. The queue,
/// conflation (per channel: the tagged events' keys name it) and slow-consumer rules hold per socket.
/// </summary>
internal sealed class MultiplexedConnection(
    ConnectionAdmission admission,
    ConnectionTracker tracker,
    SubscriptionRegistry registry,
    UploadistaEventsOptions options,
    TimeProvider time,
    ILogger logger,
    UploadistaMetrics? metrics = null)
{
    // What the logs call the socket: it has no one channel.
    private const string Label = "(multiplexed)";

    public async Task RunAsync(HttpContext context, WebSocket socket, FrameStream? transport, ConnectionTracker.Admission place, CancellationToken aborted)
    {
        Log.MultiplexedOpened(logger);
        var started = metrics?.ConnectionStarted() ?? 0;
        WebSocketCloseStatus? serverClose = null;
        // Catch-up does not count against the capacity (50 late joins are no slow consumer), but it is
        // bounded: all the retained events of every subscription the socket may hold, and their answers.
        var maxCatchUp = (int)Math.Min(int.MaxValue, (long)options.MaxSubscriptionsPerConnection * (options.MaxRetainedEventsPerChannel + 2));
        var queue = new SendQueue(options.SendQueueCapacity, metrics, maxCatchUp);

        // Sending starts at once: pongs and answers go out before any subscription has joined.
        queue.AddCatchUp([]);
        place.Attach(new OpenConnection(queue, socket));
        var subscriptions = new SocketSubscriptions(context, queue, admission, tracker, registry, options, time, logger, metrics, aborted);

        IFrameWriter frames = transport is null ? new SocketFrameWriter(socket) : new TransportFrameWriter(socket, transport);
        var budget = new InboundBudget(options.MaxInboundFramesPerSecond, options.MaxInboundBytesPerSecond, time);
        transport?.Meter(new InboundMeter(budget), (status, reason) =>
        {
            Log.ClosedByServer(logger, Label, status, reason);
            metrics?.ServerClosed(status);
            queue.Stop();
        });

        var reader = new InboundReader(socket, queue, options, time, transport is null ? budget : null, subscriptions.Handle);

        // A pong names no epoch here: each subscription's is in its "subscribed" frame.
        var writing = ConnectionSteps.WriteAsync(new ConnectionWriter(queue, frames, static () => null, time, metrics), Label, logger, aborted);
        var reading = ConnectionSteps.ReadAsync(reader, queue, Label, logger, aborted);
        try
        {
            await Task.WhenAny(writing, reading, queue.Closing);
            serverClose = queue.CloseStatus;
            if (reading.IsCompleted)
            {
                queue.RequestClose(socket.CloseStatus ?? CloseStatuses.Normal, string.Empty);
            }

            if (queue.CloseStatus == CloseStatuses.SlowConsumer)
            {
                Log.ClosedByServer(logger, Label, CloseStatuses.SlowConsumer, "its send queue overflowed");
            }

            try
            {
                await Task.WhenAll(writing, reading).WaitAsync(options.CloseTimeout, time, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                Log.CloseTimedOut(logger, Label, options.CloseTimeout);
                socket.Abort();
            }
        }
        finally
        {
            // Every subscription leaves its channel, whatever ended the socket; the leaves run on
            // (a broker that does not answer must not hold the request).
            _ = subscriptions.CloseAsync();
            await ConnectionSteps.StopAsync(socket, queue, writing, reading);
            metrics?.ConnectionEnded(Tags.Multiplexed, started, serverClose);
            Log.ConnectionEnded(logger, Label);
        }
    }
}
