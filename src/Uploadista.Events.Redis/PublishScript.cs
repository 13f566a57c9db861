using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Uploadista.Events.Redis;

/// <summary>
/// Publishes one event in one atomic step: assigns the channel's next seq, frames the event, stores it
/// as retained state, and publishes it, so publishers on different instances can never interleave.
/// The retention settings are written into the script, which is called by its SHA-1 (EVALSHA).
/// </summary>
/// <remarks>
/// KEYS[1] meta hash, KEYS[2] retained sorted set. ARGV[1] pub/sub channel, ARGV[2] the event as a JSON
/// object without seq, ARGV[3] conflation key ('' for none), ARGV[4] the publish command (PUBLISH, or
/// SPUBLISH on a cluster). A channel's epoch is the server time at which it got its first seq. The
/// message is <c>seq:epoch:keyLength:key</c> followed by the frame; see <see cref="Envelope"/>. Returns
/// the seq.
/// </remarks>
internal sealed class PublishScript
{
    private const string Template = """
        local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
        local epoch = redis.call('HGET', KEYS[1], 'e')
        if not epoch then
          local now = redis.call('TIME')
          epoch = now[1] .. '.' .. now[2]
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
        redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - {MAX_RETAINED})
        redis.call('PEXPIRE', KEYS[1], {RETENTION_MS})
        redis.call('PEXPIRE', KEYS[2], {RETENTION_MS})
        redis.call(ARGV[4], ARGV[1], message)
        return seq
        """;

    public PublishScript(TimeSpan retention, int maxRetained)
    {
        Text = Template
            .Replace("{MAX_RETAINED}", maxRetained.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{RETENTION_MS}", ((long)retention.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
#pragma warning disable CA5350 // Redis names scripts by their SHA-1; it is an identifier here, not security.
        Hash = SHA1.HashData(Encoding.UTF8.GetBytes(Text));
#pragma warning restore CA5350
    }

    /// <summary>Gets the script, for SCRIPT LOAD.</summary>
    public string Text { get; }

    /// <summary>Gets the script's SHA-1, for EVALSHA.</summary>
    public byte[] Hash { get; }
}
