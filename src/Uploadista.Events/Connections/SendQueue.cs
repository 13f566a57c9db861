using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// One connection's outgoing events, and nothing else: a bounded ring that a single writer drains.
/// Adding never blocks and allocates nothing per connection (the queue holds references to frames
/// shared by every connection). When the live events exceed the capacity, superseded progress is
/// dropped (<see cref="Conflation"/>); if that is not enough the connection is closed as a slow
/// consumer (4008). Catch-up events (retained ones a join or a restore hands over) do not count
/// against the capacity, so a late join never ends in 4008 for what it was owed.
/// </summary>
internal sealed class SendQueue(int capacity, UploadistaMetrics? metrics = null, int maxCatchUp = int.MaxValue)
{
    private const int InitialSize = 8;

    private readonly Lock _gate = new();
    private readonly WriterSignal _signal = new();
    private readonly TaskCompletionSource _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // A ring that grows on demand, so an idle connection holds almost nothing. Each slot says whether
    // its event is catch-up (not counted against the capacity).
    private Slot[] _ring = new Slot[InitialSize];
    private int _head;
    private int _count;
    private int _catchUp;
    private HashSet<string>? _seenKeys;
    private bool _started;
    private int _pongsRequested;
    private bool _stopped;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    /// <summary>Gets a task that completes when a close is first requested.</summary>
    public Task Closing => _closing.Task;

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

    /// <summary>Gets the number of events waiting to be sent.</summary>
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

    /// <summary>Queues a live event; if the queue is full and conflation frees no room, closes with 4008.</summary>
    public void Add(ChannelEvent channelEvent)
    {
        lock (_gate)
        {
            if (_closeStatus is not null || _stopped)
            {
                return;
            }

            if (_count - _catchUp >= capacity && !MakeRoomLocked(channelEvent))
            {
                RequestCloseLocked(CloseStatuses.SlowConsumer, "Slow consumer; reconnect with since");
            }
            else
            {
                EnqueueLocked(channelEvent, catchUp: false);
                if (!_started)
                {
                    return;
                }
            }
        }

        _signal.Set();
    }

    /// <summary>Queues catch-up events (they do not count against the capacity) and starts sending.</summary>
    public void AddCatchUp(IEnumerable<ChannelEvent> events)
    {
        lock (_gate)
        {
            if (_closeStatus is not null || _stopped)
            {
                return;
            }

            foreach (var channelEvent in events)
            {
                if (_catchUp >= maxCatchUp)
                {
                    // Owed more than any honest client could be (a multiplexed socket that subscribes
                    // over and over without reading).
                    RequestCloseLocked(CloseStatuses.SlowConsumer, "Slow consumer; reconnect with since");
                    break;
                }

                EnqueueLocked(channelEvent, catchUp: true);
            }

            _started = true;
        }

        _signal.Set();
    }

    /// <summary>Asks for a pong (one per ping); it goes out before any queued event, but only once sending has started.</summary>
    public void RequestPong()
    {
        lock (_gate)
        {
            if (_closeStatus is not null)
            {
                return;
            }

            _pongsRequested++;
        }

        _signal.Set();
    }

    /// <summary>
    /// Asks the writer to close the connection with <paramref name="status"/> once its current write is
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

