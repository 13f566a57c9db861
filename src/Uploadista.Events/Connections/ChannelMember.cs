namespace Uploadista.Events;

/// <summary>One connection on a channel, as its <see cref="ChannelSequencer"/> keeps it (under the sequencer's lock).</summary>
internal sealed class ChannelMember(IEventEmitter emitter)
{
    public IEventEmitter Emitter { get; } = emitter;

    /// <summary>Where in the channel's log its hold began (an absolute position), or -1 while it is live.</summary>
    public long HoldFrom { get; set; } = -1;

    /// <summary>How many reads of the retained state it waits for.</summary>
    public int Reads { get; set; }
}
