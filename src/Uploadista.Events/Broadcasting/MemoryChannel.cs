namespace Uploadista.Events;

/// <summary>One channel of the <see cref="MemoryEventBroadcaster"/>: its seq, epoch, subscribers and retained events, under its own lock.</summary>
internal sealed class MemoryChannel
{
    private string? _uploadId;

    public MemoryChannel(string name) => Name = name;

    public string Name { get; }

    /// <summary>Whether it had an event since eviction last passed it over: it gets a second chance.</summary>
    public bool Referenced { get; set; }

    public Lock Gate { get; } = new();

    public long Seq { get; set; }

    /// <summary>A channel created again after it expired starts a new epoch.</summary>
    public string Epoch { get; } = Guid.NewGuid().ToString("N")[..12];

    public bool Removed { get; set; }

    public DateTimeOffset LastEventAt { get; set; }

    public IChannelSubscriber[] Subscribers { get; set; } = [];

    /// <summary>
    /// Gets or sets, on a job's channel, the upload the job belongs to: it lives and expires with the
    /// channel. Set under <see cref="Gate"/>; read without it by every flow event that does not name its
    /// upload, so that following the association costs no lock.
    /// </summary>
    public string? UploadId
    {
        get => Volatile.Read(ref _uploadId);
        set => Volatile.Write(ref _uploadId, value);
    }

    public List<ChannelEvent> Retained { get; } = [];

    public void Retain(ChannelEvent channelEvent, int max)
    {
        // At most one retained event per key: the newest.
        if (channelEvent.ConflationKey is not null)
        {
            for (var i = Retained.Count - 1; i >= 0; i--)
            {
                if (Conflation.Supersedes(channelEvent.ConflationKey, Retained[i].ConflationKey))
                {
                    Retained.RemoveAt(i);
                    break;
                }
            }
        }

        Retained.Add(channelEvent);
        if (Retained.Count > max)
        {
            Retained.RemoveRange(0, Retained.Count - max);
        }
    }
}
