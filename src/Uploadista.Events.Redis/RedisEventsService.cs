using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events.Redis;

/// <summary>
/// Connects to Redis when the host starts, so the first request does not wait for it; when the host
/// stops, publishes what is still queued, for at most <see cref="FlushTimeout"/> (and no longer than
/// the host's shutdown timeout allows).
/// </summary>
internal sealed class RedisEventsService(RedisEventBroadcaster broadcaster, ILogger<RedisEventsService> logger) : IHostedService
{
    /// <summary>How long stopping waits for queued events: enough for Redis to take them, not to wait out an outage.</summary>
    public static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    public Task StartAsync(CancellationToken cancellationToken) => broadcaster.StartAsync().WaitAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(FlushTimeout);
        try
        {
            await broadcaster.FlushAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            RedisLog.UnpublishedAtShutdown(logger, broadcaster.PendingCount);
        }
    }
}
