using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Names in Redis. Channel <c>upload:abc</c> with prefix <c>uploadista:</c> lives at
/// <c>uploadista:{upload:abc}</c>: that is its pub/sub channel, <c>...:m</c> is its meta hash (seq, epoch,
/// and the seq of the latest progress per conflation key) and <c>...:r</c> its retained events (a
/// sorted set scored by seq). The braces are a hash tag: on a cluster all three share a slot.
/// </summary>
internal sealed class RedisKeys(string prefix)
{
    public string Base(string channel) => string.Concat(prefix, "{", channel, "}");

    public RedisChannel PubSub(string channel, bool sharded)
        => sharded ? RedisChannel.Sharded(Base(channel)) : RedisChannel.Literal(Base(channel));

    public RedisKey Meta(string channel) => Base(channel) + ":m";

    public RedisKey Retained(string channel) => Base(channel) + ":r";
}
