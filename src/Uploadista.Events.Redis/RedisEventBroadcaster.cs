using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events.Redis;

/// <summary>
/// Carries events through Redis: one pub/sub channel per upload and per job, with each channel's seq,
/// epoch and retained events kept beside it and updated by one atomic script per batch.
/// </summary>
/// <remarks>
/// Publishing goes through a per-channel outbox (<see cref="PublishQueue"/>) drained by
/// <see cref="BatchSender"/> with group commit: a publisher waits until its event is in Redis. While a
/// channel's Redis server is unreachable, publishing never throws nor waits: its events wait in the
/// outbox and are published in order when it returns. When a subscription comes back, every
/// subscriber is told to catch up from the retained state (<see cref="RedisSubscriptions"/>). As an
/// <see cref="IHealthCheck"/> it tells the library's health check how Redis is.
/// </remarks>
internal sealed class RedisEventBroadcaster : IEventBroadcaster, IHealthCheck, IAsyncDisposable
{
    // One batch carries at most this many events of a channel; the rest go in its next batch.
    private const int MaxBatchEvents = 512;

    private readonly ILogger<RedisEventBroadcaster> _logger;
    private readonly RedisKeys _keys;
    private readonly RedisConnection _connection;
    private readonly PublishQueue _queue;
    private readonly SeqMemory _memory;
    private readonly JobUploadStore _jobUploads;
    private readonly BatchSender _sender;
    private readonly RedisSubscriptions _subscriptions;
    private readonly LuaScript _readScript;
    private readonly int _maxRetained;
    private readonly TimeSpan _unhealthyAfter;
    private readonly Lazy<Task> _started;
    private int _disposeCalls;

    public RedisEventBroadcaster(
        IOptions<RedisEventsOptions> options,
        IOptions<UploadistaEventsOptions> eventsOptions,
        ILogger<RedisEventBroadcaster> logger,
        IServiceProvider? services = null)
    {
        var retention = eventsOptions.Value.RetentionPeriod;
        _logger = logger;
        _maxRetained = eventsOptions.Value.MaxRetainedEventsPerChannel;
        _unhealthyAfter = options.Value.UnhealthyAfter;
        var metrics = RedisMetrics.Create(services?.GetService<IMeterFactory>());
        _keys = new RedisKeys(options.Value.ChannelPrefix);
        _connection = new RedisConnection(options.Value, services, logger);
        _queue = new PublishQueue(options.Value.MaxPendingPublications, MaxBatchEvents, TimeProvider.System, metrics);
        _memory = new SeqMemory(retention, capacity: 100_000, TimeProvider.System);
        _jobUploads = new JobUploadStore(_connection, _keys, retention, logger);
        _readScript = ReadScript.Create(retention);
        _sender = new BatchSender(
            _connection, _queue, _memory, PublishScript.Create(retention, _maxRetained), _keys, Guid.NewGuid().ToString("N")[..16], retention, logger);
        _subscriptions = new RedisSubscriptions(_connection, _keys, _memory, logger, metrics);
        _started = new Lazy<Task>(StartCoreAsync);
        metrics?.Observe(() => _queue.Count, () => _connection.Reachability().Connected);
    }

    /// <summary>The number of events not yet in Redis; for tests.</summary>
    internal int PendingCount => _queue.Count;

    /// <summary>The number of channels whose batch is on its way to Redis; for tests.</summary>
    internal int SendingCount => _queue.SendingCount;

    /// <summary>Connects (the connection keeps reconnecting on its own if Redis is down) and starts publishing.</summary>
    public Task StartAsync() => _started.Value;

    public async ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        if (publication.Payload.IsEmpty)
        {
            throw new ArgumentException("The publication is empty.", nameof(publication));
        }

        await StartAsync();
        var (completion, dropped) = _queue.Add(channel, publication, _connection.IsReachable(_keys.Meta(channel)));
        _sender.Wake();
        if (dropped > 0)
        {
            RedisLog.PendingDropped(_logger, dropped);
        }

