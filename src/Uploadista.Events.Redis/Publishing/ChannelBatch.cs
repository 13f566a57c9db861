using System.Buffers;

namespace Uploadista.Events.Redis;

/// <summary>An event waiting to be published.</summary>
/// <param name="Publication">The serialized event.</param>
/// <param name="Completion">
/// What its publisher awaits: the event's seq once it is in Redis, or 0 as soon as it has to wait for
/// Redis to come back. Null when the publisher did not wait.
/// </param>
/// <param name="Order">When it was published, across channels, so that a full outbox drops the oldest first.</param>
internal readonly record struct PendingPublication(EventPublication Publication, TaskCompletionSource<long>? Completion, long Order);

/// <summary>
/// A batch of one channel's events, published by one script call. It never changes once taken, and
/// keeps its id when it is retried, so that Redis applies it once even if a reply was lost. Its
/// entries are encoded when first sent, outside the queue's lock.
/// </summary>
internal sealed class ChannelBatch(string channel, long id, PendingPublication[] events)
{
    private Entries? _entries;

    public string Channel { get; } = channel;

    /// <summary>Gets the batch's id, unique for this instance and growing with every batch it takes.</summary>
    public long Id { get; } = id;

    public PendingPublication[] Events { get; } = events;

    /// <summary>Gets about how many bytes the call carries for it.</summary>
    public int Size { get; } = events.Sum(e => e.Publication.Payload.Length + 16);

    /// <summary>Gets the entries of the events that are never superseded, together: they are retained as they are.</summary>
    public ReadOnlyMemory<byte> Regular => Encoded.Regular;

    /// <summary>Gets how many events are never superseded.</summary>
    public int RegularCount => Encoded.RegularCount;

    /// <summary>Gets the entries of the progress events, together.</summary>
    public ReadOnlyMemory<byte> Progress => Encoded.Progress;

    /// <summary>Gets the latest progress entry of each conflation key: they are retained in the meta hash.</summary>
    public (string Key, ReadOnlyMemory<byte> Entry)[] LatestProgress => Encoded.LatestProgress;

    /// <summary>Gets or sets how many times sending it failed; guarded by the queue's lock.</summary>
    public int Failures { get; set; }

    /// <summary>Gets or sets whether it must go in a call of its own (a call with it failed on the server).</summary>
    public bool Alone { get; set; }

    // Only the call that carries the batch reads its entries, and a batch is in one call at a time.
    private Entries Encoded => _entries ??= Encode(Events);

    private static Entries Encode(PendingPublication[] events)
    {
        var regular = new ArrayBufferWriter<byte>();
        var progress = new ArrayBufferWriter<byte>();
        var regularCount = 0;
        Dictionary<string, Range>? latest = null;
        for (var i = 0; i < events.Length; i++)
        {
            var publication = events[i].Publication;
            if (publication.ConflationKey is not { } key)
            {
                BatchFormat.WriteEntry(regular, i, null, publication.Payload.Span);
                regularCount++;
                continue;
            }

            var start = progress.WrittenCount;
            BatchFormat.WriteEntry(progress, i, key, publication.Payload.Span);
            (latest ??= new(StringComparer.Ordinal))[key] = start..progress.WrittenCount;
        }

        var progressBytes = progress.WrittenMemory;
        return new Entries(
            regular.WrittenMemory,
            regularCount,
            progressBytes,
            latest is null ? [] : [.. latest.Select(entry => (entry.Key, progressBytes[entry.Value]))]);
    }

    private sealed record Entries(ReadOnlyMemory<byte> Regular, int RegularCount, ReadOnlyMemory<byte> Progress, (string Key, ReadOnlyMemory<byte> Entry)[] LatestProgress);
}
