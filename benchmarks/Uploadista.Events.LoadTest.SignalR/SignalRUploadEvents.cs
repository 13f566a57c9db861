using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.SignalR;

namespace Uploadista.Events.LoadTest.SignalR;

/// <summary>
/// The uploads workload's events sent through SignalR groups, as an application on SignalR would: the
/// same event shapes as Uploadista.Events', progress throttled the same way
/// (<see cref="UploadProgressThrottle"/>), and each event stamped with the time and the upload's next
/// seq when it is sent, after the throttle, as the library does. A flow event goes to the upload's
/// group and to the job's group, as the library publishes it to both the upload's and the job's
/// channel (nobody watches the job here, in either system).
/// </summary>
internal sealed class SignalRUploadEvents : IUploadEventTarget
{
    private readonly IHubContext<EventsHub> _hub;
    private readonly UploadProgressThrottle _throttle;

    // Per upload: the last seq given, which is also the number of events sent to its group.
    private readonly ConcurrentDictionary<string, StrongBox<long>> _sent = new(StringComparer.Ordinal);

    public SignalRUploadEvents(IHubContext<EventsHub> hub, TimeSpan progressInterval)
    {
        _hub = hub;
        _throttle = new UploadProgressThrottle(progressInterval, (uploadId, p) => SendAsync(uploadId, null, (timestamp, seq) =>
            new UploadProgressPayload("upload_progress", uploadId, p.Progress, p.BytesUploaded, p.TotalBytes, timestamp, seq)));
    }

    /// <summary>Events sent so far to the group of <paramref name="uploadId"/>.</summary>
    public long SentTo(string uploadId) => _sent.TryGetValue(uploadId, out var seq) ? Interlocked.Read(ref seq.Value) : 0;

    public ValueTask UploadStartedAsync(string uploadId, string filename, long size)
        => new(SendAsync(uploadId, null, (timestamp, seq) => new UploadStartedPayload("upload_started", uploadId, filename, size, timestamp, seq)));

    public ValueTask UploadProgressAsync(string uploadId, double progress, long bytesUploaded, long totalBytes)
        => new(_throttle.OfferAsync(uploadId, new UploadProgress(progress, bytesUploaded, totalBytes)));

    public async ValueTask UploadCompleteAsync(string uploadId, string url)
    {
        await _throttle.CompleteAsync(uploadId);
        await SendAsync(uploadId, null, (timestamp, seq) => new UploadCompletePayload("upload_complete", uploadId, url, timestamp, seq));
    }

    public ValueTask FlowStartedAsync(string jobId, string uploadId, string flowName)
        => new(SendAsync(uploadId, jobId, (timestamp, seq) => new FlowStartedPayload("flow_started", jobId, uploadId, flowName, timestamp, seq)));

    public ValueTask FlowProgressAsync(string jobId, string uploadId, string nodeId, string nodeName, double progress)
        => new(SendAsync(uploadId, jobId, (timestamp, seq) => new FlowProgressPayload("flow_progress", jobId, uploadId, nodeId, nodeName, progress, timestamp, seq)));

    public ValueTask FlowCompleteAsync(string jobId, string uploadId, IReadOnlyDictionary<string, string> outputs)
        => new(SendAsync(uploadId, jobId, (timestamp, seq) => new FlowCompletePayload("flow_complete", jobId, uploadId, outputs, timestamp, seq)));

    private Task SendAsync(string uploadId, string? jobId, Func<string, long, object> payload)
    {
        var seq = Interlocked.Increment(ref _sent.GetOrAdd(uploadId, static _ => new StrongBox<long>()).Value);
        var timestamp = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var clients = jobId is null ? _hub.Clients.Group(uploadId) : _hub.Clients.Groups(uploadId, jobId);
        return clients.SendAsync("event", payload(timestamp, seq));
    }
}
