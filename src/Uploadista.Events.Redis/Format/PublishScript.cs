using System.Globalization;

namespace Uploadista.Events.Redis;

/// <summary>
/// Publishes batches in one atomic step per call: for each channel of the call it assigns the batch's
/// seqs, stores what is retained, and publishes one message with all of its events. Called by its
/// SHA-1 (EVALSHA); the retention settings are written into it.
/// </summary>
/// <remarks>
/// <para>KEYS: for each channel, its meta hash. ARGV[1] is the publish command (PUBLISH, or SPUBLISH on
/// a cluster), ARGV[2] this instance's publisher id; then for each channel: its pub/sub channel, the
/// batch's size, the batch id (16 digits, so that ids compare as strings), '1' to refresh the key's
/// expiry, the floor seq and epoch (what this instance knows of the channel, or 0 and ''), how many of
/// its events are never superseded, their entries (one string), the entries of its progress events
/// (one string), the number of progress keys, and for each progress key its name and its latest entry.
/// It returns, for each channel, the epoch and the batch's last seq.</para>
/// <para>A batch this publisher already applied (its id is at or below the one recorded, because the
/// reply was lost and the batch is retried) is not applied again: exactly once. A channel without
/// state continues the run the floor names, and a run below its floor (a failover lost writes) is
/// raised to it, so seq never goes back.</para>
/// <para>Everything lives in the one hash, so that a batch costs three Redis calls: HMGET, HSET and
/// the publish. A batch's entries that are never superseded are kept in a field
/// <c>2r:&lt;first seq&gt;:&lt;count&gt;</c>; past the maximum and a quarter, the oldest such fields go while
/// the rest still hold the maximum, and readers keep the newest maximum. The key's expiry is refreshed
/// when the caller asks (it does every hundredth of the retention period) and when the channel is new,
/// to the retention period and a hundredth, so the state lives at least the retention period after
/// the channel's last event. Numbers are formatted with %d: Lua's default conversion of numbers to
/// strings is slow.</para>
/// </remarks>
internal static class PublishScript
{
    private const string Template = """
        local cmd, publisher = ARGV[1], ARGV[2]
        local applied, appliedLast = '2i:' .. publisher, '2j:' .. publisher
        local out = {}
        local a = 3
        for j = 1, #KEYS do
          local meta = KEYS[j]
          local batch, floorEpoch = ARGV[a + 2], ARGV[a + 5]
          local regular, keys = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 9])
          local st = redis.call('HMGET', meta, 's', 'e', applied, appliedLast, '2c')
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
            for i = a + 10, a + 9 + 2 * keys, 2 do
              fields[#fields + 1] = '2p:' .. ARGV[i]
              fields[#fields + 1] = ARGV[i + 1]
              fields[#fields + 1] = '2f:' .. ARGV[i]
              fields[#fields + 1] = first
            end
            local count = tonumber(st[5]) or 0
            if regular > 0 then
              count = count + regular
              fields[#fields + 1] = '2r:' .. first .. ':' .. ARGV[a + 6]
              fields[#fields + 1] = ARGV[a + 7]
              if count > {TRIM_AT} then
                local stored = {}
                for _, field in ipairs(redis.call('HKEYS', meta)) do
                  local from, n = string.match(field, '^2r:(%d+):(%d+)$')
                  if from then
                    stored[#stored + 1] = {tonumber(from), tonumber(n), field}
                  end
                end
                table.sort(stored, function(x, y) return x[1] < y[1] end)
                local gone = {}
                for _, item in ipairs(stored) do
                  if count - item[2] < {MAX_RETAINED} then
                    break
                  end
                  count = count - item[2]
                  gone[#gone + 1] = item[3]
                end
                if #gone > 0 then
                  redis.call('HDEL', meta, unpack(gone))
                end
              end
              fields[#fields + 1] = '2c'
              fields[#fields + 1] = string.format('%d', count)
            end
            redis.call('HSET', meta, unpack(fields))
            if fresh or ARGV[a + 3] == '1' then
              redis.call('PEXPIRE', meta, {EXPIRY_MS})
            end
            redis.call(cmd, ARGV[a], 'U2 ' .. e .. ' ' .. first .. ' ' .. publisher .. ' ' .. batch .. ' ' .. ARGV[a + 1] .. '\n' .. ARGV[a + 7] .. ARGV[a + 8])
            out[#out + 1] = e
            out[#out + 1] = last
          end
          a = a + 10 + 2 * keys
        end
        return out
        """;

    /// <summary>Writes the settings into the script.</summary>
    /// <param name="retention">How long a channel's state lives after its last event.</param>
    /// <param name="maxRetained">How many events that are never superseded are retained per channel.</param>
    public static LuaScript Create(TimeSpan retention, int maxRetained)
        => new(Template
            .Replace("{MAX_RETAINED}", maxRetained.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{TRIM_AT}", (maxRetained + Math.Max(16, maxRetained / 4)).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{EXPIRY_MS}", ((long)(retention.TotalMilliseconds * 1.01)).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));

    /// <summary>How often an instance refreshes the expiry of a channel it publishes on: a hundredth of the retention period.</summary>
    public static TimeSpan ExpiryRefresh(TimeSpan retention) => retention / 100;
}