    /// <summary>Ends the writer without a close frame: the connection is gone.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            _closing.TrySetResult();
            ClearLocked();
        }

        _signal.Set();
    }

    /// <summary>Waits until there is something for the writer to do.</summary>
    public ValueTask WaitAsync() => _signal.WaitAsync();

    /// <summary>Takes what the writer does next: stop, close, or a pong and the oldest events.</summary>
    /// <param name="batch">Receives the events.</param>
    /// <param name="maxBytes">Stops taking events once their frames exceed this (at least one is taken).</param>
    /// <returns>What to write.</returns>
    public Next Take(ChannelEvent?[] batch, int maxBytes)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return new Next(0, 0, null, null, Stop: true);
            }

            if (_closeStatus is not null)
            {
                return new Next(0, 0, _closeStatus, _closeDescription, Stop: false);
            }

            if (!_started)
            {
                return default;
            }

            var pongs = _pongsRequested;
            _pongsRequested = 0;
            var count = 0;
            var bytes = 0;
            while (_count > 0 && count < batch.Length && (count == 0 || bytes + _ring[_head].Event!.Frame.Length <= maxBytes))
            {
                var next = DequeueLocked();
                bytes += next.Frame.Length;
                batch[count++] = next;
            }

            return new Next(count, pongs, null, null, Stop: false);
        }
    }

    private void RequestCloseLocked(WebSocketCloseStatus status, string description)
    {
        if (_closeStatus is not null || _stopped)
        {
            return;
        }

        _closeStatus = status;
        _closeDescription = description;
        _pongsRequested = 0;
        _closing.TrySetResult();
        ClearLocked();
    }

    private void ClearLocked()
    {
        Array.Clear(_ring);
        _head = 0;
        _count = 0;
        _catchUp = 0;
    }

    private void EnqueueLocked(ChannelEvent channelEvent, bool catchUp)
    {
        if (_count == _ring.Length)
        {
            var grown = new Slot[_ring.Length * 2];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _ring[(_head + i) % _ring.Length];
            }

            _ring = grown;
            _head = 0;
        }

        _ring[(_head + _count) % _ring.Length] = new Slot(channelEvent, catchUp, metrics?.QueueTimestamp(channelEvent) ?? 0);
        _count++;
        _catchUp += catchUp ? 1 : 0;
    }

    private ChannelEvent DequeueLocked()
    {
        var slot = _ring[_head];
        _ring[_head] = default;
        _head = (_head + 1) % _ring.Length;
        _count--;
        _catchUp -= slot.CatchUp ? 1 : 0;
        metrics?.LeftQueue(slot.Event!, slot.QueuedAt, slot.CatchUp);
        return slot.Event!;
    }

    /// <summary>
    /// The connection has fallen behind: drops queued progress that a later event supersedes, in place,
    /// so that a slow connection costs no allocation per event (the set of keys is kept for the next time).
    /// </summary>
    /// <returns>Whether there is room for <paramref name="incoming"/> now.</returns>
    private bool MakeRoomLocked(ChannelEvent incoming)
    {
        var seen = _seenKeys ??= new HashSet<string>(StringComparer.Ordinal);
        seen.Clear();
        if (incoming.ConflationKey is { } incomingKey)
        {
            seen.Add(incomingKey);
        }

        // From the newest back: the first event of each key stays, and survivors move towards the
        // newest end, never over an event not yet looked at.
        var kept = 0;
        _catchUp = 0;
        for (var i = _count - 1; i >= 0; i--)
        {
            var slot = _ring[(_head + i) % _ring.Length];
            if (slot.Event!.ConflationKey is { } key && !seen.Add(key))
            {
                continue;
            }

            _ring[(_head + _count - 1 - kept) % _ring.Length] = slot;
            _catchUp += slot.CatchUp ? 1 : 0;
            kept++;
        }

        for (var i = 0; i < _count - kept; i++)
        {
            _ring[(_head + i) % _ring.Length] = default;
        }

        metrics?.Superseded(Tags.Site.SendQueue, _count - kept);
        _head = (_head + _count - kept) % _ring.Length;
        _count = kept;
        return _count - _catchUp < capacity;
    }

    private readonly record struct Slot(ChannelEvent? Event, bool CatchUp, long QueuedAt);

    /// <summary>What the writer does next.</summary>
    /// <param name="Count">How many events were taken.</param>
    /// <param name="Pongs">How many pongs go first: one for each ping.</param>
    /// <param name="CloseStatus">When set, the writer sends this close and ends.</param>
    /// <param name="CloseDescription">The close's reason.</param>
    /// <param name="Stop">Whether the writer ends without a close.</param>
    public readonly record struct Next(int Count, int Pongs, WebSocketCloseStatus? CloseStatus, string? CloseDescription, bool Stop);
}
