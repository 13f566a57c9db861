namespace Uploadista.Events.Redis;

/// <summary>One channel's part of the <see cref="PublishQueue"/>: what waits, and the batch on its way (under the queue's lock).</summary>
internal sealed class ChannelQueue(string name)
{
    public string Name { get; } = name;

    public Queue<PendingPublication> Waiting { get; } = new();

    /// <summary>Gets or sets the batch on its way, or failed and waiting to be sent again.</summary>
    public ChannelBatch? Batch { get; set; }

    /// <summary>Gets or sets whether <see cref="Batch"/> is in a call now.</summary>
    public bool Sending { get; set; }

    /// <summary>Gets or sets whether the channel is in the ready queue.</summary>
    public bool Listed { get; set; }

    /// <summary>Gets or sets the time before which it is not sent (after a failure); 0 for now.</summary>
    public long RetryAt { get; set; }
}
