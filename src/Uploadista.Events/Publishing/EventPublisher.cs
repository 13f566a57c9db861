using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>Serializes each event once and hands it to the broadcaster for each of its channels.</summary>
internal sealed class EventPublisher(IEventBroadcaster broadcaster, TimeProvider time, ILogger<EventPublisher> logger)
    : IUploadistaEventPublisher
{
    public async ValueTask PublishAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken = default)
    {
        EventValidation.Validate(uploadistaEvent);
        var publication = Serialize(uploadistaEvent, time.GetUtcNow());

        switch (uploadistaEvent)
        {
            case UploadEvent upload:
                await PublishToAsync(Channels.ForUpload(upload.UploadId), publication, cancellationToken);
                break;
            case FlowEvent flow:
                await PublishToAsync(Channels.ForFlow(flow.JobId), publication, cancellationToken);
                if (flow.UploadId is { } uploadId)
                {
                    await PublishToAsync(Channels.ForUpload(uploadId), publication, cancellationToken);
                }

                break;
        }
    }

    /// <summary>Serializes the event once, for every channel and every connection it reaches.</summary>
    internal static EventPublication Serialize(UploadistaEvent uploadistaEvent, DateTimeOffset timestamp)
    {
        var stamped = uploadistaEvent with { Timestamp = timestamp, Seq = 0 };
        var payload = JsonSerializer.SerializeToUtf8Bytes(stamped, EventJsonContext.Default.UploadistaEvent);
        return new EventPublication(payload, ConflationKeyOf(uploadistaEvent));
    }

    /// <summary>
    /// Progress of the same upload, or of the same node of the same job, supersedes earlier progress.
    /// Job ids cannot contain ':', so the key is unambiguous.
    /// </summary>
    internal static string? ConflationKeyOf(UploadistaEvent uploadistaEvent) => uploadistaEvent switch
    {
        UploadProgressEvent => "upload_progress",
        FlowProgressEvent progress => string.Concat("flow_progress:", progress.JobId, ":", progress.NodeId),
        _ => null,
    };

    private async ValueTask PublishToAsync(string channel, EventPublication publication, CancellationToken cancellationToken)
    {
        try
        {
            await broadcaster.PublishAsync(channel, publication, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.PublishFailed(logger, channel, ex);
        }
    }
}
