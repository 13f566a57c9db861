using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Carries events through Redis: one pub/sub channel per upload and per job, with each channel's seq,
/// epoch and retained events kept beside it and updated by one atomic script per publish.
/// </summary>
/// <remarks>
/// While Redis is unreachable, publishing never throws: events wait in a bounded outbox and are
/// published in order when it returns. When the subscribing connection comes back, every subscriber
/// is told to catch up from the retained state.
/// </remarks>
internal sealed class RedisEventBroadcaster : IEventBroadcaster, IAsyncDisposable
{
    private const string PublishCommand = "PUBLISH";

    private readonly RedisEventsOptions _options;
    private readonly ILogger<RedisEventBroadcaster> _logger;
    private readonly RedisKeys _keys;
    private readonly RedisValue _retentionMilliseconds;
    private readonly RedisValue _maxRetained;
    private readonly Outbox _outbox;
    private readonly SemaphoreSlim _outboxSignal = new(0, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentDictionary<Subscription, byte> _subscriptions = new();
    private readonly Lazy<Task<Connections>> _connections;
    private Task? _drainer;
    private int _disposeCalls;

    public RedisEventBroadcaster(IOptions<RedisEventsOptions> options, IOptions<UploadistaEventsOptions> eventsOptions, ILogger<RedisEventBroadcaster> logger)
    {
        _options = options.Value;
        _logger = logger;
        _keys = new RedisKeys(_options.ChannelPrefix);
        _retentionMilliseconds = (long)eventsOptions.Value.RetentionPeriod.TotalMilliseconds;
        _maxRetained = eventsOptions.Value.MaxRetainedEventsPerChannel;
        _outbox = new Outbox(_options.MaxPendingPublications);
        _connections = new Lazy<Task<Connections>>(ConnectAsync);
    }

    /// <summary>The number of events waiting for Redis to return; for tests.</summary>
    internal int PendingCount => _outbox.Count;

    /// <summary>Connects both connections (they keep reconnecting on their own if Redis is down).</summary>
    public Task StartAsync() => _connections.Value;

    public async ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        if (publication.Payload.IsEmpty)
        {
            throw new ArgumentException("The publication is empty.", nameof(publication));
        }

        var connections = await _connections.Value;
        var pending = new PendingPublication(channel, publication);

        // Behind events already waiting, so that order is kept.
        if (!_outbox.IsEmpty || !connections.Publisher.IsConnected)
        {
            Defer(pending, null);
            return 0;
        }

        try
        {
            return await PublishNowAsync(connections.Publisher, pending);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Defer(pending, ex);
            return 0;
        }
    }

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        var connections = await _connections.Value;
        var queue = await connections.Subscriber.GetSubscriber().SubscribeAsync(_keys.PubSub(channel));
        var subscription = new Subscription(this, channel, subscriber, queue);
        _subscriptions.TryAdd(subscription, 0);
        queue.OnMessage(subscription.Receive);
        return subscription;
    }

    public async ValueTask<IReadOnlyList<ChannelEvent>> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var connections = await _connections.Value;
        var messages = await connections.Publisher.GetDatabase()
            .SortedSetRangeByScoreAsync(_keys.Retained(channel), afterSeq, double.PositiveInfinity, Exclude.Start);
        var retained = new List<ChannelEvent>(messages.Length);
        foreach (var message in messages)
        {
            if (Envelope.TryParse((byte[])message!, out var channelEvent))
            {
                retained.Add(channelEvent!);
            }
            else
            {
                RedisLog.InvalidMessage(_logger, channel);
            }
        }

        return retained;
    }

    public async ValueTask DisposeAsync()
    {
        // The container disposes this instance twice: as itself and as IEventBroadcaster.
        if (Interlocked.Exchange(ref _disposeCalls, 1) == 1)
        {
            return;
        }

        await _disposed.CancelAsync();
        if (_drainer is not null)
        {
            await _drainer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_connections.IsValueCreated && await _connections.Value.ConfigureAwait(ConfigureAwaitOptions.None) is { Owned: true } owned)
        {
            await owned.Publisher.DisposeAsync();
            await owned.Subscriber.DisposeAsync();
        }

        _disposed.Dispose();
        _outboxSignal.Dispose();
    }

    private async Task<long> PublishNowAsync(IConnectionMultiplexer publisher, PendingPublication pending)
    {
        var channel = pending.Channel;
        var publication = pending.Publication;
        var result = await publisher.GetDatabase().ScriptEvaluateAsync(
            PublishScript.Lua,
            [_keys.Meta(channel), _keys.Retained(channel)],
            [
                _keys.Base(channel),
                publication.Payload,
                publication.ConflationKey ?? string.Empty,
                _retentionMilliseconds,
                _maxRetained,
                Random.Shared.NextInt64().ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
                PublishCommand,
            ]);
        return (long)result;
    }

    private void Defer(PendingPublication pending, Exception? exception)
    {
        var wasEmpty = _outbox.IsEmpty;
        var dropped = _outbox.Add(pending);
        if (wasEmpty)
        {
            RedisLog.PublishDeferred(_logger, pending.Channel, exception);
        }

        if (dropped > 0)
        {
            RedisLog.PendingDropped(_logger, dropped);
        }

        WakeDrainer();
    }

    private void WakeDrainer()
    {
        if (_outboxSignal.CurrentCount == 0)
        {
            try
            {
                _outboxSignal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signaled.
            }
        }
    }

    /// <summary>Publishes the outbox in order whenever Redis is reachable; retries every second while it is not.</summary>
    private async Task DrainAsync(IConnectionMultiplexer publisher)
    {
        var published = 0;
        while (!_disposed.IsCancellationRequested)
        {
            try
            {
                await _outboxSignal.WaitAsync(_outbox.IsEmpty ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(1), _disposed.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (publisher.IsConnected && _outbox.TryPeek(out var next))
            {
                try
                {
                    await PublishNowAsync(publisher, next);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    break;
                }

                _outbox.RemoveFirst();
                published++;
            }

            if (published > 0 && _outbox.IsEmpty)
            {
                RedisLog.PendingPublished(_logger, published);
                published = 0;
            }
        }
    }

    private async Task<Connections> ConnectAsync()
    {
        Connections connections;
        if (_options.Publisher is { } publisher && _options.Subscriber is { } subscriber)
        {
            connections = new Connections(publisher, subscriber, Owned: false);
        }
        else
        {
            var configuration = _options.ConfigurationOptions?.Clone() ?? ConfigurationOptions.Parse(_options.Configuration!);

            // Start even when Redis is down, and keep reconnecting: publishing waits in the outbox meanwhile.
            configuration.AbortOnConnectFail = false;
            var publisherConfiguration = configuration.Clone();
            publisherConfiguration.ClientName ??= "uploadista-publisher";
            var subscriberConfiguration = configuration.Clone();
            subscriberConfiguration.ClientName ??= "uploadista-subscriber";
            connections = new Connections(
                await ConnectionMultiplexer.ConnectAsync(publisherConfiguration),
                await ConnectionMultiplexer.ConnectAsync(subscriberConfiguration),
                Owned: true);
        }

        connections.Publisher.ConnectionFailed += OnConnectionFailed;
        connections.Subscriber.ConnectionFailed += OnConnectionFailed;
        connections.Publisher.ConnectionRestored += (_, e) =>
        {
            RedisLog.ConnectionRestored(_logger, e.ConnectionType, e.EndPoint?.ToString());
            WakeDrainer();
        };
        connections.Subscriber.ConnectionRestored += (_, e) =>
        {
            RedisLog.ConnectionRestored(_logger, e.ConnectionType, e.EndPoint?.ToString());
            _ = RestoreSubscriptionsAsync(connections.Subscriber);
        };
        _drainer = Task.Run(() => DrainAsync(connections.Publisher));
        return connections;
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
        => RedisLog.ConnectionFailed(_logger, e.ConnectionType, e.EndPoint?.ToString(), e.FailureType, e.Exception);

    /// <summary>
    /// StackExchange.Redis resubscribes on its own before raising ConnectionRestored; a ping through the
    /// subscribing connection returns once those subscriptions are in effect, and only then is it safe
    /// for subscribers to read the retained state and catch up.
    /// </summary>
    private async Task RestoreSubscriptionsAsync(IConnectionMultiplexer subscriber)
    {
        try
        {
            await subscriber.GetSubscriber().PingAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.RestoreFailed(_logger, ex);
            return;
        }

        foreach (var subscription in _subscriptions.Keys)
        {
            subscription.Subscriber.OnSubscriptionRestored();
        }
    }

    private sealed record Connections(IConnectionMultiplexer Publisher, IConnectionMultiplexer Subscriber, bool Owned);

    private sealed class Subscription(RedisEventBroadcaster owner, string channel, IChannelSubscriber subscriber, ChannelMessageQueue queue)
        : IAsyncDisposable
    {
        private int _disposed;

        public IChannelSubscriber Subscriber { get; } = subscriber;

        public void Receive(ChannelMessage message)
        {
            if (!Envelope.TryParse((byte[])message.Message!, out var channelEvent))
            {
                RedisLog.InvalidMessage(owner._logger, channel);
                return;
            }

            try
            {
                Subscriber.OnEvent(channelEvent!);
            }
            catch (Exception ex)
            {
                RedisLog.SubscriberFailed(owner._logger, channel, ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner._subscriptions.TryRemove(this, out _);
                try
                {
                    await queue.UnsubscribeAsync();
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
                {
                    // The connection is gone, and the subscription with it.
                }
            }
        }
    }
}
