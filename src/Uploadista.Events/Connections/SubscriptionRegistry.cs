using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// The local subscription registry: every connection on one channel in this process shares a single
/// broadcaster subscription, taken when the first connection joins and released when the last leaves.
/// </summary>
internal sealed class SubscriptionRegistry(IEventBroadcaster broadcaster, ILogger<SubscriptionRegistry> logger)
{
    private readonly Dictionary<string, LocalChannel> _channels = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>The number of channels with at least one local connection.</summary>
    public int ChannelCount
    {
        get
        {
            lock (_gate)
            {
                return _channels.Count;
            }
        }
    }

    /// <summary>
    /// Joins <paramref name="emitter"/> to <paramref name="channelName"/>: subscribes (if it is the first
    /// local connection), then hands the emitter the retained events after <paramref name="since"/>
    /// followed by live ones, with no gap and no duplicate at the seam.
    /// </summary>
    /// <returns>A handle that removes the emitter when disposed.</returns>
    public async ValueTask<IAsyncDisposable> JoinAsync(string channelName, IEventEmitter emitter, long since, CancellationToken cancellationToken)
    {
        LocalChannel channel;
        lock (_gate)
        {
            if (!_channels.TryGetValue(channelName, out channel!))
            {
                channel = new LocalChannel(channelName, broadcaster, logger);
                _channels.Add(channelName, channel);
            }

            channel.Members++;
        }

        var membership = new Membership(this, channel, emitter);
        try
        {
            await channel.EnsureSubscribedAsync().WaitAsync(cancellationToken);

            // Live events start flowing into the emitter's hold before the retained state is read, so
            // nothing published in between is missed; the emitter drops what it sees twice.
            channel.Add(emitter);
            var retained = await broadcaster.GetRetainedAsync(channelName, since, cancellationToken);
            if (since > 0 && !emitter.CanResume(retained))
            {
                retained = await broadcaster.GetRetainedAsync(channelName, 0, cancellationToken);
            }

            emitter.Release(retained);
            return membership;
        }
        catch
        {
            await membership.DisposeAsync();
            throw;
        }
    }

    private async ValueTask LeaveAsync(LocalChannel channel, IEventEmitter emitter)
    {
        channel.Remove(emitter);
        lock (_gate)
        {
            if (--channel.Members > 0)
            {
                return;
            }

            _channels.Remove(channel.Name);
        }

        try
        {
            await channel.UnsubscribeAsync();
        }
        catch (Exception ex)
        {
            Log.UnsubscribeFailed(logger, channel.Name, ex);
        }
    }

    private sealed class Membership(SubscriptionRegistry registry, LocalChannel channel, IEventEmitter emitter) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
            => Interlocked.Exchange(ref _disposed, 1) == 0 ? registry.LeaveAsync(channel, emitter) : ValueTask.CompletedTask;
    }

    /// <summary>One channel's local connections and its broadcaster subscription.</summary>
    private sealed class LocalChannel(string name, IEventBroadcaster broadcaster, ILogger logger) : IChannelSubscriber
    {
        // Live events held while catching up after an interrupted subscription; beyond this many the
        // hold is given up and they flow straight on.
        private const int MaxHeldDuringCatchUp = 10_000;

        // About a minute of retries (the last ones two seconds apart) before a catch-up is given up.
        private const int MaxCatchUpAttempts = 35;

        private readonly Lock _gate = new();
        private IEventEmitter[] _emitters = [];
        private Task<IAsyncDisposable>? _subscription;
        private List<ChannelEvent>? _heldDuringCatchUp;
        private bool _catchUpAgain;

        public string Name { get; } = name;

        /// <summary>Joined connections, counted under the registry's lock.</summary>
        public int Members { get; set; }

        /// <summary>The first caller subscribes; the others wait for the same subscription. A failed attempt is retried by the next caller.</summary>
        public Task<IAsyncDisposable> EnsureSubscribedAsync()
        {
            lock (_gate)
            {
                if (_subscription is null || _subscription.IsFaulted || _subscription.IsCanceled)
                {
                    _subscription = broadcaster.SubscribeAsync(Name, this).AsTask();
                }

                return _subscription;
            }
        }

        public async ValueTask UnsubscribeAsync()
        {
            Task<IAsyncDisposable>? subscription;
            lock (_gate)
            {
                subscription = _subscription;
                _subscription = null;
            }

            if (subscription is null)
            {
                return;
            }

            IAsyncDisposable handle;
            try
            {
                handle = await subscription;
            }
            catch
            {
                return; // The subscription never started, so there is nothing to release.
            }

            await handle.DisposeAsync();
        }

        public void Add(IEventEmitter emitter)
        {
            lock (_gate)
            {
                _emitters = [.. _emitters, emitter];
            }
        }

        public void Remove(IEventEmitter emitter)
        {
            lock (_gate)
            {
                _emitters = Array.FindAll(_emitters, e => !ReferenceEquals(e, emitter));
            }
        }

        public void OnEvent(ChannelEvent channelEvent)
        {
            // Under the lock so that concurrent deliveries reach every emitter in the same order.
            // Emit only queues.
            lock (_gate)
            {
                if (_heldDuringCatchUp is { } held && held.Count < MaxHeldDuringCatchUp)
                {
                    held.Add(channelEvent);
                    return;
                }

                Deliver(channelEvent);
            }
        }

        /// <summary>
        /// Events may not have been delivered live (the broker connection came back, or the broadcaster
        /// saw a gap). Read the retained state and deliver it, holding live events until it is in; each
        /// emitter drops what it has already sent.
        /// </summary>
        public void OnMissedEvents()
        {
            lock (_gate)
            {
                if (_heldDuringCatchUp is not null)
                {
                    _catchUpAgain = true;
                    return;
                }

                _heldDuringCatchUp = [];
            }

            _ = CatchUpAsync();
        }

        private async Task CatchUpAsync()
        {
            while (true)
            {
                var retained = await ReadRetainedWithRetriesAsync();
                lock (_gate)
                {
                    foreach (var channelEvent in retained.Events)
                    {
                        Deliver(channelEvent);
                    }

                    foreach (var channelEvent in _heldDuringCatchUp!)
                    {
                        Deliver(channelEvent);
                    }

                    if (!_catchUpAgain)
                    {
                        _heldDuringCatchUp = null;
                        return;
                    }

                    _catchUpAgain = false;
                    _heldDuringCatchUp = [];
                }
            }
        }

        /// <summary>
        /// The broker may still be coming back (its subscribing connection can return before the other),
        /// so reading is retried for a while, holding live events meanwhile.
        /// </summary>
        private async Task<RetainedEvents> ReadRetainedWithRetriesAsync()
        {
            var delay = TimeSpan.FromMilliseconds(100);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await broadcaster.GetRetainedAsync(Name, 0);
                }
                catch (Exception ex) when (attempt < MaxCatchUpAttempts)
                {
                    Log.CatchUpRetrying(logger, Name, attempt, ex.Message);
                }
                catch (Exception ex)
                {
                    Log.CatchUpFailed(logger, Name, ex);
                    return RetainedEvents.None;
                }

                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }

        private void Deliver(ChannelEvent channelEvent)
        {
            foreach (var emitter in _emitters)
            {
                emitter.Emit(channelEvent);
            }
        }
    }
}
