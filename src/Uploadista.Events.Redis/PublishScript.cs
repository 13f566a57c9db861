namespace Uploadista.Events.Redis;

/// <summary>
/// Publishes one event in one atomic step: assigns the channel's next seq, frames the event, stores it
/// as retained state, and publishes it, so publishers on different instances can never interleave.
/// </summary>
internal static class PublishScript
{
    /// <remarks>
    /// KEYS[1] meta hash, KEYS[2] retained sorted set.
    /// ARGV[1] pub/sub channel, ARGV[2] the event as a JSON object without seq, ARGV[3] conflation key ('' for
    /// none), ARGV[4] retention in milliseconds, ARGV[5] most events retained, ARGV[6] an epoch to use if the
    /// channel has none yet, ARGV[7] the publish command (PUBLISH, or SPUBLISH on a cluster).
    /// The message is <c>seq:epoch:keyLength:key</c> followed by the frame; see <see cref="Envelope"/>.
    /// Returns the seq.
    /// </remarks>
    public const string Lua = """
        local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
        local epoch = redis.call('HGET', KEYS[1], 'e')
        if not epoch then
          epoch = ARGV[6]
          redis.call('HSET', KEYS[1], 'e', epoch)
        end
        local key = ARGV[3]
        local message = seq .. ':' .. epoch .. ':' .. string.len(key) .. ':' .. key .. string.sub(ARGV[2], 1, -2) .. ',"seq":' .. seq .. '}'
        if key ~= '' then
          local field = 'k:' .. key
          local previous = redis.call('HGET', KEYS[1], field)
          if previous then
            redis.call('ZREMRANGEBYSCORE', KEYS[2], previous, previous)
          end
          redis.call('HSET', KEYS[1], field, seq)
        end
        redis.call('ZADD', KEYS[2], seq, message)
        local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
        if excess > 0 then
          redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        redis.call(ARGV[7], ARGV[1], message)
        return seq
        """;
}
