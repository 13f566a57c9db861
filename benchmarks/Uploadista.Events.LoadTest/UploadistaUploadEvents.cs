namespace Uploadista.Events.LoadTest;

/// <summary>The uploads workload's events, published through Uploadista.Events (its throttle included).</summary>
internal sealed class UploadistaUploadEvents(IUploadistaEventPublisher events) : IUploadEventTarget
{
    public ValueTask UploadStartedAsync(string uploadId, string filename, long size)
        => events.PublishAsync(new UploadStartedEvent { UploadId = uploadId, Filename = filename, Size = size });

    public ValueTask UploadProgressAsync(string uploadId, double progress, long bytesUploaded, long totalBytes)
        => events.PublishAsync(new UploadProgressEvent { UploadId = uploadId, Progress = progress, BytesUploaded = bytesUploaded, TotalBytes = totalBytes });

    public ValueTask UploadCompleteAsync(string uploadId, string url)
        => events.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = url });

    public ValueTask FlowStartedAsync(string jobId, string uploadId, string flowName)
        => events.PublishAsync(new FlowStartedEvent { JobId = jobId, UploadId = uploadId, FlowName = flowName });

    public ValueTask FlowProgressAsync(string jobId, string uploadId, string nodeId, string nodeName, double progress)
        => events.PublishAsync(new FlowProgressEvent { JobId = jobId, UploadId = uploadId, NodeId = nodeId, NodeName = nodeName, Progress = progress });

    public ValueTask FlowCompleteAsync(string jobId, string uploadId, IReadOnlyDictionary<string, string> outputs)
        => events.PublishAsync(new FlowCompleteEvent { JobId = jobId, UploadId = uploadId, Outputs = outputs });
}