        if (completion is null)
        {
            _sender.Deferred(channel, 1, null);
            return 0;
        }

        return await completion;
    }

    /// <summary>Waits until every event published so far is in Redis (or dropped), for a graceful shutdown.</summary>
    internal Task FlushAsync(CancellationToken cancellationToken = default) => _queue.WhenEmptyAsync().WaitAsync(cancellationToken);

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(subscriber);
        await StartAsync();
        return await _subscriptions.SubscribeAsync(channel, subscriber);
    }

    /// <summary>Writes the job's association before the event that names it is published, unless this instance knows it already (<see cref="JobUploadStore"/>).</summary>
    public async ValueTask SetJobUploadAsync(string jobId, string uploadId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(uploadId);
        await StartAsync();
        await _jobUploads.SetAsync(jobId, uploadId);
    }

    /// <summary>The job's upload, from this instance's cache, or read from Redis once (<see cref="JobUploadStore"/>).</summary>
    public async ValueTask<string?> GetJobUploadAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await StartAsync();
        return await _jobUploads.GetAsync(jobId);
    }

    public async ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        await StartAsync();

        // What this instance knows of the channel goes along: if Redis lost the channel's state, the
        // read continues the run its sockets are in rather than let a publisher start a new one.
        var (floorEpoch, floorSeq) = _memory.Get(channel);
        var reply = await _connection.EvaluateAsync(_readScript, [_keys.Meta(channel)], [floorSeq, floorEpoch ?? string.Empty]);
        var retained = RetainedState.Read(reply, afterSeq, _maxRetained, out var unreadable);
        if (unreadable > 0)
        {
            RedisLog.InvalidMessage(_logger, channel);
        }

        if (retained.Epoch is not null)
        {
            _memory.Record(channel, retained.Epoch, retained.LastSeq);
        }

        return retained;
    }

    /// <summary>
    /// Healthy while Redis is connected and nothing waits for it; Degraded while events wait in the
    /// outbox for it, subscriptions are being restored, or it has been unreachable for less than
    /// <see cref="RedisEventsOptions.UnhealthyAfter"/>; the registration's failure status after that.
    /// </summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (connected, unreachableFor) = _connection.Reachability();
        var (pending, heldBack) = _queue.Depth();
        var restoring = _subscriptions.RestoringCount;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["redis_connected"] = connected,
            ["redis_unreachable_seconds"] = Math.Round(unreachableFor.TotalSeconds, 1),
            ["outbox_events"] = pending,
            ["outbox_held_back"] = heldBack,
            ["subscriptions_restoring"] = restoring,
        };

        var result = (connected, heldBack, restoring) switch
        {
            (false, _, _) when unreachableFor >= _unhealthyAfter => new HealthCheckResult(
                context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy,
                $"Redis has been unreachable for {unreachableFor.TotalSeconds:0} s (UnhealthyAfter is {_unhealthyAfter.TotalSeconds:0} s); {pending} events wait in the outbox.",
                data: data),
            (false, _, _) => HealthCheckResult.Degraded($"Redis is unreachable; {pending} events wait in the outbox.", data: data),
            (_, > 0, _) => HealthCheckResult.Degraded($"{heldBack} events wait in the outbox for Redis.", data: data),
            (_, _, > 0) => HealthCheckResult.Degraded($"{restoring} subscriptions are being restored.", data: data),
            _ => HealthCheckResult.Healthy("Redis is connected.", data),
        };
        return Task.FromResult(result);
    }

    public async ValueTask DisposeAsync()
    {
        // The container disposes this instance twice: as itself and as IEventBroadcaster.
        if (Interlocked.Exchange(ref _disposeCalls, 1) == 1)
        {
            return;
        }

        await _sender.DisposeAsync();
        _subscriptions.Dispose();
        await _connection.DisposeAsync();
    }

    private async Task StartCoreAsync()
    {
        await _connection.StartAsync();
        _subscriptions.Start();
        _sender.Start();
    }
}
