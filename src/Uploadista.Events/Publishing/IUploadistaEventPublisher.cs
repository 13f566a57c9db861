namespace Uploadista.Events;

/// <summary>
/// Publishes upload and flow events to the sockets that watch them. Inject it into the code that
/// receives uploads and runs processing flows.
/// </summary>
/// <remarks>
/// An <see cref="UploadEvent"/> goes to its upload's channel. A <see cref="FlowEvent"/> goes to its job's
/// channel and, when <see cref="FlowEvent.UploadId"/> is set, to that upload's channel too.
/// </remarks>
public interface IUploadistaEventPublisher
{
    /// <summary>
    /// Publishes <paramref name="uploadistaEvent"/>, stamped with the current time. Never throws because
    /// delivery failed: a broadcaster failure is logged, and the caller's upload or flow goes on.
    /// </summary>
    /// <param name="uploadistaEvent">The event to publish.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the event has been handed to the broadcaster.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="uploadistaEvent"/> or one of its required fields is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// An id is not 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>, a progress is outside 0 to 1, or a
    /// size is negative.
    /// </exception>
    ValueTask PublishAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken = default);
}
