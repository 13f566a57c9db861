namespace Uploadista.Events;

/// <summary>One connection on a channel, as its <see cref="ChannelSequencer"/> keeps it (under the sequencer's lock).</summary>
internal sealed class ChannelMember(IEventEmitter emitter)
{
    public IEventEmitter Emitter { get; } = emitter;

    /// <summary>Where in the channel's <see cref="HoldLog"/> its hold began (an absolute position), or -1 while it is live.</summary>
    public long HoldFrom { get; set; } = -1;

    /// <summary>How many reads of the retained state it waits for.</summary>
    public int Reads { get; set; }

    /// <summary>The number of the newest read it waits for; that read's result is the one it is released with.</summary>
    public long NewestRead { get; set; }

    /// <summary>The newest read's result, once it is in.</summary>
    public RetainedEvents? Newest { get; set; }

    /// <summary>Whether the sequencer closed it; it gets nothing more.</summary>
    public bool Closed { get; set; }
}
