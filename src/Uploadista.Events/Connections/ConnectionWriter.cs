using System.Buffers;

namespace Uploadista.Events;

/// <summary>
/// A connection's single writer loop: drains its <see cref="SendQueue"/> into its
/// <see cref="IFrameWriter"/> (a pong first, then events in order, as much as has queued up in one
/// write) until the queue asks for a close, which it sends, or is stopped.
/// </summary>
internal sealed class ConnectionWriter(SendQueue queue, IFrameWriter writer, Func<string?> epoch, TimeProvider time, UploadistaMetrics? metrics = null)
{
    // One write carries at most this many events, or this many bytes (unless a single event is larger).
    private const int BatchEvents = 256;
    private const int BatchBytes = 64 * 1024;
    private const int MaxYields = 4;

    /// <summary>Runs until the close is sent, the queue is stopped, or the socket fails (which throws).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await queue.WaitAsync();

            // Let the events that arrive together (a burst from the broker, a fan-out under load)
            // queue up, so that one write carries them all: fewer system calls under load. One yield,
            // then more (up to four) while the queue still grows; a lone event waits one.
            var before = queue.Count;
            await Task.Yield();
            for (var (yields, queued) = (1, queue.Count); queued > before && yields < MaxYields; yields++, queued = queue.Count)
            {
                before = queued;
                await Task.Yield();
            }

            if (!await WriteWhatIsQueuedAsync(cancellationToken))
            {
                return;
            }
        }
    }

    /// <returns>Whether the loop goes on.</returns>
    private async ValueTask<bool> WriteWhatIsQueuedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var batch = ArrayPool<ChannelEvent?>.Shared.Rent(BatchEvents);
            var next = default(SendQueue.Next);
            try
            {
                next = queue.Take(batch, BatchBytes);
                if (next.Stop)
                {
                    return false;
                }

                if (next.CloseStatus is { } status)
                {
                    await writer.CloseAsync(status, next.CloseDescription ?? string.Empty, cancellationToken);
                    return false;
                }

                if (next.Count == 0 && next.Pongs == 0)
                {
                    return true;
                }

                var pong = next.Pongs > 0 ? ClientMessage.Pong(time.GetUtcNow(), epoch()) : null;
                for (var extra = 1; extra < next.Pongs; extra++)
                {
                    await writer.WriteAsync(pong, ReadOnlyMemory<ChannelEvent?>.Empty, cancellationToken);
                }

                await writer.WriteAsync(pong, batch.AsMemory(0, next.Count), cancellationToken);
                metrics?.Written(batch.AsSpan(0, next.Count));
            }
            finally
            {
                Array.Clear(batch, 0, next.Count);
                ArrayPool<ChannelEvent?>.Shared.Return(batch);
            }
        }
    }
}
