namespace Uploadista.Events;

/// <summary>
/// Carries events on named channels between server instances: one channel per upload
/// (<c>upload:{uploadId}</c>) and one per job (<c>flow:{jobId}</c>).
/// </summary>
/// <remarks>
/// <para>
/// An implementation assigns each channel's sequence numbers: the first event of a channel gets 1 and
/// every later one exactly one more, across every instance that shares the broadcaster.
/// </para>
/// <para>
/// It also retains each channel's recent events, so that a socket opened late still sees what it
/// missed: every event except progress superseded by a later event with the same
/// <see cref="EventPublication.ConflationKey"/>. Retained events expire
/// <see cref="UploadistaEventsOptions.RetentionPeriod"/> after the channel's last event and are bounded
/// by <see cref="UploadistaEventsOptions.MaxRetainedEventsPerChannel"/>.
/// </para>
/// <para>
/// The in-memory broadcaster, registered by <c>AddUploadistaEvents()</c>, serves one process.
/// </para>
/// </remarks>
public interface IEventBroadcaster
{
    /// <summary>
    /// Assigns the channel's next sequence number to <paramref name="publication"/>, retains it, and
    /// delivers it to every subscriber of the channel on every instance.
    /// </summary>
    /// <param name="channel">The channel name.</param>
    /// <param name="publication">The serialized event.</param>
    /// <param name="cancellationToken">
    /// Stops waiting; it does not withdraw the event. The in-memory broadcaster completes at once; the
    /// Redis one may already have sent the event, which is then published all the same.
    /// </param>
    /// <returns>
    /// The sequence number assigned to the event, once it has one: an event published after this
    /// completes, on any instance, gets a higher one. When the event is deferred (the broker is
    /// unreachable, or a batch failed and the event waits in the outbox to be sent again in order),
    /// the returned value is 0: the event's seq is assigned when it is published, later.
    /// </returns>
    ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts delivering the channel's events to <paramref name="subscriber"/>, in sequence order,
    /// until the returned handle is disposed.
    /// </summary>
    /// <param name="channel">The channel name.</param>
    /// <param name="subscriber">Receives the events. It must not block.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A handle that ends the subscription when disposed.</returns>
    ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the channel's epoch, its last sequence number, and its retained events whose sequence
    /// number is above <paramref name="afterSeq"/>.
    /// </summary>
    /// <param name="channel">The channel name.</param>
    /// <param name="afterSeq">Only events with a higher sequence number are returned; 0 returns them all.</param>
    /// <param name="cancellationToken">
    /// Ignored once the read is sent: the Redis broadcaster's read ends when Redis answers or its
    /// timeout is up; the caller stops waiting for it itself if it must.
    /// </param>
    /// <returns>The channel's state and the retained events, in sequence order.</returns>
    ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default);
}

/// <summary>Receives the events of a channel from an <see cref="IEventBroadcaster"/>.</summary>
public interface IChannelSubscriber
{
    /// <summary>Called for each event of the channel, in sequence order. Must return quickly and never block.</summary>
    /// <param name="channelEvent">The event.</param>
    void OnEvent(ChannelEvent channelEvent);

    /// <summary>
    /// Called when events of the channel may not have been delivered: the broadcaster's subscription
    /// was interrupted (for example by a lost connection to the broker) and is active again, or it
    /// received events out of sequence. The subscriber reads the retained events to catch up.
    /// </summary>
    void OnMissedEvents();
}
