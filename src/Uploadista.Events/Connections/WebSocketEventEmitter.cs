using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Sends one WebSocket connection's frames. Events are queued without blocking (the publisher never
/// waits for a socket) in a bounded queue that a single writer loop drains; the queue holds references
/// to frames shared by every connection, so queuing allocates nothing per connection.
/// </summary>
internal sealed class WebSocketEventEmitter : IEventEmitter
{
    private const int InitialQueueSize = 8;

    private readonly WebSocket _socket;
    private readonly int _capacity;
    private readonly long _since;
    private readonly Lock _gate = new();
    private readonly WriterSignal _signal = new();
    private readonly TaskCompletionSource _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // A ring buffer that grows on demand, so an idle connection holds almost nothing.
    private ChannelEvent?[] _queue = new ChannelEvent?[InitialQueueSize];
    private int _head;
    private int _count;
    private string? _epoch;
    private long _lastSeq;
    private bool _holding = true;
    private byte[]? _pong;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    /// <param name="socket">The accepted socket; this emitter is its only sender.</param>
    /// <param name="capacity">How many events may wait before the queue conflates or overflows.</param>
    /// <param name="since">The last seq the client already has; only later events are sent (see <see cref="Release"/>).</param>
    public WebSocketEventEmitter(WebSocket socket, int capacity, long since)
    {
        _socket = socket;
        _capacity = capacity;
        _since = since;
    }

    /// <summary>Gets the close status the server chose, or <see langword="null"/> while none was requested.</summary>
    public WebSocketCloseStatus? CloseStatus
    {
        get
        {
            lock (_gate)
            {
                return _closeStatus;
            }
        }
    }

    /// <summary>Gets a task that completes when a close is first requested.</summary>
    public Task Closing => _closing.Task;

    /// <summary>Gets the number of events waiting to be sent; never more than the capacity (plus the retained events of a join).</summary>
    public int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public void Emit(ChannelEvent channelEvent)
    {
        lock (_gate)
        {
            if (_closeStatus is not null || !Advance(channelEvent))
            {
                return;
            }

            if (_count >= _capacity && !MakeRoomFor(channelEvent))
            {
                RequestCloseLocked(CloseStatuses.SlowConsumer, "Slow consumer; reconnect with since");
            }
            else
            {
                Enqueue(channelEvent);
                if (_holding)
                {
                    return;
                }
            }
        }

        _signal.Set();
    }

    public void Release(IReadOnlyList<ChannelEvent> retained)
    {
        lock (_gate)
        {
            if (!_holding)
            {
                return;
            }

            _holding = false;
            if (_closeStatus is not null)
            {
                return;
            }

            // The queue holds the live events that arrived during the hold, all of the current epoch.
            // Retained events of another epoch are stale: the live ones are newer.
            var held = new List<ChannelEvent>(_count);
            while (_count > 0)
            {
                held.Add(Dequeue());
            }

            var useRetained = retained.Count > 0 && (held.Count == 0 || retained[^1].Epoch == held[0].Epoch);
            var top = Math.Max(useRetained ? retained[^1].Seq : 0, held.Count > 0 ? held[^1].Seq : 0);

            // A since beyond the channel's last seq comes from an earlier epoch (or is made up): start over.
            var since = _since <= top ? _since : 0;
            var firstHeld = held.Count > 0 ? held[0].Seq : long.MaxValue;
            var merged = new List<ChannelEvent>(held.Count + (useRetained ? retained.Count : 0));
            if (useRetained)
            {
                merged.AddRange(retained.Where(e => e.Seq > since && e.Seq < firstHeld));
            }

            merged.AddRange(held.Where(e => e.Seq > since));

            _queue = new ChannelEvent?[Math.Max(InitialQueueSize, merged.Count)];
            merged.CopyTo(_queue!);
            _head = 0;
            _count = merged.Count;
            _lastSeq = merged.Count > 0 ? merged[^1].Seq : since;
            _epoch = merged.Count > 0 ? merged[^1].Epoch : useRetained ? retained[^1].Epoch : _epoch;
        }

        _signal.Set();
    }

    /// <summary>Queues a pong; it goes out before any queued event.</summary>
    public void SendPong(byte[] frame)
    {
        lock (_gate)
        {
            if (_closeStatus is not null)
            {
                return;
            }

            _pong = frame;
        }

        _signal.Set();
    }

