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

    public EventPublisher(IEventBroadcaster broadcaster, TimeProvider time, IOptions<UploadistaEventsOptions> options, ILogger<EventPublisher> logger)
    {
        _broadcaster = broadcaster;
        _time = time;
        _logger = logger;
        var interval = options.Value.ProgressInterval;
        _throttle = interval > TimeSpan.Zero ? new ProgressThrottle(interval, time, SendAsync) : null;
    }

    public ValueTask PublishAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken = default)
    {
        EventValidation.Validate(uploadistaEvent);
        return _throttle?.PublishAsync(uploadistaEvent, cancellationToken) ?? SendAsync(uploadistaEvent, cancellationToken);
    }

    public void Dispose() => _throttle?.Dispose();

    private async ValueTask SendAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken)
    {
        var publication = Serialize(uploadistaEvent, _time.GetUtcNow());

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
        return new EventPublication(payload, Conflation.KeyOf(uploadistaEvent));
    }

    private async ValueTask PublishToAsync(string channel, EventPublication publication, CancellationToken cancellationToken)
    {
        try
        {
            await _broadcaster.PublishAsync(channel, publication, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.PublishFailed(_logger, channel, ex);
        }
    }
}
