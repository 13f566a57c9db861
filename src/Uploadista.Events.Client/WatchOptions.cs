namespace Uploadista.Events.Client;

/// <summary>How one upload or job is watched.</summary>
public sealed class WatchOptions
{
    /// <summary>
    /// Gets or sets the subscription token, when the server requires one (docs/security.md). Ignored when
    /// <see cref="TokenFactory"/> is set.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// Gets or sets a function that returns a token, called before every connection, for tokens that
    /// expire. When the server answers a connection with 4401, the watch asks it once more and connects
    /// again; a second 4401 in a row ends the watch with <see cref="WatchRefusedException"/>. An exception
    /// it throws counts as a failed connection, as a network failure does: the watch tries again after a
    /// delay (only cancelling the watch ends it), and <see cref="EventWatch.LastError"/> tells it meanwhile.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? TokenFactory { get; set; }

    /// <summary>
    /// Gets or sets the <c>seq</c> to resume after: only events above it are received. 0 (the default)
    /// receives the channel's whole retained state first.
    /// </summary>
    public long Since { get; set; }

    /// <summary>
    /// Gets or sets the epoch <see cref="Since"/> belongs to (<see cref="EventWatch.Epoch"/> of an earlier
    /// watch), so that a <c>since</c> of a run that has ended is recognised and the whole new run received.
    /// Ignored when <see cref="Since"/> is 0.
    /// </summary>
    public string? Epoch { get; set; }

    /// <summary>
    /// Gets or sets whether the enumeration ends by itself after the event that ends the watched work:
    /// for an upload, <c>flow_complete</c> or <c>flow_error</c> of one of its jobs, or <c>upload_error</c>
    /// (no flow follows a failed upload); for a job, its <c>flow_complete</c> or <c>flow_error</c>. That
    /// event is yielded first. Off by default: the watch goes on until it is cancelled.
    /// </summary>
    public bool EndWhenFlowEnds { get; set; }
}
