namespace Uploadista.Events.Redis;

/// <summary>
/// What this instance knows of each channel's numbering: the epoch and the highest seq it was handed
/// when publishing or it read or received. When Redis has lost a channel's state (a restart without
/// persistence, a failover that lost the last writes), the channel continues above it in the same
/// epoch, so seq never goes back for the sockets that saw it.
/// </summary>
/// <remarks>
/// Bounded, and an entry is forgotten a little before the channel's state would expire in Redis
/// (nine tenths of the retention period after it was last updated): a channel whose state expired
/// after its retention period must start a new run, not be revived.
/// </remarks>
internal sealed class SeqMemory(TimeSpan retention, int capacity, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _refreshed = new(StringComparer.Ordinal);
    private readonly TimeSpan _lifetime = retention * 0.9;

    /// <summary>Records that <paramref name="channel"/> reached <paramref name="seq"/> in <paramref name="epoch"/>.</summary>
    /// <remarks>
    /// Within an epoch the highest seq wins, and the entry ages from when it was reached, as the
    /// channel's state in Redis does from its last event; another epoch is a new run and replaces it.
    /// </remarks>
    public void Record(string channel, string epoch, long seq)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_entries.TryGetValue(channel, out var known) && known.Epoch == epoch && known.Seq >= seq)
            {
                return;
            }

            if (_entries.Count >= capacity && !_entries.ContainsKey(channel))
            {
                MakeRoom(now);
            }

            _entries[channel] = new Entry(epoch, seq, now);
        }
    }

    /// <summary>Gets what is known of <paramref name="channel"/>, or (null, 0).</summary>
    public (string? Epoch, long Seq) Get(string channel)
    {
        lock (_gate)
        {
            return _entries.TryGetValue(channel, out var known) && time.GetElapsedTime(known.At) < _lifetime
                ? (known.Epoch, known.Seq)
                : (null, 0);
        }
    }

    /// <summary>
    /// Whether this instance should refresh the expiry of the channel's state in Redis now (it has not
    /// within <paramref name="every"/>); if so, it counts as done.
    /// </summary>
    public bool TakeExpiryRefresh(string channel, TimeSpan every)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_refreshed.TryGetValue(channel, out var at) && time.GetElapsedTime(at, now) < every)
            {
                return false;
            }

            if (_refreshed.Count >= capacity)
            {
                _refreshed.Clear();
            }

            _refreshed[channel] = now;
            return true;
        }
    }

    /// <summary>Drops the forgotten entries, or if none is, the oldest quarter.</summary>
    private void MakeRoom(long now)
    {
        var expired = _entries.Where(e => time.GetElapsedTime(e.Value.At, now) >= _lifetime).Select(e => e.Key).ToList();
        if (expired.Count == 0)
        {
            expired = [.. _entries.OrderBy(e => e.Value.At).Take(Math.Max(1, _entries.Count / 4)).Select(e => e.Key)];
        }

        foreach (var channel in expired)
        {
            _entries.Remove(channel);
        }
    }

    private readonly record struct Entry(string Epoch, long Seq, long At);
}
