namespace Uploadista.Events.Redis;

/// <summary>
/// The events waiting to be published, per channel and in publish order: the outbox. A channel has at
/// most one batch on its way to Redis at a time; the events published meanwhile wait here and go
/// together in its next batch (group commit). A channel whose batch failed, or whose Redis server is
/// unreachable, waits on its own while the others flow.
/// </summary>
/// <remarks>
/// A publisher waits until its event is in Redis, so that seq follows the order in which the
/// application published, even across instances; while the channel's server is unreachable it does
/// not wait, and the event waits here. Bounded while Redis is unreachable: beyond the capacity,
/// waiting progress superseded by later progress of the same channel and key is dropped first, then
/// the oldest waiting event of any channel.
/// </remarks>
internal sealed class PublishQueue(int capacity, int maxBatchEvents, TimeProvider time, RedisMetrics? metrics = null)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ChannelQueue> _channels = new(StringComparer.Ordinal);
    private readonly Queue<ChannelQueue> _ready = new();
    private long _order;
    private int _waiting;
    private long _nextBatchId;
    private TaskCompletionSource? _empty;

    /// <summary>Gets the number of events not yet in Redis: waiting, or in a batch not yet acknowledged.</summary>
    public int Count => Depth().Pending;

    /// <summary>
    /// Gets the number of events not yet in Redis and, of those, the events held back for it: of
    /// channels whose batch failed, or whose server was unreachable when their turn came (not those
    /// merely queued behind a batch on its way).
    /// </summary>
    public (int Pending, int HeldBack) Depth()
    {
        lock (_gate)
        {
            var pending = _waiting + _channels.Values.Sum(c => c.Batch?.Events.Length ?? 0);
            return (pending, _channels.Values.Where(c => c.RetryAt != 0).Sum(c => c.Waiting.Count + (c.Batch?.Events.Length ?? 0)));
        }
    }

    /// <summary>Gets the number of channels whose batch is on its way to Redis; for tests.</summary>
    public int SendingCount
    {
        get
        {
            lock (_gate)
            {
                return _channels.Values.Count(c => c.Sending);
            }
        }
    }

    /// <summary>Gets whether no event waits and no batch is on its way.</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _waiting == 0 && _channels.Count == 0;
            }
        }
    }

    /// <summary>
    /// Adds an event behind the channel's waiting ones. Its publisher waits for Redis when
    /// <paramref name="reachable"/> and the channel has no failed batch; otherwise the event waits here.
    /// </summary>
    /// <returns>What the publisher awaits (null if it does not wait), and how many waiting events were dropped to make room.</returns>
    public (Task<long>? Completion, int Dropped) Add(string channel, EventPublication publication, bool reachable)
    {
        lock (_gate)
        {
            if (!_channels.TryGetValue(channel, out var queue))
            {
                queue = new ChannelQueue(channel);
                _channels.Add(channel, queue);
            }

            var completion = reachable && queue.Batch is not { Failures: > 0 }
                ? new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)
                : null;
            var dropped = completion is null && _waiting >= capacity ? MakeRoom(channel, publication) : 0;
            if (completion is null && capacity == 0)
            {
                metrics?.OutboxDropped(1, superseded: false);
                RemoveIfIdle(queue);
                return (null, dropped + 1);
            }

            queue.Waiting.Enqueue(new PendingPublication(publication, completion, _order++));
            _waiting++;
            MarkReady(queue);
            return (completion?.Task, dropped);
        }
    }

    /// <summary>Completes when no event waits and no batch is on its way.</summary>
    public Task WhenEmptyAsync()
    {
        lock (_gate)
        {
            if (_channels.Count == 0)
            {
                return Task.CompletedTask;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task;
        }
    }

    /// <summary>
    /// Takes the next batch of each ready channel that is due and reachable, up to
    /// <paramref name="maxChannels"/> channels and <paramref name="maxBytes"/> bytes (at least one).
    /// </summary>
    /// <returns>When the earliest channel that is not due yet becomes due; <see cref="TimeSpan.MaxValue"/> if none.</returns>
    public TimeSpan TakeReady(List<ChannelBatch> batches, int maxChannels, int maxBytes, Func<string, bool> reachable)
    {
        var now = time.GetTimestamp();
        var nextDue = TimeSpan.MaxValue;
        var bytes = 0;
        lock (_gate)
        {
            for (var remaining = _ready.Count; remaining > 0 && batches.Count < maxChannels && bytes < maxBytes; remaining--)
            {
                var queue = _ready.Dequeue();
                if (queue.RetryAt > now || !reachable(queue.Name))
                {
                    // Not due, or its server is down: ask again soon, without holding up the others.
                    queue.RetryAt = Math.Max(queue.RetryAt, now + time.TimestampFrequency / 5);
                    var dueIn = TimeSpan.FromSeconds((queue.RetryAt - now) / (double)time.TimestampFrequency);
                    nextDue = dueIn < nextDue ? dueIn : nextDue;
                    _ready.Enqueue(queue);
                    continue;
                }

                if (queue.Batch is { Alone: true } && batches.Count > 0)
                {
                    _ready.Enqueue(queue);
                    continue;
                }

                queue.Listed = false;
                queue.Sending = true;
                queue.Batch ??= NextBatch(queue);
                batches.Add(queue.Batch);
                bytes += queue.Batch.Size;
                if (queue.Batch.Alone)
                {
                    break;
                }
            }

            return nextDue;
        }
    }

    /// <summary>The batch is in Redis: the channel's next one may go.</summary>
    public void Complete(ChannelBatch batch)
    {
        lock (_gate)
        {
            var queue = _channels[batch.Channel];
            queue.Batch = null;
            queue.Sending = false;
            queue.RetryAt = 0;
            if (!RemoveIfIdle(queue))
            {
                MarkReady(queue);
            }
        }
    }

    /// <summary>
    /// Sending the batch failed: it is sent again, unchanged, once <paramref name="retryAfter"/> has
    /// passed. Its publishers, and those of the events waiting behind it, stop waiting: their events
    /// wait for Redis here.
    /// </summary>
    /// <returns>How many publishers stopped waiting now.</returns>
    public int Fail(ChannelBatch batch, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var queue = _channels[batch.Channel];
            queue.Sending = false;
            queue.RetryAt = time.GetTimestamp() + (long)(retryAfter.TotalSeconds * time.TimestampFrequency);
            batch.Failures++;
            MarkReady(queue);
            return batch.Events.Concat(queue.Waiting).Count(pending => pending.Completion?.TrySetResult(0) == true);
        }
    }

    /// <summary>The batch can never be published (Redis refused it): it is dropped.</summary>
    public void Drop(ChannelBatch batch) => Complete(batch);

    /// <summary>The batch failed with others in one call: it goes in a call of its own next time.</summary>
    public void Isolate(ChannelBatch batch)
    {
        lock (_gate)
        {
            batch.Alone = true;
            var queue = _channels[batch.Channel];
            queue.Sending = false;
            MarkReady(queue);
        }
    }

    /// <summary>Makes every waiting channel due now (its Redis server came back).</summary>
    public void RetryNow()
    {
        lock (_gate)
        {
            foreach (var queue in _ready)
            {
                queue.RetryAt = 0;
            }
        }
    }

    private ChannelBatch NextBatch(ChannelQueue queue)
    {
        var events = new PendingPublication[Math.Min(queue.Waiting.Count, maxBatchEvents)];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = queue.Waiting.Dequeue();
        }

        _waiting -= events.Length;
        return new ChannelBatch(queue.Name, ++_nextBatchId, events);
    }

    /// <summary>Forgets a channel that has nothing waiting and nothing on its way.</summary>
    /// <returns>Whether it was forgotten.</returns>
    private bool RemoveIfIdle(ChannelQueue queue)
    {
        if (queue.Waiting.Count > 0 || queue.Batch is not null)
        {
            return false;
        }

        _channels.Remove(queue.Name);
        if (_channels.Count == 0)
        {
            _empty?.TrySetResult();
            _empty = null;
        }

        return true;
    }

    private void MarkReady(ChannelQueue queue)
    {
        if (!queue.Listed && !queue.Sending && (queue.Batch is not null || queue.Waiting.Count > 0))
        {
            queue.Listed = true;
            _ready.Enqueue(queue);
        }
    }

    /// <summary>Drops superseded waiting progress; if there is none, the oldest waiting event.</summary>
    private int MakeRoom(string incomingChannel, EventPublication incoming)
    {
        var dropped = 0;
        foreach (var queue in _channels.Values)
        {
            var superseding = new HashSet<string>(StringComparer.Ordinal);
            if (queue.Name == incomingChannel && incoming.ConflationKey is { } incomingKey)
            {
                superseding.Add(incomingKey);
            }

            var kept = queue.Waiting.Reverse().Where(p => p.Publication.ConflationKey is not { } key || superseding.Add(key)).Reverse().ToList();
            foreach (var gone in queue.Waiting.Except(kept))
            {
                gone.Completion?.TrySetResult(0);
            }

            dropped += queue.Waiting.Count - kept.Count;
            queue.Waiting.Clear();
            kept.ForEach(queue.Waiting.Enqueue);
        }

        metrics?.OutboxDropped(dropped, superseded: true);
        if (dropped == 0 && _channels.Values.Where(q => q.Waiting.Count > 0).MinBy(q => q.Waiting.Peek().Order) is { } oldest)
        {
            oldest.Waiting.Dequeue().Completion?.TrySetResult(0);
            dropped = 1;
            metrics?.OutboxDropped(1, superseded: false);
        }

        _waiting -= dropped;
        return dropped;
    }
}
