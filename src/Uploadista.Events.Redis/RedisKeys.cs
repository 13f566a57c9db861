using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Names in Redis. Channel <c>upload:abc</c> with prefix <c>uploadista:</c> lives at
/// <c>uploadista:{upload:abc}</c>: that is its pub/sub channel; <c>...:m</c> is its meta hash and
/// <c>...:2l</c> its retained events (a list, format 2). The braces are a hash tag: on a cluster all of
/// a channel's keys share one slot, so one script can update them atomically.
/// </summary>
/// <remarks>
/// The meta hash holds the channel's seq (<c>s</c>) and epoch (<c>e</c>), shared by every format so
/// that seq stays unique while instances of two releases share a Redis. Everything else a format
/// keeps is named by its version: format 2 keeps the latest progress per conflation key in fields
/// <c>2p:&lt;key&gt;</c>, the last batch applied per publishing instance in <c>2i:&lt;instance&gt;</c>, and
/// the number of events in its list in <c>2c</c>. Format 1 (the first release) kept a sorted set
/// <c>...:r</c> and fields <c>k:&lt;key&gt;</c>; format 2 never touches them.
/// </remarks>
internal sealed class RedisKeys(string prefix)
{
    public string Base(string channel) => string.Concat(prefix, "{", channel, "}");

    public RedisChannel PubSub(string channel, bool sharded)
        => sharded ? RedisChannel.Sharded(Base(channel)) : RedisChannel.Literal(Base(channel));

    public RedisKey Meta(string channel) => Base(channel) + ":m";

    public RedisKey Retained(string channel) => Base(channel) + ":2l";
}
