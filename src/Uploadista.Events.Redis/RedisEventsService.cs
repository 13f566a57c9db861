using Microsoft.Extensions.Hosting;

namespace Uploadista.Events.Redis;

/// <summary>Connects to Redis when the host starts, so the first request does not wait for it.</summary>
internal sealed class RedisEventsService(RedisEventBroadcaster broadcaster) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => broadcaster.StartAsync().WaitAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
