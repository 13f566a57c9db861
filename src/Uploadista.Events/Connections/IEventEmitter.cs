using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// One connection's subscription to one channel, as the channel's sequencer sees it. The sequencer
/// calls it under the channel's lock, so calls never overlap and always come in seq order; it queues
/// what the connection has not seen and never blocks.
/// </summary>
internal interface IEventEmitter
{
    /// <summary>Gets the last seq the client said it has (its <c>since</c>); retained events after it are read for a join.</summary>
    long Since { get; }

    /// <summary>
    /// Whether the client's <c>since</c> belongs to the channel's current run as
    /// <paramref name="retained"/> describes it; if not, the client starts over and needs every
    /// retained event, not only those after its since.
    /// </summary>
    bool CanResume(RetainedEvents retained);

    /// <summary>
    /// Queues a live event. Events at or below the last seq queued are ignored, so an event is never sent
    /// twice. An event of another epoch than the connection's, once it has been sent events, means the
    /// channel started over beneath it: the connection is closed with 4010.
    /// </summary>
    void Emit(ChannelEvent channelEvent);

    /// <summary>
    /// Ends a hold: queues the <paramref name="retained"/> events the connection has not seen that
    /// precede <paramref name="held"/> (the live events that arrived during the hold), then those, and
    /// starts sending if it had not.
    /// </summary>
    void CatchUp(RetainedEvents retained, ReadOnlySpan<ChannelEvent> held);

    /// <summary>Closes the connection (the sequencer could not keep its order, for one).</summary>
    void Close(WebSocketCloseStatus status, string description);
}
