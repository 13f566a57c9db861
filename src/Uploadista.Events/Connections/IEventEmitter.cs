namespace Uploadista.Events;

/// <summary>
/// The sending side of one client connection. The local subscription registry hands it the events of
/// the connection's channel; it queues them without blocking and sends them in seq order.
/// </summary>
internal interface IEventEmitter
{
    /// <summary>
    /// Queues <paramref name="channelEvent"/> without blocking. Events at or below the last seq queued
    /// (in the same epoch) are ignored, so an event is never sent twice.
    /// </summary>
    void Emit(ChannelEvent channelEvent);

    /// <summary>
    /// Ends the hold a new emitter starts in: queues the <paramref name="retained"/> events after the
    /// client's <c>since</c> that precede the live ones queued meanwhile, then starts sending. A
    /// <c>since</c> beyond the channel's last seq is from an earlier epoch, and counts as 0.
    /// </summary>
    void Release(IReadOnlyList<ChannelEvent> retained);
}
