using System.Globalization;

namespace Uploadista.Events.Redis;

/// <summary>
/// Publishes batches in one atomic step per call: for each channel of the call it assigns the batch's
/// seqs, stores what is retained, and publishes one message with all of its events. Called by its
/// SHA-1 (EVALSHA); the retention settings are written into it.
/// </summary>
/// <remarks>
/// <para>KEYS: for each channel, its meta hash and its retained list. ARGV[1] is the publish command
/// (PUBLISH, or SPUBLISH on a cluster), ARGV[2] this instance's publisher id; then for each channel:
/// its pub/sub channel, the batch's size, the batch id (16 digits, so that ids compare as strings),
/// '1' to refresh the keys' expiry, the floor seq and epoch (what this instance knows of the channel,
/// or 0 and ''), the number of entries that are never superseded, the entries of the progress events
/// (one string), the number of progress keys; then each entry that is never superseded, and for each
/// progress key its name and its latest entry. It returns, for each channel, the epoch and the batch's
/// last seq.</para>
/// <para>A batch this publisher already applied (its id is at or below the one recorded, because the
/// reply was lost and the batch is retried) is not applied again: exactly once. A channel without
/// state continues the run the floor names, and a run below its floor (a failover lost writes) is
/// raised to it, so seq never goes back.</para>
/// <para>The retained list holds a marker <c>#&lt;first seq&gt;</c> per batch followed by its entries,
/// one item each; past twice the maximum it is cut to that, and readers keep the newest maximum. The
/// keys' expiry is refreshed when the caller asks (it does every hundredth of the retention period)
/// and when the channel is new, to the retention period and a hundredth, so the state lives at least
/// the retention period after the channel's last event. Numbers are formatted with %d: Lua's default
/// conversion of numbers to strings is slow.</para>
/// </remarks>
internal static class PublishScript
{
    private const string Template = """
        local cmd, publisher = ARGV[1], ARGV[2]
        local applied, appliedLast = '2i:' .. publisher, '2j:' .. publisher
        local out = {}
        local a = 3
        for j = 1, #KEYS, 2 do
          local meta, list = KEYS[j], KEYS[j + 1]
          local batch, floorEpoch = ARGV[a + 2], ARGV[a + 5]
          local regular, keys = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 8])
          local rs = a + 9
          local ks = rs + regular
          local st = redis.call('HMGET', meta, 's', 'e', applied, appliedLast)
          local e = st[2]
          if st[3] and st[3] >= batch then
            out[#out + 1] = e
            out[#out + 1] = st[4]
          else
            local s = tonumber(st[1]) or 0
            local fresh = not e
            local fields = {'s', 0, applied, batch, appliedLast, 0}
            if fresh then
              if floorEpoch ~= '' then
                e = floorEpoch
              else
                local now = redis.call('TIME')
                e = now[1] .. '.' .. now[2]
              end
              fields[7] = 'e'
              fields[8] = e
            end
            if e == floorEpoch then
              local floor = tonumber(ARGV[a + 4])
              if s < floor then
                s = floor
              end
            end
            local first = string.format('%d', s + 1)
            local last = string.format('%d', s + tonumber(ARGV[a + 1]))
            fields[2] = last
            fields[6] = last
            for i = ks, ks + 2 * keys - 1, 2 do
              fields[#fields + 1] = '2p:' .. ARGV[i]
              fields[#fields + 1] = ARGV[i + 1]
              fields[#fields + 1] = '2f:' .. ARGV[i]
              fields[#fields + 1] = first
            end
            redis.call('HSET', meta, unpack(fields))
            if regular > 0 and redis.call('RPUSH', list, '#' .. first, unpack(ARGV, rs, ks - 1)) > 2 * {MAX_RETAINED} + 64 then
              redis.call('LTRIM', list, -2 * {MAX_RETAINED} - 2, -1)
            end
            if fresh or ARGV[a + 3] == '1' then
              redis.call('PEXPIRE', meta, {EXPIRY_MS})
              redis.call('PEXPIRE', list, {EXPIRY_MS})
            end
            redis.call(cmd, ARGV[a], 'U2 ' .. e .. ' ' .. first .. ' ' .. publisher .. ' ' .. batch .. ' ' .. ARGV[a + 1] .. '\n' .. table.concat(ARGV, '', rs, ks - 1) .. ARGV[a + 7])
            out[#out + 1] = e
            out[#out + 1] = last
          end
          a = ks + 2 * keys
        end
        return out
        """;

    /// <summary>Writes the settings into the script.</summary>
    /// <param name="retention">How long a channel's state lives after its last event.</param>
    /// <param name="maxRetained">How many events that are never superseded are retained per channel.</param>
    public static LuaScript Create(TimeSpan retention, int maxRetained)
        => new(Template
            .Replace("{MAX_RETAINED}", maxRetained.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{EXPIRY_MS}", ((long)(retention.TotalMilliseconds * 1.01)).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));

    /// <summary>How often an instance refreshes the expiry of a channel it publishes on: a hundredth of the retention period.</summary>
    public static TimeSpan ExpiryRefresh(TimeSpan retention) => retention / 100;
}
