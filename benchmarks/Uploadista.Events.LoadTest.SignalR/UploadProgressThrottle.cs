using System.Collections.Concurrent;
using System.Diagnostics;

namespace Uploadista.Events.LoadTest.SignalR;

/// <summary>Progress of an upload, as the workload reports it.</summary>
internal readonly record struct UploadProgress(double Progress, long BytesUploaded, long TotalBytes)
{
    public bool IsFinal => Progress >= 1 || (TotalBytes > 0 && BytesUploaded >= TotalBytes);
}

/// <summary>
/// The SignalR side's copy of Uploadista.Events' upload-progress throttle (its ProgressInterval, 100 ms
/// by default), so that both systems deliver comparable counts in the uploads workload. SignalR has no
/// throttle of its own; an application would write one like this. The same rules as the library's:
/// at most one progress per interval for each upload; one that comes too soon waits (a newer one
/// replaces it) and goes out by a timer when the interval is up, so the latest progress always goes
/// out; a final progress (100%) goes out at once and drops the waiting one; before upload_complete,
/// the waiting progress is sent first. Sends of one upload never overlap, so they stay in order.
/// </summary>
internal sealed class UploadProgressThrottle(TimeSpan interval, Func<string, UploadProgress, Task> send)
{
    private readonly TimeSpan _interval = interval;
    private readonly Func<string, UploadProgress, Task> _send = send;
    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    public Task OfferAsync(string uploadId, UploadProgress progress)
        => _gates.GetOrAdd(uploadId, static (id, self) => new Gate(self, id), this).OfferAsync(progress);

    /// <summary>Sends the upload's waiting progress, if any, and forgets the upload: call it before upload_complete.</summary>
    public async Task CompleteAsync(string uploadId)
    {
        if (_gates.TryRemove(uploadId, out var gate))
        {
            await gate.FlushAsync();
            gate.Dispose();
        }
    }

    /// <summary>The throttle of one upload.</summary>
    private sealed class Gate(UploadProgressThrottle owner, string uploadId) : IDisposable
    {
        // Serializes this upload's sends, so that a delayed progress never overtakes a newer one.
        private readonly SemaphoreSlim _order = new(1, 1);
        private readonly Lock _gate = new();
        private long _lastSentAt = long.MinValue;
        private UploadProgress? _pending;
        private Timer? _timer;

        public async Task OfferAsync(UploadProgress progress)
        {
            lock (_gate)
            {
                var now = Stopwatch.GetTimestamp();
                if (progress.IsFinal)
                {
                    _pending = null; // superseded by the final one
                }
                else if (_pending is not null || (_lastSentAt != long.MinValue && Stopwatch.GetElapsedTime(_lastSentAt, now) < owner._interval))
                {
                    _pending = progress;
                    var due = owner._interval - Stopwatch.GetElapsedTime(_lastSentAt, now);
                    _timer ??= new Timer(static state => _ = ((Gate)state!).FlushAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
                    return;
                }

                _lastSentAt = now;
            }

            await _order.WaitAsync();
            try
            {
                await owner._send(uploadId, progress);
            }
            finally
            {
                _order.Release();
            }
        }

        /// <summary>Sends the waiting progress, if any.</summary>
        public async Task FlushAsync()
        {
            await _order.WaitAsync();
            try
            {
                UploadProgress? pending;
                lock (_gate)
                {
                    pending = _pending;
                    _pending = null;
                    if (pending is not null)
                    {
                        _lastSentAt = Stopwatch.GetTimestamp();
                    }
                }

                if (pending is { } progress)
                {
                    await owner._send(uploadId, progress);
                }
            }
            finally
            {
                _order.Release();
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
