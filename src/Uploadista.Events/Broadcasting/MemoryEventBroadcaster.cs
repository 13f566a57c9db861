using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// The default broadcaster: channels live in this process only. Sequence numbers and retained events
/// are kept per channel until <see cref="UploadistaEventsOptions.RetentionPeriod"/> after the
/// channel's last event, and never while the channel has subscribers; a channel that never had an
/// event is forgotten when its last subscriber leaves. Beyond
/// <see cref="UploadistaEventsOptions.MaxRetainedChannels"/> channels, the one idle longest (without
/// subscribers) is evicted.
/// </summary>
internal sealed class MemoryEventBroadcaster : IEventBroadcaster, IDisposable
{
    private readonly Dictionary<string, MemoryChannel> _channels = new(StringComparer.Ordinal);

    // Channels no one watches, by their last event, the one idle longest first (under _channelsGate).
    private readonly LinkedList<MemoryChannel> _byLastEvent = new();
    private readonly Lock _channelsGate = new();
    private readonly TimeProvider _time;
    private readonly ILogger<MemoryEventBroadcaster> _logger;
    private readonly TimeSpan _retention;
    private readonly int _maxRetained;
    private readonly int _maxChannels;
    private long _evicted;
    private long _lastEvictionLog = long.MinValue;
    private readonly ITimer _sweepTimer;

    public MemoryEventBroadcaster(IOptions<UploadistaEventsOptions> options, TimeProvider time, ILogger<MemoryEventBroadcaster> logger)
    {
        _time = time;
        _logger = logger;
        _retention = options.Value.RetentionPeriod;
        _maxRetained = options.Value.MaxRetainedEventsPerChannel;
        _maxChannels = options.Value.MaxRetainedChannels;
        var sweepEvery = TimeSpan.FromTicks(Math.Min(_retention.Ticks, TimeSpan.FromMinutes(1).Ticks));
        _sweepTimer = time.CreateTimer(_ => SweepExpired(), null, sweepEvery, sweepEvery);
    }