    /// <summary>
    /// Asks the writer to close the connection with <paramref name="status"/> once its current send is
    /// done; queued events are dropped. The first request wins.
    /// </summary>
    public void RequestClose(WebSocketCloseStatus status, string description)
    {
        lock (_gate)
        {
            RequestCloseLocked(status, description);
        }

        _signal.Set();
    }

    /// <summary>Drops the connection at once, without a closing handshake, as a failed network would.</summary>
    internal void Abort() => _socket.Abort();

    /// <summary>
    /// The writer loop: sends queued frames one at a time until a close is requested, then sends the
    /// close frame. Ends early if the socket fails.
    /// </summary>
    public async Task RunAsync(CancellationToken aborted)
    {
        while (true)
        {
            await _signal.WaitAsync();
            while (TakeNext(out var frame, out var closeStatus, out var closeDescription))
            {
                if (closeStatus is { } status)
                {
                    if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(status, closeDescription, aborted);
                    }

                    return;
                }

                await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, aborted);
            }
        }
    }

    /// <summary>Takes what the writer sends next: a close, a pong, or the oldest queued event.</summary>
    private bool TakeNext(out ReadOnlyMemory<byte> frame, out WebSocketCloseStatus? closeStatus, out string? closeDescription)
    {
        lock (_gate)
        {
            frame = default;
            closeStatus = _closeStatus;
            closeDescription = _closeDescription;
            if (closeStatus is not null)
            {
                return true;
            }

            if (_pong is not null)
            {
                frame = _pong;
                _pong = null;
                return true;
            }

            if (!_holding && _count > 0)
            {
                frame = Dequeue().Frame;
                return true;
            }

            return false;
        }
    }

    private void RequestCloseLocked(WebSocketCloseStatus status, string description)
    {
        if (_closeStatus is not null)
        {
            return;
        }

        _closeStatus = status;
        _closeDescription = description;
        _closing.TrySetResult();
        _pong = null;
        Array.Clear(_queue);
        _head = 0;
        _count = 0;
    }

    /// <summary>
    /// Whether the event is new to this connection; records it as the last one if so. An event of
    /// another epoch starts the count over, because its channel's seq did.
    /// </summary>
    private bool Advance(ChannelEvent channelEvent)
    {
        if (channelEvent.Epoch != _epoch)
        {
            _epoch = channelEvent.Epoch;
            _lastSeq = 0;
        }

        if (channelEvent.Seq <= _lastSeq)
        {
            return false;
        }

        _lastSeq = channelEvent.Seq;
        return true;
    }

    private void Enqueue(ChannelEvent channelEvent)
    {
        if (_count == _queue.Length)
        {
            var grown = new ChannelEvent?[_queue.Length * 2];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _queue[(_head + i) % _queue.Length];
            }

            _queue = grown;
            _head = 0;
        }

        _queue[(_head + _count) % _queue.Length] = channelEvent;
        _count++;
    }

    private ChannelEvent Dequeue()
    {
        var channelEvent = _queue[_head]!;
        _queue[_head] = null;
        _head = (_head + 1) % _queue.Length;
        _count--;
        return channelEvent;
    }

    /// <summary>
    /// The connection has fallen behind: drop every queued progress event that a later one (queued, or
    /// <paramref name="incoming"/>) supersedes. Started and terminal events are never dropped.
    /// </summary>
    /// <returns>Whether there is room for <paramref name="incoming"/> now.</returns>
    private bool MakeRoomFor(ChannelEvent incoming)
    {
        var superseding = new HashSet<string>(StringComparer.Ordinal);
        if (incoming.ConflationKey is { } incomingKey)
        {
            superseding.Add(incomingKey);
        }

        var kept = new List<ChannelEvent>(_count);
        for (var i = _count - 1; i >= 0; i--)
        {
            var queued = _queue[(_head + i) % _queue.Length]!;
            if (queued.ConflationKey is { } key && !superseding.Add(key))
            {
                continue;
            }

            kept.Add(queued);
        }

        kept.Reverse();
        Array.Clear(_queue);
        kept.CopyTo(_queue!);
        _head = 0;
        _count = kept.Count;
        return _count < _capacity;
    }
}
