namespace Uploadista.Events;

/// <summary>
/// What a broadcaster holds of a channel: its current epoch, the last sequence number it handed out,
/// and the retained events asked for.
/// </summary>
public sealed class RetainedEvents
{
    /// <summary>Initializes a new instance of the <see cref="RetainedEvents"/> class.</summary>
    /// <param name="epoch">The channel's epoch, or <see langword="null"/> when the channel has no state.</param>
    /// <param name="lastSeq">The last sequence number handed out in that epoch; 0 when none.</param>
    /// <param name="events">The retained events asked for, in sequence order, all of that epoch.</param>
    public RetainedEvents(string? epoch, long lastSeq, IReadOnlyList<ChannelEvent> events)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lastSeq);
        ArgumentNullException.ThrowIfNull(events);
        Epoch = epoch;
        LastSeq = lastSeq;
        Events = events;
    }

    /// <summary>Gets the state of a channel that has none: no epoch, no events.</summary>
    public static RetainedEvents None { get; } = new(null, 0, []);

    /// <summary>Gets the channel's epoch (see <see cref="ChannelEvent.Epoch"/>), or <see langword="null"/> when the channel has no state.</summary>
    public string? Epoch { get; }

    /// <summary>Gets the last sequence number the channel handed out in its epoch; 0 when none.</summary>
    public long LastSeq { get; }

    /// <summary>Gets the retained events asked for, in sequence order.</summary>
    public IReadOnlyList<ChannelEvent> Events { get; }
}
