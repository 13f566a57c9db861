using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Counts this instance's connections, in total and per channel, to keep them within the configured
/// limits, and knows every open one so that shutdown can close them all with 1001.
/// </summary>
internal sealed class ConnectionTracker(IOptions<UploadistaEventsOptions> options)
{
    private readonly int _maxConnections = options.Value.MaxConnections;
    private readonly int _maxPerChannel = options.Value.MaxConnectionsPerChannel;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perChannel = new(StringComparer.Ordinal);
    private readonly HashSet<WebSocketEventEmitter> _open = [];
    private int _count;
    private TaskCompletionSource? _empty;
    private bool _stopping;

    /// <summary>Gets whether the server is shutting down; new connections are refused.</summary>
    public bool IsStopping
    {
        get
        {
            lock (_gate)
            {
                return _stopping;
            }
        }
    }

    /// <summary>Gets the number of admitted connections.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Gets the open connections' emitters; for tests.</summary>
    internal WebSocketEventEmitter[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _open];
        }
    }

    /// <summary>
    /// Takes a place for a connection on <paramref name="channel"/>, or returns <see langword="null"/> when
    /// this instance already holds as many as the limits allow.
    /// </summary>
    public Admission? TryAdmit(string channel)
    {
        lock (_gate)
        {
            var onChannel = _perChannel.GetValueOrDefault(channel);
            if (_count >= _maxConnections || onChannel >= _maxPerChannel)
            {
                return null;
            }

            _count++;
            _perChannel[channel] = onChannel + 1;
            return new Admission(this, channel);
        }
    }

    /// <summary>Refuses new connections and asks every open one to close with 1001.</summary>
    /// <returns>The number of connections asked to close.</returns>
    public int CloseAll()
    {
        WebSocketEventEmitter[] open;
        lock (_gate)
        {
            _stopping = true;
            open = [.. _open];
        }

        foreach (var emitter in open)
        {
            emitter.RequestClose(CloseStatuses.ShuttingDown, "Server shutting down");
        }

        return open.Length;
    }

    /// <summary>Completes when no connection is left.</summary>
    public Task WaitUntilEmptyAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return Task.CompletedTask;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task.WaitAsync(cancellationToken);
        }
    }

    private void Attach(WebSocketEventEmitter emitter)
    {
        bool stopping;
        lock (_gate)
        {
            _open.Add(emitter);
            stopping = _stopping;
        }

        if (stopping)
        {
            emitter.RequestClose(CloseStatuses.ShuttingDown, "Server shutting down");
        }
    }

    private void Release(string channel, WebSocketEventEmitter? emitter)
    {
        TaskCompletionSource? empty = null;
        lock (_gate)
        {
            if (emitter is not null)
            {
                _open.Remove(emitter);
            }

            if (--_perChannel[channel] == 0)
            {
                _perChannel.Remove(channel);
            }

            if (--_count == 0)
            {
                empty = _empty;
                _empty = null;
            }
        }

        empty?.TrySetResult();
    }

    /// <summary>A connection's place, held until disposed.</summary>
    public sealed class Admission(ConnectionTracker tracker, string channel) : IDisposable
    {
        private WebSocketEventEmitter? _emitter;
        private int _disposed;

        /// <summary>Makes the accepted connection known, so that shutdown closes it.</summary>
        public void Attach(WebSocketEventEmitter emitter)
        {
            _emitter = emitter;
            tracker.Attach(emitter);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                tracker.Release(channel, _emitter);
            }
        }
    }
}
