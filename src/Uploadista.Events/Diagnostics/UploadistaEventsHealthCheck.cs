using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Uploadista.Events;

/// <summary>
/// The health of this instance's events: the broadcaster's (a broadcaster that implements
/// <see cref="IHealthCheck"/>, as the Redis one does, says how its broker is; the in-memory one is
/// always healthy), degraded while channels catch up after a broker outage. Its data holds the numbers:
/// open connections, channels catching up, and the broadcaster's own.
/// </summary>
internal sealed class UploadistaEventsHealthCheck(IEventBroadcaster broadcaster, ConnectionTracker tracker, UploadistaMetrics metrics) : IHealthCheck
{
    private readonly string _broadcasterName = Tags.BroadcasterOf(broadcaster);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var broker = broadcaster is IHealthCheck check
            ? await check.CheckHealthAsync(context, cancellationToken)
            : HealthCheckResult.Healthy(broadcaster is MemoryEventBroadcaster
                ? "The in-memory broadcaster needs no broker."
                : $"The {_broadcasterName} broadcaster does not report its broker's health (it does by implementing IHealthCheck).");

        var catchingUp = metrics.CatchingUp;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["broadcaster"] = _broadcasterName,
            ["connections"] = tracker.Count,
            ["channels_catching_up"] = catchingUp,
        };
        foreach (var (key, value) in broker.Data)
        {
            data[key] = value;
        }

        if (broker.Status == HealthStatus.Healthy && catchingUp > 0)
        {
            return HealthCheckResult.Degraded($"{catchingUp} channels are catching up on what their sockets missed.", data: data);
        }

        return new HealthCheckResult(broker.Status, broker.Description, broker.Exception, data);
    }
}
