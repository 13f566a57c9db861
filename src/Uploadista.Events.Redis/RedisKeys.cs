using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Names in Redis. Channel <c>upload:abc</c> with prefix <c>uploadista:</c> lives at
/// <c>uploadista:{upload:abc}</c>: that is its pub/sub channel, and <c>...:m</c> its meta hash. The
/// braces are a hash tag: on a cluster every key of a channel shares one slot, so one script can
/// update them atomically.
/// </summary>
/// <remarks>
/// The meta hash holds the channel's seq (<c>s</c>) and epoch (<c>e</c>), shared by every format so
/// that seq stays unique while instances of two releases share a Redis. Everything else a format
/// keeps is named by its version. Format 2 keeps, in the same hash, the events that are never
/// superseded per batch in <c>2r:&lt;first seq&gt;:&lt;count&gt;</c> and their number in <c>2c</c>, the latest
/// progress per conflation key in <c>2p:&lt;key&gt;</c> with its batch's first seq in <c>2f:&lt;key&gt;</c>,
/// and the last batch applied per publishing instance in <c>2i:&lt;instance&gt;</c> with its last seq in
/// <c>2j:&lt;instance&gt;</c>. Format 1 (the first release) kept a sorted set <c>...:r</c> and fields
/// <c>k:&lt;key&gt;</c>; format 2 never touches them.
/// <para>Which upload a job belongs to is a string key of its own beside the job's channel,
/// <c>uploadista:{flow:job1}:upload</c>, holding the upload's id: in the job's slot, so it is written and
/// read with the job (the upload's channel lives in another slot), and apart from the meta hash, which
/// every format shares.</para>
/// </remarks>
internal sealed class RedisKeys(string prefix)
{
    public string Base(string channel) => string.Concat(prefix, "{", channel, "}");

    public RedisChannel PubSub(string channel, bool sharded)
        => sharded ? RedisChannel.Sharded(Base(channel)) : RedisChannel.Literal(Base(channel));

    public RedisKey Meta(string channel) => Base(channel) + ":m";

    /// <summary>The key of the upload job <paramref name="jobId"/> belongs to: beside the job's channel, <c>flow:{jobId}</c>.</summary>
    public RedisKey JobUpload(string jobId) => string.Concat(prefix, "{flow:", jobId, "}:upload");
}
