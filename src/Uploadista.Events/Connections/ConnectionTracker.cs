namespace Uploadista.Events;

/// <summary>Knows every open connection, so that shutdown can close them all with 1001.</summary>
internal sealed class ConnectionTracker
{
    private readonly Lock _gate = new();
    private readonly HashSet<WebSocketEventEmitter> _open = [];
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

    /// <summary>Gets the number of open connections.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _open.Count;
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

    /// <summary>Tracks <paramref name="emitter"/> until the returned handle is disposed.</summary>
    public IDisposable Track(WebSocketEventEmitter emitter)
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

        return new Tracked(this, emitter);
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

    /// <summary>Completes when no connection is open.</summary>
    public Task WaitUntilEmptyAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_open.Count == 0)
            {
                return Task.CompletedTask;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task.WaitAsync(cancellationToken);
        }
    }

    private void Untrack(WebSocketEventEmitter emitter)
    {
        TaskCompletionSource? empty = null;
        lock (_gate)
        {
            if (_open.Remove(emitter) && _open.Count == 0)
            {
                empty = _empty;
                _empty = null;
            }
        }

        empty?.TrySetResult();
    }

    private sealed class Tracked(ConnectionTracker tracker, WebSocketEventEmitter emitter) : IDisposable
    {
        public void Dispose() => tracker.Untrack(emitter);
    }
}
