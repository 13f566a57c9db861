namespace Uploadista.Events;

/// <summary>
/// The sending side of one client connection. The local subscription registry hands it the events of
/// the connection's channel; it queues them without blocking and sends them in seq order.
/// </summary>
internal interface IEventEmitter
{
    /// <summary>
    /// Queues <paramref name="channelEvent"/> without blocking. Events at or below the last seq queued
    /// are ignored, so an event is never sent twice. An event of another epoch than the connection's
    /// means the channel started over beneath it: the connection is closed with 4010, so that its
    /// client never sees seq go back and starts over itself.
    /// </summary>
    void Emit(ChannelEvent channelEvent);

    /// <summary>
    /// Ends the hold a new emitter starts in: queues the <paramref name="retained"/> events after the
    /// client's <c>since</c> that precede the live ones queued meanwhile, then starts sending. A
    /// <c>since</c> of another epoch than the channel's (the client said so, or it is beyond the
    /// channel's last seq) counts as 0.
    /// </summary>
    void Release(RetainedEvents retained);

    /// <summary>
    /// Whether the client's <c>since</c> belongs to the channel's current run as
    /// <paramref name="retained"/> describes it; if not, the client starts over and needs every
    /// retained event, not only those after its since.
    /// </summary>
    bool CanResume(RetainedEvents retained);
}
