namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The events of an upload and its processing, as the tracker tests publish them: the upload's start,
/// its end and its flow's start (seq 1 to 3), a progress per node, then the flow's end.
/// </summary>
internal static class UploadStory
{
    public static async Task StartAsync(IUploadistaEventPublisher publisher, string uploadId)
    {
        var cancel = TestContext.Current.CancellationToken;
        await publisher.PublishAsync(new UploadStartedEvent { UploadId = uploadId, Filename = $"{uploadId}.bin", Size = 10 }, cancel);
        await publisher.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = $"/files/{uploadId}" }, cancel);
        await publisher.PublishAsync(new FlowStartedEvent { JobId = $"job-{uploadId}", UploadId = uploadId, FlowName = "process" }, cancel);
    }

    // Each node's progress is retained (only progress of the same node supersedes it), so a resume owes it.
    public static async Task ProgressAsync(IUploadistaEventPublisher publisher, string uploadId, params string[] nodes)
    {
        foreach (var node in nodes)
        {
            await publisher.PublishAsync(new FlowProgressEvent { JobId = $"job-{uploadId}", UploadId = uploadId, NodeId = node, NodeName = node, Progress = 0.5 }, TestContext.Current.CancellationToken);
        }
    }

    public static async Task CompleteAsync(IUploadistaEventPublisher publisher, string uploadId)
        => await publisher.PublishAsync(new FlowCompleteEvent { JobId = $"job-{uploadId}", UploadId = uploadId, Outputs = new Dictionary<string, string>() }, TestContext.Current.CancellationToken);
}
