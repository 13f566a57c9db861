using Microsoft.Extensions.Hosting;

namespace Uploadista.Events.Redis;

/// <summary>
/// Connects to Redis when the host starts, so the first request does not wait for it; when the host
/// stops, publishes what is still queued, as long as the host's shutdown timeout allows.
/// </summary>
internal sealed class RedisEventsService(RedisEventBroadcaster broadcaster) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => broadcaster.StartAsync().WaitAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await broadcaster.FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host would not wait longer; what is left is lost with the process.
        }
    }
}
