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
/// keeps its id when it is retried, so that Redis applies it once even if a reply was lost.
/// </summary>
internal sealed class ChannelBatch
{
    public ChannelBatch(string channel, long id, PendingPublication[] events)
    {
        Channel = channel;
        Id = id;
        Events = events;
        var regular = new ArrayBufferWriter<byte>();
        var progress = new ArrayBufferWriter<byte>();
        var latest = new Dictionary<string, Range>(StringComparer.Ordinal);
        for (var i = 0; i < events.Length; i++)
        {
            var publication = events[i].Publication;
            if (publication.ConflationKey is not { } key)
            {
                BatchFormat.WriteEntry(regular, i, null, publication.Payload.Span);
                RegularCount++;
                continue;
            }

            var start = progress.WrittenCount;
            BatchFormat.WriteEntry(progress, i, key, publication.Payload.Span);
            latest[key] = start..progress.WrittenCount;
        }

        var progressBytes = progress.WrittenMemory;
        Regular = regular.WrittenMemory;
        Progress = progressBytes;
        LatestProgress = [.. latest.Select(entry => (entry.Key, progressBytes[entry.Value]))];
        Size = Regular.Length + Progress.Length + LatestProgress.Sum(p => p.Entry.Length);
    }

    public string Channel { get; }

    /// <summary>Gets the batch's id, unique for this instance and growing with every batch it takes.</summary>
    public long Id { get; }

    public PendingPublication[] Events { get; }

    /// <summary>Gets the entries of the events that are never superseded, together: they are retained as they are.</summary>
    public ReadOnlyMemory<byte> Regular { get; }

    /// <summary>Gets how many events are never superseded.</summary>
    public int RegularCount { get; }

    /// <summary>Gets the entries of the progress events, together.</summary>
    public ReadOnlyMemory<byte> Progress { get; }

    /// <summary>Gets the latest progress entry of each conflation key: they are retained in the meta hash.</summary>
    public (string Key, ReadOnlyMemory<byte> Entry)[] LatestProgress { get; }

    /// <summary>Gets the number of bytes the call carries for it.</summary>
    public int Size { get; }

    /// <summary>Gets or sets how many times sending it failed; guarded by the queue's lock.</summary>
    public int Failures { get; set; }

    /// <summary>Gets or sets whether it must go in a call of its own (a call with it failed on the server).</summary>
    public bool Alone { get; set; }
}
