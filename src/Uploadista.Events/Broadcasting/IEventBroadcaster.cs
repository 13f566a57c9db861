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
/// It may also remember which upload each job belongs to (<see cref="SetJobUploadAsync"/>), so that the
/// job's events that do not name their upload still reach the upload's channel; both broadcasters of
/// this library do.
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

    /// <summary>
    /// Remembers that job <paramref name="jobId"/> belongs to upload <paramref name="uploadId"/>, on every
    /// instance that shares the broadcaster, for as long as the job's channel keeps its state:
    /// <see cref="UploadistaEventsOptions.RetentionPeriod"/> after the job's last event.
    /// </summary>
    /// <remarks>
    /// The publisher calls it for every flow event that names its upload, before it publishes the event,
    /// so it must be cheap when nothing changed. The default implementation remembers nothing: a
    /// broadcaster that does not override this method and <see cref="GetJobUploadAsync"/> delivers a
    /// flow event to its upload's channel only when the event names the upload.
    /// </remarks>
    /// <param name="jobId">The job's id.</param>
    /// <param name="uploadId">The id of the upload the job belongs to.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>Completes once the association is in place (or could not be written, which is logged, not thrown).</returns>
    ValueTask SetJobUploadAsync(string jobId, string uploadId, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <summary>
    /// Gets the upload that job <paramref name="jobId"/> belongs to, as <see cref="SetJobUploadAsync"/>
    /// remembered it on any instance, or <see langword="null"/> when none is known (none was set, or it
    /// expired with the job's state).
    /// </summary>
    /// <remarks>
    /// The publisher calls it for every flow event that does not name its upload, so it must not cost a
    /// round trip to a broker per event. The default implementation knows none.
    /// </remarks>
    /// <param name="jobId">The job's id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The upload's id, or <see langword="null"/>.</returns>
    ValueTask<string?> GetJobUploadAsync(string jobId, CancellationToken cancellationToken = default) => ValueTask.FromResult<string?>(null);
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
