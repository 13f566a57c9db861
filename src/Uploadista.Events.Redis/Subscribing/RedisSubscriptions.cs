using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// The broadcaster's pub/sub subscriptions: one per subscriber and channel, and their recovery after
/// the subscription connection to a server failed.
/// </summary>
internal sealed class RedisSubscriptions(RedisConnection connection, RedisKeys keys, SeqMemory memory, ILogger logger, RedisMetrics? metrics = null) : IDisposable
{
    private static readonly RedisValue[] HeadFields = ["e", "s"];

    private readonly ConcurrentDictionary<ChannelSubscription, byte> _subscriptions = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _failures;
    private int _recovering;
    private long _format1Dropped;
    private long _format1LoggedAt = Environment.TickCount64 - 60_000;

    public ILogger Logger => logger;

    public SeqMemory Memory => memory;

    /// <summary>Gets the number of subscriptions waiting for Redis to acknowledge them again after the subscribing connection failed (0 when none is).</summary>
    public int RestoringCount => Volatile.Read(ref _recovering) == 1 ? _subscriptions.Count : 0;

    public void Start() => connection.SubscriptionsLost += () =>
    {
        Interlocked.Increment(ref _failures);
        if (Interlocked.Exchange(ref _recovering, 1) == 0)
        {
            _ = RecoverAsync();
        }
    };

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber)
    {
        var multiplexer = await connection.GetAsync();
        var queue = await SubscribeWithRetriesAsync(multiplexer, keys.PubSub(channel, connection.UseShardedPubSub()));
        var subscription = new ChannelSubscription(this, channel, subscriber, queue);
        _subscriptions.TryAdd(subscription, 0);
        return subscription;
    }

    /// <summary>
    /// Subscribes, retrying for most of a second: just after connecting, the multiplexer's subscription
    /// connection can still be coming up while the other is ready, and commands fail fast (no backlog).
    /// A Redis that stays unreachable fails the subscription soon enough for the socket to hear 1013.
    /// </summary>
    private static async Task<ChannelMessageQueue> SubscribeWithRetriesAsync(IConnectionMultiplexer multiplexer, RedisChannel channel)
    {
        for (var delay = TimeSpan.FromMilliseconds(50); ; delay *= 2)
        {
            try
            {
                return await multiplexer.GetSubscriber().SubscribeAsync(channel);
            }
            catch (RedisConnectionException) when (delay <= TimeSpan.FromMilliseconds(400))
            {
                await Task.Delay(delay);
            }
        }
    }

    public void Remove(ChannelSubscription subscription) => _subscriptions.TryRemove(subscription, out _);

    /// <summary>Reads the channel's epoch and last seq from its master.</summary>
    public async Task<(string? Epoch, long Seq)> ReadHeadAsync(string channel)
    {
        var head = await connection.Multiplexer.GetDatabase().HashGetAsync(keys.Meta(channel), HeadFields, CommandFlags.DemandMaster);
        return ((string?)head[0], (long?)head[1] ?? 0);
    }

    /// <summary>
    /// A message of format 1 came from an instance of the first release sharing this Redis (a rolling
    /// deploy): it is dropped, and said so at most once a minute.
    /// </summary>
    public void Format1Dropped(string channel)
    {
        var count = Interlocked.Increment(ref _format1Dropped);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _format1LoggedAt);
        if (now - last >= 60_000 && Interlocked.CompareExchange(ref _format1LoggedAt, now, last) == last)
        {
            RedisLog.Format1Dropped(logger, channel, count);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>
    /// The subscription connection failed. Waits until Redis has acknowledged every subscription again
    /// (StackExchange.Redis resubscribes on its own; on a cluster the topology is refreshed so that a
    /// replica that took over gets the subscriptions), then tells each subscriber to catch up from the
    /// retained state: events published meanwhile were not delivered live.
    /// </summary>
    private async Task RecoverAsync()
    {
        int failuresSeen;
        do
        {
            failuresSeen = Volatile.Read(ref _failures);
            var delay = TimeSpan.FromMilliseconds(100);
            try
            {
                while (!AllSubscribed())
                {
                    await Task.Delay(delay, _stopping.Token);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                    await connection.RefreshTopologyAsync();
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            RedisLog.SubscriptionsRestored(logger, _subscriptions.Count);
            metrics?.SubscriptionsRestored(_subscriptions.Count);
            foreach (var subscription in _subscriptions.Keys)
            {
                subscription.Subscriber.OnMissedEvents();
            }

            Volatile.Write(ref _recovering, 0);
        }
        while (Volatile.Read(ref _failures) != failuresSeen && Interlocked.Exchange(ref _recovering, 1) == 0);
    }

    /// <summary>Whether Redis has acknowledged every subscription on a connected server.</summary>
    private bool AllSubscribed()
    {
        var multiplexer = connection.Multiplexer;
        var redis = multiplexer.GetSubscriber();
        return _subscriptions.Keys.All(subscription =>
            redis.SubscribedEndpoint(subscription.Channel) is { } endpoint && multiplexer.GetServer(endpoint).IsConnected);
    }
}
