namespace Uploadista.Events;

/// <summary>
/// Which upload each job belongs to, held on the job's channel (<see cref="MemoryChannel.UploadId"/>):
/// it is forgotten with the channel, <see cref="UploadistaEventsOptions.RetentionPeriod"/> after the
/// job's last event (never while the job has sockets), or when the channel is evicted.
/// </summary>
internal sealed partial class MemoryEventBroadcaster
{
    public ValueTask SetJobUploadAsync(string jobId, string uploadId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(uploadId);

        // The usual case, a producer that names the upload on each of the job's events: nothing changes,
        // so nothing is locked or allocated.
        if (FindJobChannel(jobId) is { Removed: false } known && string.Equals(known.UploadId, uploadId, StringComparison.Ordinal))
        {
            return ValueTask.CompletedTask;
        }

        var channel = Channels.ForFlow(jobId);
        while (true)
        {
            var state = GetOrCreate(channel);
            lock (state.Gate)
            {
                if (state.Removed)
                {
                    continue; // evicted or expired meanwhile: a new one is made
                }

                state.UploadId = uploadId;

                // The event that names the upload is published next: until then the sweep must not take
                // an idle channel, and the association with it.
                state.LastEventAt = _time.GetUtcNow();
            }

            return ValueTask.CompletedTask;
        }
    }

    public ValueTask<string?> GetJobUploadAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return ValueTask.FromResult(FindJobChannel(jobId) is { Removed: false } state ? state.UploadId : null);
    }

    /// <summary>Finds the channel of a job, <c>flow:{jobId}</c>, without building its name (this runs for every flow event).</summary>
    private MemoryChannel? FindJobChannel(string jobId)
    {
        if (jobId.Length > Channels.MaxIdLength)
        {
            return _channels.GetValueOrDefault(Channels.ForFlow(jobId));
        }

        Span<char> name = stackalloc char[Channels.FlowPrefix.Length + Channels.MaxIdLength];
        Channels.FlowPrefix.CopyTo(name);
        jobId.CopyTo(name[Channels.FlowPrefix.Length..]);
        return _channels.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name[..(Channels.FlowPrefix.Length + jobId.Length)], out var state)
            ? state
            : null;
    }
}
