using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// The library's lifecycle: when the application starts stopping, every WebSocket is closed with 1001
/// (before the server waits for requests to drain), and stopping waits until they are all gone.
/// </summary>
internal sealed class UploadistaEventsService(
    ConnectionTracker tracker,
    IHostApplicationLifetime lifetime,
    ILogger<UploadistaEventsService> logger) : IHostedService, IDisposable
{
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = lifetime.ApplicationStopping.Register(CloseAll);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        CloseAll();
        try
        {
            await tracker.WaitUntilEmptyAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's shutdown timeout is up; the server aborts what is left.
        }
    }

    public void Dispose() => _stopping.Dispose();

    private void CloseAll()
    {
        if (!tracker.IsStopping)
        {
            Log.ClosingAll(logger, tracker.CloseAll());
        }
    }
}
