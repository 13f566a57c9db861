namespace Uploadista.Events.Redis;

/// <summary>
/// What this instance knows of which upload each job belongs to, so that following a job's association
/// costs no round trip per event: filled when the association is written or read, bounded, and each
/// entry trusted only while the key in Redis must still say the same.
/// </summary>
/// <remarks>
/// <para>The key lives the retention period and a hundredth after it was last written or touched; an
/// entry is trusted for nine tenths of the retention period after Redis last confirmed it (as
/// <see cref="SeqMemory"/>), so it never outlives the key. While the job's events keep coming, the
/// instance touches the key every hundredth of the retention period (as it refreshes a channel's
/// expiry), which keeps the key, and the entry, alive as long as the job's state.</para>
/// <para>"No upload" is remembered too, for a few seconds only: a job without an upload costs one read
/// per few seconds, and an association written meanwhile on another instance (which happens only if
/// an event of the job came before the one that named its upload) is seen that much later.</para>
/// </remarks>
internal sealed class JobUploadCache(TimeSpan retention, int capacity, TimeProvider time)
{
    private static readonly TimeSpan NoneLifetime = TimeSpan.FromSeconds(5);

    // An association this instance could not write is tried again this often.
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _lifetime = retention * 0.9;
    private readonly TimeSpan _noneLifetime = NoneLifetime < retention * 0.9 ? NoneLifetime : retention * 0.9;
    private readonly TimeSpan _refreshEvery = retention / 100;
    private readonly TimeSpan _retryEvery = RetryEvery < retention / 100 ? RetryEvery : retention / 100;

    /// <summary>
    /// Looks the job up. When the entry is trusted, <paramref name="uploadId"/> is what it says (null:
    /// no upload), and <paramref name="refreshAt"/> is nonzero when this caller should touch the key now:
    /// the refresh is claimed, so that no other caller does within the interval.
    /// </summary>
    /// <returns>Whether the entry is trusted; if not, the caller reads the key.</returns>
    public bool TryGet(string jobId, out string? uploadId, out long refreshAt)
    {
        var now = time.GetTimestamp();
        uploadId = null;
        refreshAt = 0;
        lock (_gate)
        {
            if (!_entries.TryGetValue(jobId, out var entry)
                || time.GetElapsedTime(entry.ConfirmedAt, now) >= (entry.UploadId is null ? _noneLifetime : _lifetime))
            {
                return false;
            }

            uploadId = entry.UploadId;
            if (entry.UploadId is not null && time.GetElapsedTime(entry.ClaimedAt, now) >= (entry.Unwritten ? _retryEvery : _refreshEvery))
            {
                _entries[jobId] = entry with { ClaimedAt = now };
                refreshAt = now;
            }

            return true;
        }
    }

    /// <summary>
    /// Redis said <paramref name="uploadId"/> (null: none) in answer to a command sent at
    /// <paramref name="sentAt"/>. An entry confirmed, or named by an event, after the command was sent
    /// is kept: the reply to a read that crossed a write must not put back what the read saw.
    /// </summary>
    public void Confirmed(string jobId, string? uploadId, long sentAt)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(jobId, out var known) && known.ConfirmedAt > sentAt)
            {
                return;
            }

            Put(jobId, new Entry(uploadId, sentAt, sentAt, Unwritten: false));
        }
    }

    /// <summary>
    /// An event named <paramref name="uploadId"/> but writing it to Redis failed: this instance follows
    /// it all the same, and tries to write it again on the job's next event after a second.
    /// </summary>
    public void Unwritten(string jobId, string uploadId)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            Put(jobId, new Entry(uploadId, now, now, Unwritten: true));
        }
    }

    private void Put(string jobId, Entry entry)
    {
        if (_entries.Count >= capacity && !_entries.ContainsKey(jobId))
        {
            MakeRoom(time.GetTimestamp());
        }

        _entries[jobId] = entry;
    }

    /// <summary>Drops the entries no longer trusted, or if none is, the oldest quarter; a dropped entry costs one read.</summary>
    private void MakeRoom(long now)
    {
        var stale = _entries
            .Where(e => time.GetElapsedTime(e.Value.ConfirmedAt, now) >= (e.Value.UploadId is null ? _noneLifetime : _lifetime))
            .Select(e => e.Key)
            .ToList();
        if (stale.Count == 0)
        {
            stale = [.. _entries.OrderBy(e => e.Value.ConfirmedAt).Take(Math.Max(1, _entries.Count / 4)).Select(e => e.Key)];
        }

        foreach (var jobId in stale)
        {
            _entries.Remove(jobId);
        }
    }

    /// <param name="UploadId">The job's upload, or null for none.</param>
    /// <param name="ConfirmedAt">When the command whose reply confirmed it was sent (or, unwritten, when an event named it).</param>
    /// <param name="ClaimedAt">When its key was last touched, or a touch claimed.</param>
    /// <param name="Unwritten">Whether it is this instance's only, because writing it failed.</param>
    private readonly record struct Entry(string? UploadId, long ConfirmedAt, long ClaimedAt, bool Unwritten);
}
