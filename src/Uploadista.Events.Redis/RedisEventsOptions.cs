using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Options of the Redis broadcaster, bound from the configuration section
/// <c>Uploadista:Events:Redis</c> and validated when the host starts.
/// </summary>
public sealed class RedisEventsOptions
{
    /// <summary>The configuration section the options bind from: <c>Uploadista:Events:Redis</c>.</summary>
    public const string SectionName = "Uploadista:Events:Redis";

    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string, for example <c>localhost:6379</c>. One
    /// <see cref="IConnectionMultiplexer"/> is opened from it; it keeps its own connection for pub/sub.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration; when set, it is used instead of
    /// <see cref="Configuration"/>.
    /// </summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>
    /// Gets or sets the prefix of every Redis channel and key the broadcaster uses, so that several
    /// applications can share one Redis. The default is <c>uploadista:</c>.
    /// </summary>
    public string ChannelPrefix { get; set; } = "uploadista:";

    /// <summary>
    /// Gets or sets whether events go through sharded pub/sub (<c>SPUBLISH</c>/<c>SSUBSCRIBE</c>), so that
    /// on a Redis Cluster each event reaches only the shard that owns its channel instead of every node.
    /// <see langword="null"/> (the default) decides on the first connection: sharded on a cluster whose
    /// nodes all run Redis 7 or newer, classic otherwise. Every instance sharing a Redis must end up
    /// with the same choice.
    /// </summary>
    public bool? ShardedPubSub { get; set; }

    /// <summary>
    /// Gets or sets how many events an instance keeps waiting for Redis (while a server is unreachable,
    /// or while the previous batch of their channel is on its way), besides the one batch per channel
    /// being sent, to publish them in order when it can. Beyond it, superseded progress is dropped first,
    /// then the oldest events. The default is 10000.
    /// </summary>
    public int MaxPendingPublications { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets how long Redis may be unreachable before the health check
    /// (<c>services.AddHealthChecks().AddUploadistaEvents()</c>) reports Unhealthy; until then it reports
    /// Degraded. Sockets stay open and events wait in the outbox meanwhile, so a short blip need not
    /// take the instance out of service. The default is 30 seconds.
    /// </summary>
    public TimeSpan UnhealthyAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gives the connection an application already has (<c>AddRedis(multiplexer)</c>); it is not disposed by the broadcaster.</summary>
    internal Func<IServiceProvider, IConnectionMultiplexer>? MultiplexerFactory { get; set; }
}
