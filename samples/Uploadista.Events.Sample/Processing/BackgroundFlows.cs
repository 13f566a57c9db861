using System.Collections.Concurrent;
using System.Security.Cryptography;
using Uploadista.Events.Sample.Uploads;

namespace Uploadista.Events.Sample.Processing;

/// <summary>Runs processing flows after the upload request has returned, and stops them on shutdown.</summary>
public sealed class BackgroundFlows(ProcessingFlow flow) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private volatile bool _disposed;

    /// <summary>Starts the flow for a complete upload and returns its job id.</summary>
    public string Start(Upload upload, string baseUrl)
    {
        var jobId = "job-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var run = Task.Run(() => flow.RunAsync(upload, jobId, baseUrl, _stopping.Token));
        _running[run] = true;
        run.ContinueWith(t => _running.TryRemove(t, out _), TaskScheduler.Default);
        return jobId;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A host under WebApplicationFactory may dispose the services before it stops them.
        if (_disposed)
        {
            return;
        }

        await _stopping.CancelAsync();
        await Task.WhenAll(_running.Keys).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _disposed = true;
        _stopping.Dispose();
    }
}