    public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        while (true)
        {
            var state = GetOrCreate(channel, touch: true);
            lock (state.Gate)
            {
                if (state.Removed)
                {
                    continue;
                }

                return Publish(channel, state, publication);
            }
        }
    }

    /// <summary>Runs under the channel's lock.</summary>
    private ValueTask<long> Publish(string channel, MemoryChannel state, EventPublication publication)
    {
        var channelEvent = ChannelEvent.Create(state.Seq + 1, state.Epoch, publication);
        state.Seq = channelEvent.Seq;
        state.LastEventAt = _time.GetUtcNow();
        state.Retain(channelEvent, _maxRetained);

        // Delivered under the channel's lock so that every subscriber sees seq order. Subscribers only
        // queue the event; no socket is written here.
        foreach (var subscriber in state.Subscribers)
        {
            try
            {
                subscriber.OnEvent(channelEvent);
            }
            catch (Exception ex)
            {
                Log.SubscriberFailed(_logger, channel, ex);
            }
        }

        return ValueTask.FromResult(channelEvent.Seq);
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        while (true)
        {
            var state = GetOrCreate(channel, touch: false);
            lock (state.Gate)
            {
                if (state.Removed)
                {
                    continue;
                }

                state.Subscribers = [.. state.Subscribers, subscriber];
            }

            Watched(state);
            return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, state, subscriber));
        }
    }

    public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        MemoryChannel? state;
        lock (_channelsGate)
        {
            _channels.TryGetValue(channel, out state);
        }

        if (state is null)
        {
            return ValueTask.FromResult(RetainedEvents.None);
        }

        lock (state.Gate)
        {
            return ValueTask.FromResult(new RetainedEvents(state.Epoch, state.Seq, state.Retained.Where(e => e.Seq > afterSeq).ToArray()));
        }
    }

    /// <summary>The number of subscribers of a channel; for tests.</summary>
    internal int GetSubscriberCount(string channel)
    {
        lock (_channelsGate)
        {
            if (!_channels.TryGetValue(channel, out var state))
            {
                return 0;
            }

            lock (state.Gate)
            {
                return state.Subscribers.Length;
            }
        }
    }

    /// <summary>The number of channels held; for tests.</summary>
    internal int ChannelCount
    {
        get
        {
            lock (_channelsGate)
            {
                return _channels.Count;
            }
        }
    }

    public void Dispose() => _sweepTimer.Dispose();

    /// <param name="channel">The channel name.</param>
    /// <param name="touch">Whether an event is about to be published: the channel becomes the one idle shortest.</param>
    private MemoryChannel GetOrCreate(string channel, bool touch)
    {
        lock (_channelsGate)
        {
            if (!_channels.TryGetValue(channel, out var state))
            {
                if (_channels.Count >= _maxChannels)
                {
                    EvictIdlestLocked();
                }

                state = new MemoryChannel(channel) { LastEventAt = _time.GetUtcNow() };
                _channels.Add(channel, state);
                _byLastEvent.AddLast(state.Node);
            }
            else if (touch && state.Node.List is not null && state.Node.Next is not null)
            {
                _byLastEvent.Remove(state.Node);
                _byLastEvent.AddLast(state.Node);
            }

            return state;
        }
    }

    /// <summary>Evicts the channel idle longest that has no subscribers; with subscribers everywhere, none.</summary>
    private void EvictIdlestLocked()
    {
        for (var node = _byLastEvent.First; node is not null; node = node.Next)
        {
            var state = node.Value;
            lock (state.Gate)
            {
                if (state.Subscribers.Length > 0)
                {
                    continue;
                }

                state.Removed = true;
            }

            RemoveLocked(state);
            _evicted++;
            var now = _time.GetTimestamp();
            if (_time.GetElapsedTime(_lastEvictionLog, now) >= TimeSpan.FromMinutes(1) || _lastEvictionLog == long.MinValue)
            {
                _lastEvictionLog = now;
                Log.ChannelEvicted(_logger, _maxChannels, state.Name, _evicted);
            }

            return;
        }
    }

    private void RemoveLocked(MemoryChannel state)
    {
        _channels.Remove(state.Name);
        if (state.Node.List is not null)
        {
            _byLastEvent.Remove(state.Node);
        }
    }

    /// <summary>A watched channel is never evicted, so it leaves the order of eviction until its last subscriber leaves.</summary>
    private void Watched(MemoryChannel state)
    {
        lock (_channelsGate)
        {
            lock (state.Gate)
            {
                if (!state.Removed && state.Subscribers.Length > 0 && state.Node.List is not null)
                {
                    _byLastEvent.Remove(state.Node);
                }
            }
        }
    }

    /// <summary>
    /// Its last subscriber left: a channel that never had an event is forgotten; another is idle from
    /// now on, and can be evicted.
    /// </summary>
    private void Unwatched(MemoryChannel state)
    {
        lock (_channelsGate)
        {
            lock (state.Gate)
            {
                if (state.Removed || state.Subscribers.Length > 0)
                {
                    return;
                }

                if (state.Seq > 0)
                {
                    if (state.Node.List is null)
                    {
                        _byLastEvent.AddLast(state.Node);
                    }

                    return;
                }

                state.Removed = true;
            }

            RemoveLocked(state);
        }
    }

    private void SweepExpired()
    {
        var cutoff = _time.GetUtcNow() - _retention;
        lock (_channelsGate)
        {
            List<MemoryChannel>? expired = null;
            foreach (var state in _channels.Values)
            {
                lock (state.Gate)
                {
                    if (state.Subscribers.Length == 0 && state.LastEventAt <= cutoff)
                    {
                        // A caller that fetched this state before the removal sees the flag and starts over.
                        state.Removed = true;
                        (expired ??= []).Add(state);
                    }
                }
            }

            expired?.ForEach(RemoveLocked);
        }
    }

    private sealed class Subscription(MemoryEventBroadcaster owner, MemoryChannel state, IChannelSubscriber subscriber) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (state.Gate)
                {
                    state.Subscribers = Array.FindAll(state.Subscribers, s => !ReferenceEquals(s, subscriber));
                }

                owner.Unwatched(state);
            }

            return ValueTask.CompletedTask;
        }
    }
}
