using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// One subscriber's subscription to a channel's Redis pub/sub channel. It hands the subscriber the
/// events of each message in seq order, and checks that a message continues what it has seen before
/// trusting it.
/// </summary>
/// <remarks>
/// A message that does not continue the run it knows (another epoch, or a jump past the next seq) is
/// checked against the channel's state in Redis, which is written before any message is published:
/// a real one is delivered, and if it skipped seqs the subscriber is told to catch up; one that Redis
/// does not back (forged, or from a run Redis no longer has) is dropped, so that it can neither
/// reach a browser nor make real events look already seen. A batch published again after its
/// first application was lost with a failed-over master is recognized by its publisher and batch id
/// and not delivered twice.
/// </remarks>
internal sealed class ChannelSubscription : IAsyncDisposable
{
    private readonly RedisSubscriptions _owner;
    private readonly ChannelMessageQueue _queue;
    private readonly List<ChannelEvent> _events = [];
    private readonly Dictionary<string, long> _lastBatchByPublisher = new(StringComparer.Ordinal);
    private string? _epoch;
    private long _top;
    private int _disposed;

    public ChannelSubscription(RedisSubscriptions owner, string channel, IChannelSubscriber subscriber, ChannelMessageQueue queue)
    {
        _owner = owner;
        _queue = queue;
        Name = channel;
        Subscriber = subscriber;
        queue.OnMessage(ReceiveAsync);
    }

    public string Name { get; }

    public IChannelSubscriber Subscriber { get; }

    public RedisChannel Channel => _queue.Channel;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner.Remove(this);
            try
            {
                await _queue.UnsubscribeAsync();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // The connection is gone, and the subscription with it.
            }
        }
    }

    /// <summary>Messages of one queue arrive one at a time, in order: this runs alone.</summary>
    private async Task ReceiveAsync(ChannelMessage message)
    {
        var bytes = (ReadOnlyMemory<byte>)message.Message;
        if (BatchFormat.IsFormat1(bytes.Span))
        {
            _owner.Format1Dropped(Name);
            return;
        }

        _events.Clear();
        if (!BatchFormat.TryParseMessage(bytes, _epoch, out var header, _events))
        {
            RedisLog.InvalidMessage(_owner.Logger, Name);
            return;
        }

        var continues = header.Epoch == _epoch && header.First <= _top + 1;
        if (!continues && !await IsBackedByRedisAsync(header))
        {
            return;
        }

        if (_lastBatchByPublisher.TryGetValue(header.Publisher, out var lastBatch) && lastBatch >= header.Batch)
        {
            _top = Math.Max(_top, header.Last); // applied again after a failover: its seqs are used, its events were delivered
            return;
        }

        var known = _epoch is not null;
        if (header.Epoch != _epoch)
        {
            _lastBatchByPublisher.Clear();
            _top = 0;
        }

        // Seqs skipped since the last message (not before the first, which the join's read covers).
        var skipped = known && header.First > _top + 1;
        _lastBatchByPublisher[header.Publisher] = header.Batch;
        _epoch = header.Epoch;
        _top = Math.Max(_top, header.Last);
        _owner.Memory.Record(Name, _epoch, _top);

        // Told before the batch is delivered, so that the subscriber holds it until the skipped events
        // are read: delivered first, they would be taken for already seen.
        if (skipped)
        {
            Subscriber.OnMissedEvents();
        }

        foreach (var channelEvent in _events)
        {
            Deliver(channelEvent);
        }
    }

    /// <summary>Whether the channel's state in Redis has the message's epoch and seqs; reading it failed counts as no, and the subscriber catches up later.</summary>
    private async Task<bool> IsBackedByRedisAsync(MessageHeader header)
    {
        try
        {
            var (epoch, seq) = await _owner.ReadHeadAsync(Name);
            if (epoch == header.Epoch && seq >= header.Last)
            {
                return true;
            }

            RedisLog.UnbackedMessage(_owner.Logger, Name, header.Epoch, header.First, header.Last, epoch, seq);
            return false;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.CheckFailed(_owner.Logger, Name, ex);
            Subscriber.OnMissedEvents();
            return false;
        }
    }

    private void Deliver(ChannelEvent channelEvent)
    {
        try
        {
            Subscriber.OnEvent(channelEvent);
        }
        catch (Exception ex)
        {
            RedisLog.SubscriberFailed(_owner.Logger, Name, ex);
        }
    }
}
