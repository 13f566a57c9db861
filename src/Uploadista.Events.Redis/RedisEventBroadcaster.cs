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
    private readonly RedisEventsOptions _options;
    private readonly ILogger<RedisEventBroadcaster> _logger;
    private readonly RedisKeys _keys;
    private readonly PublishScript _script;
    private readonly Outbox _outbox;
    private readonly SemaphoreSlim _outboxSignal = new(0, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentDictionary<Subscription, byte> _subscriptions = new();
    private readonly Lazy<Task<Connections>> _connections;
    private Task? _drainer;
    private int _pubSubMode; // 0 until decided, then Classic or Sharded
    private bool _isCluster;
    private int _subscriberFailures;
    private int _recovering;

    private const int Classic = 1;
    private const int Sharded = 2;

    private static readonly RedisValue ClassicPublish = "PUBLISH";
    private static readonly RedisValue ShardedPublish = "SPUBLISH";
    private int _disposeCalls;

    public RedisEventBroadcaster(IOptions<RedisEventsOptions> options, IOptions<UploadistaEventsOptions> eventsOptions, ILogger<RedisEventBroadcaster> logger)
    {
        _options = options.Value;
        _logger = logger;
        _keys = new RedisKeys(_options.ChannelPrefix);
        _script = new PublishScript(eventsOptions.Value.RetentionPeriod, eventsOptions.Value.MaxRetainedEventsPerChannel);
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
        if (!_outbox.IsEmpty || !IsReachable(connections.Publisher, channel))
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
        var queue = await connections.Subscriber.GetSubscriber().SubscribeAsync(_keys.PubSub(channel, UseShardedPubSub(connections.Publisher)));
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
        RedisKey[] keys = [_keys.Meta(channel), _keys.Retained(channel)];
        RedisValue[] values =
        [
            _keys.Base(channel),
            publication.Payload,
            publication.ConflationKey ?? string.Empty,
            UseShardedPubSub(publisher) ? ShardedPublish : ClassicPublish,
        ];
        var database = publisher.GetDatabase();
        try
        {
            return (long)await database.ScriptEvaluateAsync(_script.Hash, keys, values);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // A server that restarted, or a replica that took over, has not seen the script yet.
            foreach (var server in publisher.GetServers().Where(server => server.IsConnected && !server.IsReplica))
            {
                await server.ScriptLoadAsync(_script.Text);
            }

            return (long)await database.ScriptEvaluateAsync(_script.Hash, keys, values);
        }
    }

    /// <summary>
    /// Sharded pub/sub on a cluster of Redis 7 or newer, unless configured. Decided on the first
    /// connection, from what the servers are, so every instance decides the same.
    /// </summary>
    private bool UseShardedPubSub(IConnectionMultiplexer publisher)
    {
        var decided = Volatile.Read(ref _pubSubMode);
        if (decided != 0)
        {
            return decided == Sharded;
        }

        var servers = publisher.GetServers().Where(server => server.IsConnected).ToList();
        if (servers.Count == 0)
        {
            throw new RedisException("Redis is not connected yet: the pub/sub mode is decided on the first connection.");
        }

        _isCluster = servers.Any(server => server.ServerType == ServerType.Cluster);
        var sharded = _options.ShardedPubSub ?? (_isCluster && servers.All(server => server.Version.Major >= 7));

        if (Interlocked.CompareExchange(ref _pubSubMode, sharded ? Sharded : Classic, 0) == 0)
        {
            RedisLog.PubSubMode(_logger, sharded ? "sharded (SPUBLISH/SSUBSCRIBE)" : "classic (PUBLISH/SUBSCRIBE)");
        }

        return Volatile.Read(ref _pubSubMode) == Sharded;
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

            while (_outbox.TryPeek(out var next))
            {
                try
                {
                    if (!IsReachable(publisher, next.Channel))
                    {
                        await RefreshClusterTopologyAsync(publisher);
                        break;
                    }

                    await PublishNowAsync(publisher, next);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    await RefreshClusterTopologyAsync(publisher);
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
        connections.Subscriber.ConnectionFailed += (sender, e) =>
        {
            OnConnectionFailed(sender, e);
            Interlocked.Increment(ref _subscriberFailures);
            if (Interlocked.Exchange(ref _recovering, 1) == 0)
            {
                _ = RecoverSubscriptionsAsync(connections.Subscriber);
            }
        };
        connections.Publisher.ConnectionRestored += (_, e) =>
        {
            RedisLog.ConnectionRestored(_logger, e.ConnectionType, e.EndPoint?.ToString());
            WakeDrainer();
        };
        connections.Subscriber.ConnectionRestored += (_, e) => RedisLog.ConnectionRestored(_logger, e.ConnectionType, e.EndPoint?.ToString());
        _drainer = Task.Run(() => DrainAsync(connections.Publisher));
        return connections;
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
        => RedisLog.ConnectionFailed(_logger, e.ConnectionType, e.EndPoint?.ToString(), e.FailureType, e.Exception);

    /// <summary>
    /// Whether the server that owns <paramref name="channel"/> is connected. On a cluster, one master
    /// down must not make every publish wait for a command timeout: its channels' events go to the
    /// outbox at once, the others' still go to Redis.
    /// </summary>
    private bool IsReachable(IConnectionMultiplexer publisher, string channel)
    {
        if (!publisher.IsConnected)
        {
            return false;
        }

        if (!_isCluster)
        {
            return true;
        }

        return publisher.GetDatabase().IdentifyEndpoint(_keys.Meta(channel)) is { } endpoint && publisher.GetServer(endpoint).IsConnected;
    }

    /// <summary>After a failover, asks the cluster who owns which slots now, rather than waiting for the periodic check.</summary>
    private async Task RefreshClusterTopologyAsync(IConnectionMultiplexer connection)
    {
        if (_isCluster)
        {
            try
            {
                await connection.ConfigureAsync();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Tried again on the next round.
            }
        }
    }

    /// <summary>
    /// The subscribing connection failed. Waits until Redis has acknowledged every subscription again
    /// (StackExchange.Redis resubscribes on its own; on a cluster the topology is refreshed so that a
    /// replica that took over gets the subscriptions), then tells each subscriber to catch up from the
    /// retained state: events published meanwhile were not delivered live.
    /// </summary>
    private async Task RecoverSubscriptionsAsync(IConnectionMultiplexer subscriber)
    {
        int failuresSeen;
        do
        {
            failuresSeen = Volatile.Read(ref _subscriberFailures);
            var delay = TimeSpan.FromMilliseconds(100);
            try
            {
                while (!AllSubscribed(subscriber))
                {
                    await Task.Delay(delay, _disposed.Token);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                    await RefreshClusterTopologyAsync(subscriber);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            RedisLog.SubscriptionsRestored(_logger, _subscriptions.Count);
            foreach (var subscription in _subscriptions.Keys)
            {
                subscription.Subscriber.OnSubscriptionRestored();
            }

            Volatile.Write(ref _recovering, 0);
        }
        while (Volatile.Read(ref _subscriberFailures) != failuresSeen && Interlocked.Exchange(ref _recovering, 1) == 0);
    }

    /// <summary>Whether Redis has acknowledged every subscription on a connected server.</summary>
    private bool AllSubscribed(IConnectionMultiplexer subscriber)
    {
        var redis = subscriber.GetSubscriber();
        return _subscriptions.Keys.All(subscription =>
            redis.SubscribedEndpoint(subscription.Channel) is { } endpoint && subscriber.GetServer(endpoint).IsConnected);
    }

    private sealed record Connections(IConnectionMultiplexer Publisher, IConnectionMultiplexer Subscriber, bool Owned);

    private sealed class Subscription(RedisEventBroadcaster owner, string channel, IChannelSubscriber subscriber, ChannelMessageQueue queue)
        : IAsyncDisposable
    {
        private int _disposed;

        public IChannelSubscriber Subscriber { get; } = subscriber;

        public RedisChannel Channel => queue.Channel;

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
