using System.Collections.Concurrent;

namespace Uploadista.Events;

/// <summary>
/// Publish-side throttling: at most one progress event per interval for each upload and for each node
/// of each job. A progress event that arrives too soon waits (the newest replaces an older one) and is
/// published when the interval is up, so the latest progress always goes out. A final progress (100%)
/// goes out at once, and a started, complete or error event is never held: waiting progress of the
/// same upload or job is published just before it.
/// </summary>
internal sealed class ProgressThrottle : IDisposable
{
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly Func<UploadistaEvent, CancellationToken, ValueTask> _send;
    private readonly UploadistaMetrics? _metrics;

    // Upload progress by "u:{uploadId}"; flow progress by "f:{jobId}", then by node id.
    private readonly ConcurrentDictionary<string, Gate> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Gate>> _jobs = new(StringComparer.Ordinal);
    private readonly ITimer _sweeper;

    public ProgressThrottle(TimeSpan interval, TimeProvider time, Func<UploadistaEvent, CancellationToken, ValueTask> send, UploadistaMetrics? metrics = null)
    {
        _interval = interval;
        _time = time;
        _send = send;
        _metrics = metrics;

        // Uploads and jobs that never send a terminal event must not keep their gates forever.
        var sweepEvery = TimeSpan.FromMinutes(1);
        _sweeper = time.CreateTimer(_ => SweepIdle(), null, sweepEvery, sweepEvery);
    }

    public ValueTask PublishAsync(UploadistaEvent uploadistaEvent, CancellationToken cancellationToken) => uploadistaEvent switch
    {
        UploadProgressEvent progress => GateOf(progress).OfferAsync(progress, IsFinal(progress), cancellationToken),
        FlowProgressEvent progress => GateOf(progress).OfferAsync(progress, progress.Progress >= 1, cancellationToken),
        UploadCompleteEvent or UploadErrorEvent => FlushThenSendAsync(TakeUpload(((UploadEvent)uploadistaEvent).UploadId), uploadistaEvent, cancellationToken),
        FlowCompleteEvent or FlowErrorEvent => FlushThenSendAsync(TakeJob(((FlowEvent)uploadistaEvent).JobId), uploadistaEvent, cancellationToken),
        _ => _send(uploadistaEvent, cancellationToken),
    };

    public void Dispose()
    {
        _sweeper.Dispose();
        foreach (var gate in _uploads.Values.Concat(_jobs.Values.SelectMany(nodes => nodes.Values)))
        {
            gate.Dispose();
        }
    }

    private static bool IsFinal(UploadProgressEvent progress)
        => progress.Progress >= 1 || (progress.TotalBytes > 0 && progress.BytesUploaded >= progress.TotalBytes);

    private Gate GateOf(UploadProgressEvent progress)
        => _uploads.GetOrAdd(progress.UploadId, static (_, self) => new Gate(self), this);

    private Gate GateOf(FlowProgressEvent progress)
        => _jobs.GetOrAdd(progress.JobId, static _ => new(StringComparer.Ordinal))
            .GetOrAdd(progress.NodeId, static (_, self) => new Gate(self), this);

    private Gate[] TakeUpload(string uploadId) => _uploads.TryRemove(uploadId, out var gate) ? [gate] : [];

    private Gate[] TakeJob(string jobId) => _jobs.TryRemove(jobId, out var nodes) ? [.. nodes.Values] : [];

    private async ValueTask FlushThenSendAsync(Gate[] gates, UploadistaEvent terminal, CancellationToken cancellationToken)
    {
        foreach (var gate in gates)
        {
            await gate.FlushAsync();
            gate.Dispose();
        }

        await _send(terminal, cancellationToken);
    }

    private void SweepIdle()
    {
        var idleSince = _time.GetTimestamp() - (long)(_time.TimestampFrequency * TimeSpan.FromMinutes(1).TotalSeconds);
        foreach (var (uploadId, gate) in _uploads)
        {
            if (gate.IsIdleSince(idleSince) && _uploads.TryRemove(uploadId, out _))
            {
                gate.Dispose();
            }
        }

        foreach (var (jobId, nodes) in _jobs)
        {
            if (nodes.Values.All(gate => gate.IsIdleSince(idleSince)) && _jobs.TryRemove(jobId, out _))
            {
                foreach (var gate in nodes.Values)
                {
                    gate.Dispose();
                }
            }
        }
    }

    /// <summary>The throttle of one upload, or of one node of one job.</summary>
    private sealed class Gate(ProgressThrottle owner) : IDisposable
    {
        // Serializes this key's sends, so that a delayed progress never overtakes a newer one.
        private readonly SemaphoreSlim _order = new(1, 1);
        private readonly Lock _gate = new();
        private long _lastSentAt = long.MinValue;
        private UploadistaEvent? _pending;
        private ITimer? _timer;

        public async ValueTask OfferAsync(UploadistaEvent progress, bool isFinal, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                var now = owner._time.GetTimestamp();
                if (_pending is not null)
                {
                    // The waiting progress never goes out: the final one, or this newer one, replaces it.
                    owner._metrics?.Superseded(Tags.Site.Throttle);
                }

                if (isFinal)
                {
                    _pending = null; // superseded by the final one
                }
                else if (_pending is not null || (_lastSentAt != long.MinValue && owner._time.GetElapsedTime(_lastSentAt, now) < owner._interval))
                {
                    _pending = progress;
                    var due = owner._interval - owner._time.GetElapsedTime(_lastSentAt, now);
                    _timer ??= owner._time.CreateTimer(static state => _ = ((Gate)state!).FlushAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
                    return;
                }

                _lastSentAt = now;
            }

            await _order.WaitAsync(cancellationToken);
            try
            {
                await owner._send(progress, cancellationToken);
            }
            finally
            {
                _order.Release();
            }
        }

        /// <summary>Publishes the waiting progress, if any.</summary>
        public async Task FlushAsync()
        {
            await _order.WaitAsync();
            try
            {
                UploadistaEvent? pending;
                lock (_gate)
                {
                    pending = _pending;
                    _pending = null;
                    if (pending is not null)
                    {
                        _lastSentAt = owner._time.GetTimestamp();
                    }
                }

                if (pending is not null)
                {
                    await owner._send(pending, CancellationToken.None);
                }
            }
            finally
            {
                _order.Release();
            }
        }

        public bool IsIdleSince(long timestamp)
        {
            lock (_gate)
            {
                return _pending is null && _lastSentAt < timestamp;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _timer?.Dispose();
                _timer = null;
            }
        }
    }
}
