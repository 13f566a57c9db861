using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// The default broadcaster: channels live in this process only. Sequence numbers and retained events
/// are kept per channel until <see cref="UploadistaEventsOptions.RetentionPeriod"/> after the
/// channel's last event, and never while the channel has subscribers; a channel that never had an
/// event is forgotten when its last subscriber leaves. Beyond
/// <see cref="UploadistaEventsOptions.MaxRetainedChannels"/> channels, one idle for long (without
/// subscribers) is evicted. Which upload a job belongs to is held on the job's channel
/// (MemoryEventBroadcaster.JobUploads.cs).
/// </summary>
/// <remarks>
/// A publish takes its channel's lock only: channels are found without a lock, and the order of
/// eviction is kept without touching a shared structure per event (second chance: a channel that
/// had an event since eviction last passed it over goes back to the end of the line).
/// </remarks>
internal sealed partial class MemoryEventBroadcaster : IEventBroadcaster, IDisposable
{
    // Eviction gives up after passing over this many channels, all watched or busy.
    private const int MaxEvictionScan = 64;

    private readonly ConcurrentDictionary<string, MemoryChannel> _channels = new(StringComparer.Ordinal);

    // Creating and removing channels, and the line of channels with events, in the order they entered
    // it or were last passed over (entries of removed channels are dropped as they are met).
    private readonly Lock _channelsGate = new();
    private readonly Queue<MemoryChannel> _evictionOrder = new();
    private readonly TimeProvider _time;
    private readonly ILogger<MemoryEventBroadcaster> _logger;
    private readonly TimeSpan _retention;
    private readonly int _maxRetained;
    private readonly int _maxChannels;
    private readonly ITimer _sweepTimer;
    private long _evicted;
    private long _lastEvictionLog = long.MinValue;

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

    /// <summary>The number of channels held; for tests.</summary>
    internal int ChannelCount => _channels.Count;

    public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        while (true)
        {
            var state = GetOrCreate(channel);
            long seq;
            lock (state.Gate)
            {
                if (state.Removed)
                {
                    continue; // evicted or expired meanwhile: a new one is made
                }

                seq = Publish(channel, state, publication);
            }

            if (seq == 1)
            {
                lock (_channelsGate)
                {
                    _evictionOrder.Enqueue(state);
                }
            }

            return ValueTask.FromResult(seq);
        }
    }

    /// <summary>Runs under the channel's lock.</summary>
    private long Publish(string channel, MemoryChannel state, EventPublication publication)
    {
        var channelEvent = ChannelEvent.Create(state.Seq + 1, state.Epoch, publication);
        state.Referenced = state.Seq > 0;
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

        return channelEvent.Seq;
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        while (true)
        {
            var state = GetOrCreate(channel);
            lock (state.Gate)
            {
                if (state.Removed)
                {
                    continue;
                }

                state.Subscribers = [.. state.Subscribers, subscriber];
                return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, state, subscriber));
            }
        }
    }

    public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        if (!_channels.TryGetValue(channel, out var state))
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
        if (!_channels.TryGetValue(channel, out var state))
        {
            return 0;
        }

        lock (state.Gate)
        {
            return state.Subscribers.Length;
        }
    }

    public void Dispose() => _sweepTimer.Dispose();

    private MemoryChannel GetOrCreate(string channel)
    {
        if (_channels.TryGetValue(channel, out var state))
        {
            return state;
        }

        lock (_channelsGate)
        {
            if (_channels.TryGetValue(channel, out state))
            {
                return state;
            }

            if (_channels.Count >= _maxChannels)
            {
                EvictLocked();
            }

            state = new MemoryChannel(channel) { LastEventAt = _time.GetUtcNow() };
            _channels[channel] = state;
            return state;
        }
    }

    /// <summary>
    /// Evicts the first channel in line that no one watches and that had no event since it was last
    /// passed over; the others go back to the end of the line. Gives up (the cap is exceeded) when
    /// every channel met is watched or busy.
    /// </summary>
    private void EvictLocked()
    {
        for (var scanned = 0; scanned < MaxEvictionScan && _evictionOrder.TryDequeue(out var candidate);)
        {
            lock (candidate.Gate)
            {
                if (candidate.Removed)
                {
                    continue; // removed already; its entry goes
                }

                scanned++;
                if (candidate.Subscribers.Length > 0 || candidate.Referenced)
                {
                    candidate.Referenced = false;
                    _evictionOrder.Enqueue(candidate);
                    continue;
                }

                candidate.Removed = true;
            }

            _channels.TryRemove(new KeyValuePair<string, MemoryChannel>(candidate.Name, candidate));
            _evicted++;
            var now = _time.GetTimestamp();
            if (_lastEvictionLog == long.MinValue || _time.GetElapsedTime(_lastEvictionLog, now) >= TimeSpan.FromMinutes(1))
            {
                _lastEvictionLog = now;
                Log.ChannelEvicted(_logger, _maxChannels, candidate.Name, _evicted);
            }

            return;
        }
    }

    /// <summary>Its last subscriber left: a channel that never had an event is forgotten.</summary>
    private void Unwatched(MemoryChannel state)
    {
        lock (_channelsGate)
        {
            lock (state.Gate)
            {
                if (state.Removed || state.Seq > 0 || state.Subscribers.Length > 0)
                {
                    return;
                }

                state.Removed = true;
            }

            _channels.TryRemove(new KeyValuePair<string, MemoryChannel>(state.Name, state));
        }
    }

    private void SweepExpired()
    {
        var cutoff = _time.GetUtcNow() - _retention;
        lock (_channelsGate)
        {
            foreach (var state in _channels.Values)
            {
                lock (state.Gate)
                {
                    if (state.Subscribers.Length > 0 || state.LastEventAt > cutoff)
                    {
                        continue;
                    }

                    // A caller that fetched this state before the removal sees the flag and starts over.
                    state.Removed = true;
                }

                _channels.TryRemove(new KeyValuePair<string, MemoryChannel>(state.Name, state));
            }

            // The line keeps only channels still held.
            var kept = _evictionOrder.Where(c => !c.Removed).ToList();
            _evictionOrder.Clear();
            kept.ForEach(_evictionOrder.Enqueue);
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
