using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// The broadcaster's one <see cref="IConnectionMultiplexer"/> (StackExchange.Redis keeps a dedicated
/// subscription connection inside it), what kind of Redis it reaches, and which servers are up.
/// </summary>
internal sealed class RedisConnection(RedisEventsOptions options, IServiceProvider? services, ILogger logger) : IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _multiplexer = new(() => ConnectAsync(options, services));
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private int _pubSubMode; // 0 until decided, then Classic or Sharded
    private long _lastRefresh;
    private long _unreachableSince; // Environment.TickCount64 when Redis was first seen unreachable; 0 while reachable

    private const int Classic = 1;
    private const int Sharded = 2;

    /// <summary>Raised when a connection to a server comes back.</summary>
    public event Action? Restored;

    /// <summary>Raised when the subscription connection to a server fails: its subscriptions missed what was published meanwhile.</summary>
    public event Action? SubscriptionsLost;

    /// <summary>Gets whether the servers are a Redis Cluster; known once connected.</summary>
    public bool IsCluster { get; private set; }

    /// <summary>Gets the multiplexer once connected; it keeps reconnecting on its own while Redis is down.</summary>
    public Task<IConnectionMultiplexer> GetAsync() => _multiplexer.Value;

    /// <summary>Gets the multiplexer, which must be connected already.</summary>
    public IConnectionMultiplexer Multiplexer => _multiplexer.Value.Result;

    /// <summary>Connects, decides what kind of Redis this is, and starts watching its connections.</summary>
    public async Task StartAsync()
    {
        var multiplexer = await _multiplexer.Value;
        multiplexer.ConnectionFailed += (_, e) =>
        {
            RedisLog.ConnectionFailed(logger, e.ConnectionType, e.EndPoint?.ToString(), e.FailureType, e.Exception);
            _ = Reachability();
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                SubscriptionsLost?.Invoke();
            }
        };
        multiplexer.ConnectionRestored += (_, e) =>
        {
            RedisLog.ConnectionRestored(logger, e.ConnectionType, e.EndPoint?.ToString());
            _ = Reachability();
            Restored?.Invoke();
        };
        TryDecidePubSubMode(multiplexer);
        _ = Reachability();
    }

    /// <summary>
    /// Gets whether a Redis server is connected, and if none is, for how long none has been (as far as
    /// the connection's events and these calls have seen): the health check's and the gauge's view.
    /// </summary>
    public (bool Connected, TimeSpan UnreachableFor) Reachability()
    {
        var connected = _multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully && _multiplexer.Value.Result.IsConnected;
        if (connected)
        {
            Interlocked.Exchange(ref _unreachableSince, 0);
            return (true, TimeSpan.Zero);
        }

        var now = Environment.TickCount64;
        var since = Interlocked.CompareExchange(ref _unreachableSince, now, 0);
        return (false, TimeSpan.FromMilliseconds(since == 0 ? 0 : now - since));
    }

    /// <summary>
    /// Whether the server that owns <paramref name="key"/> is connected, from the multiplexer's own
    /// state (no round trip): an unreachable server's channels wait in the outbox at once, the others
    /// still go to Redis.
    /// </summary>
    public bool IsReachable(RedisKey key)
    {
        var multiplexer = Multiplexer;
        if (!multiplexer.IsConnected || (Volatile.Read(ref _pubSubMode) == 0 && TryDecidePubSubMode(multiplexer) is null))
        {
            return false;
        }

        try
        {
            return !IsCluster || multiplexer.GetServer(key).IsConnected;
        }
        catch (RedisException)
        {
            return false; // no server owns the slot now
        }
    }

    /// <summary>
    /// Sharded pub/sub on a cluster of Redis 7 or newer, unless configured. Decided on the first
    /// connection, from what the servers are, so every instance decides the same.
    /// </summary>
    /// <exception cref="RedisException">No server is connected yet.</exception>
    public bool UseShardedPubSub()
        => TryDecidePubSubMode(Multiplexer) ?? throw new RedisException("Redis is not connected yet: the pub/sub mode is decided on the first connection.");

    /// <summary>Runs <paramref name="script"/> by its SHA-1, loading it first where a server does not know it.</summary>
    public async Task<RedisResult> EvaluateAsync(LuaScript script, RedisKey[] keys, RedisValue[] values)
    {
        var multiplexer = Multiplexer;
        try
        {
            return await multiplexer.GetDatabase().ScriptEvaluateAsync(script.Hash, keys, values);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // A server that restarted, or a replica that took over, has not seen the script yet.
            foreach (var server in multiplexer.GetServers().Where(server => server.IsConnected && !server.IsReplica))
            {
                await server.ScriptLoadAsync(script.Text);
            }

            return await multiplexer.GetDatabase().ScriptEvaluateAsync(script.Hash, keys, values);
        }
    }

    /// <summary>After a failover, asks the cluster who owns which slots now, rather than waiting for the periodic check; at most twice a second.</summary>
    public async Task RefreshTopologyAsync()
    {
        if (!IsCluster || Environment.TickCount64 - Interlocked.Read(ref _lastRefresh) < 500 || !await _refreshing.WaitAsync(0))
        {
            return;
        }

        try
        {
            Interlocked.Exchange(ref _lastRefresh, Environment.TickCount64);
            await Multiplexer.ConfigureAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Tried again on the next round.
        }
        finally
        {
            _refreshing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (options.MultiplexerFactory is null && _multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully)
        {
            await _multiplexer.Value.Result.DisposeAsync();
        }

        _refreshing.Dispose();
    }

    private bool? TryDecidePubSubMode(IConnectionMultiplexer multiplexer)
    {
        var decided = Volatile.Read(ref _pubSubMode);
        if (decided != 0)
        {
            return decided == Sharded;
        }

        var servers = multiplexer.GetServers().Where(server => server.IsConnected).ToList();
        if (servers.Count == 0)
        {
            return null;
        }

        IsCluster = servers.Any(server => server.ServerType == ServerType.Cluster);
        var sharded = options.ShardedPubSub ?? (IsCluster && servers.All(server => server.Version.Major >= 7));
        if (Interlocked.CompareExchange(ref _pubSubMode, sharded ? Sharded : Classic, 0) == 0)
        {
            RedisLog.PubSubMode(logger, sharded ? "sharded (SPUBLISH/SSUBSCRIBE)" : "classic (PUBLISH/SUBSCRIBE)");
        }

        return Volatile.Read(ref _pubSubMode) == Sharded;
    }

    private static async Task<IConnectionMultiplexer> ConnectAsync(RedisEventsOptions options, IServiceProvider? services)
    {
        if (options.MultiplexerFactory is { } factory)
        {
            return factory(services ?? throw new InvalidOperationException("A connection factory needs the service provider."));
        }

        var configuration = options.ConfigurationOptions?.Clone() ?? ConfigurationOptions.Parse(options.Configuration!);

        // Start even when Redis is down, and keep reconnecting; while a server is down its events wait
        // in the outbox, so commands to it fail at once rather than wait in the client's own backlog.
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "uploadista";
        return await ConnectionMultiplexer.ConnectAsync(configuration);
    }
}
