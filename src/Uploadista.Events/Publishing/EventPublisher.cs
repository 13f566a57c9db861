using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Validates and throttles each event, serializes it once, and hands it to the broadcaster for each of
/// its channels.
/// </summary>
internal sealed class EventPublisher : IUploadistaEventPublisher, IDisposable
{
    private readonly IEventBroadcaster _broadcaster;
    private readonly TimeProvider _time;
    private readonly ILogger<EventPublisher> _logger;
    private readonly ProgressThrottle? _throttle;
    private readonly UploadistaMetrics? _metrics;
    private readonly string _broadcasterName;

    public EventPublisher(
        IEventBroadcaster broadcaster,
        TimeProvider time,
        IOptions<UploadistaEventsOptions> options,
        ILogger<EventPublisher> logger,
        UploadistaMetrics? metrics = null)
    {
        _broadcaster = broadcaster;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _broadcasterName = Tags.BroadcasterOf(broadcaster);
        var interval = options.Value.ProgressInterval;
        _throttle = interval > TimeSpan.Zero ? new ProgressThrottle(interval, time, SendAsync, metrics) : null;
    }

    public ValueTask PublishAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken = default)
    {
        EventValidation.Validate(uploadistaEvent);
        _metrics?.Published(uploadistaEvent);
        return _throttle?.PublishAsync(uploadistaEvent, cancellationToken) ?? SendAsync(uploadistaEvent, cancellationToken);
    }

    public void Dispose() => _throttle?.Dispose();

    private async ValueTask SendAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken)
    {
        var jobUpload = uploadistaEvent is FlowEvent jobEvent ? await UploadOfAsync(jobEvent, cancellationToken) : null;
        var publication = Serialize(uploadistaEvent, _time.GetUtcNow(), jobUpload);
        var type = Tags.TypeOf(uploadistaEvent);

        switch (uploadistaEvent)
        {
            case UploadEvent upload:
                await PublishToAsync(Channels.ForUpload(upload.UploadId), Tags.Upload, publication, type, cancellationToken);
                break;
            case FlowEvent flow:
                await PublishToAsync(Channels.ForFlow(flow.JobId), Tags.Flow, publication, type, cancellationToken);
                if (jobUpload is { } uploadId)
                {
                    await PublishToAsync(Channels.ForUpload(uploadId), Tags.Upload, publication, type, cancellationToken);
                }

                break;
        }
    }

    /// <summary>
    /// The upload a flow event goes to besides its job: the one it names, remembered for the job's later
    /// events before the event is published (so that no event is routed by an association not yet
    /// written); else the one remembered for the job; else none.
    /// </summary>
    private async ValueTask<string?> UploadOfAsync(FlowEvent flow, CancellationToken cancellationToken)
    {
        try
        {
            if (flow.UploadId is { } named)
            {
                await _broadcaster.SetJobUploadAsync(flow.JobId, named, cancellationToken);
                return named;
            }

            return await _broadcaster.GetJobUploadAsync(flow.JobId, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.JobUploadFailed(_logger, flow.JobId, ex);
            return flow.UploadId;
        }
    }

    /// <summary>
    /// Serializes the event once, for every channel and every connection it reaches. A flow event whose
    /// job's upload is known but that does not name it is serialized as if it did, so that every socket
    /// gets the same JSON (protocol.md, "Flows and their upload").
    /// </summary>
    internal static EventPublication Serialize(UploadistaEvent uploadistaEvent, DateTimeOffset timestamp, string? jobUpload = null)
    {
        // One copy either way: the stamp and the upload go in together.
        var stamped = jobUpload is not null && uploadistaEvent is FlowEvent { UploadId: null } flow
            ? flow with { UploadId = jobUpload, Timestamp = timestamp, Seq = 0 }
            : uploadistaEvent with { Timestamp = timestamp, Seq = 0 };
        var payload = JsonSerializer.SerializeToUtf8Bytes(stamped, UploadistaEventJson.TypeInfo);
        return new EventPublication(payload, Conflation.KeyOf(uploadistaEvent));
    }

    /// <summary>Publishes to one channel, timed and traced (the kind and type are tag values).</summary>
    private async ValueTask PublishToAsync(string channel, string kind, EventPublication publication, string type, CancellationToken cancellationToken)
    {
        var started = _metrics?.PublishStarting() ?? 0;
        using var activity = UploadistaActivities.StartPublish(kind, type, _broadcasterName);
        var outcome = Tags.Publish.Failed;
        try
        {
            var seq = await _broadcaster.PublishAsync(channel, publication, cancellationToken);
            outcome = seq > 0 ? Tags.Publish.Published : Tags.Publish.Deferred;
            if (activity is not null)
            {
                UploadistaActivities.PublishEnded(activity, seq, null);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            if (activity is not null)
            {
                UploadistaActivities.PublishEnded(activity, 0, ex);
            }

            Log.PublishFailed(_logger, channel, ex);
        }
        finally
        {
            _metrics?.PublishEnded(started, _broadcasterName, outcome);
        }
    }
}
