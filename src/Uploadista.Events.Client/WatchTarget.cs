namespace Uploadista.Events.Client;

/// <summary>What a watch follows: an upload or a job, its route, and the events that end it.</summary>
internal sealed class WatchTarget
{
    private WatchTarget(string id, string route, bool isUpload)
    {
        if (!Channels.IsValidId(id))
        {
            throw new ArgumentException($"An id must be 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -.", nameof(id));
        }

        Id = id;
        Route = route;
        IsUpload = isUpload;
    }

    public string Id { get; }

    /// <summary>The route under the path prefix, up to the id.</summary>
    public string Route { get; }

    public bool IsUpload { get; }

    public static WatchTarget Upload(string uploadId) => new(uploadId ?? throw new ArgumentNullException(nameof(uploadId)), "/ws/upload/", isUpload: true);

    public static WatchTarget Job(string jobId) => new(jobId ?? throw new ArgumentNullException(nameof(jobId)), "/ws/flow/", isUpload: false);

    /// <summary>Whether <paramref name="e"/> ends the work watched: its flow's end, or a failed upload.</summary>
    public bool IsEnd(UploadistaEvent e) => e switch
    {
        FlowCompleteEvent or FlowErrorEvent => true,
        UploadErrorEvent => IsUpload,
        _ => false,
    };
}
