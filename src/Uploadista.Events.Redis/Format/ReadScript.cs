using System.Globalization;

namespace Uploadista.Events.Redis;

/// <summary>
/// Reads a channel's state at once: its meta hash, where format 2 keeps everything. Given a floor (what this
/// instance knows of the channel), it first continues a run whose state Redis lost, as publishing
/// does, so that a resubscribing instance keeps its sockets' numbering.
/// </summary>
/// <remarks>KEYS[1] meta hash; ARGV[1] floor seq, ARGV[2] floor epoch ('' for none). Returns HGETALL of the meta hash.</remarks>
internal static class ReadScript
{
    private const string Template = """
        if ARGV[2] ~= '' then
          local st = redis.call('HMGET', KEYS[1], 's', 'e')
          local s, floor = tonumber(st[1]) or 0, tonumber(ARGV[1])
          if not st[2] then
            redis.call('HSET', KEYS[1], 'e', ARGV[2], 's', floor)
            redis.call('PEXPIRE', KEYS[1], {RETENTION_MS})
          elseif st[2] == ARGV[2] and s < floor then
            redis.call('HSET', KEYS[1], 's', floor)
          end
        end
        return redis.call('HGETALL', KEYS[1])
        """;

    /// <summary>Writes the settings into the script.</summary>
    public static LuaScript Create(TimeSpan retention)
        => new(Template
            .Replace("{RETENTION_MS}", ((long)retention.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
}
