using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Sends one WebSocket connection's frames. Events are queued without blocking (the publisher never
/// waits for a socket) in a bounded queue that a single writer loop drains; the queue holds references
/// to frames shared by every connection, so queuing allocates nothing per connection. The writer sends
/// whatever has queued up in one write to the transport, each event its own WebSocket message.
/// </summary>
internal sealed class WebSocketEventEmitter : IEventEmitter
{
    private const int InitialQueueSize = 8;

    // One write carries at most this many events, or this many bytes (unless a single event is larger).
    private const int BatchEvents = 256;
    private const int BatchBytes = 64 * 1024;

    private readonly WebSocket _socket;
    private readonly Stream _frames;
    private readonly int _capacity;
    private readonly long _since;
    private readonly string? _sinceEpoch;
    private readonly TimeProvider _time;
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
    private bool _pongRequested;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;

    /// <param name="socket">The accepted socket: it reads, answers pings, and sends the close.</param>
    /// <param name="frames">The socket's transport, on which this emitter writes its text frames (a <see cref="FrameStream"/>, shared with the socket).</param>
    /// <param name="capacity">How many events may wait before the queue conflates or overflows.</param>
    /// <param name="since">The last seq the client already has; only later events are sent (see <see cref="Release"/>).</param>
    /// <param name="sinceEpoch">The epoch <paramref name="since"/> belongs to, if the client said; a since of another epoch counts as 0.</param>
    /// <param name="time">Stamps the pongs.</param>
    public WebSocketEventEmitter(WebSocket socket, Stream frames, int capacity, long since, string? sinceEpoch, TimeProvider time)
    {
        _time = time;
        _socket = socket;
        _frames = frames;
        _capacity = capacity;
        _since = since;
        _sinceEpoch = sinceEpoch;
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
            if (_closeStatus is not null)
            {
                return;
            }

            if (_epoch is not null && channelEvent.Epoch != _epoch)
            {
                if (!_holding)
                {
                    RequestCloseLocked(CloseStatuses.StateReset, "The channel started over; reconnect without since");
                    _signal.Set();
                    return;
                }

                // Nothing has been sent yet: the newer run replaces what is held.
                ClearQueueLocked();
                _lastSeq = 0;
            }

            _epoch = channelEvent.Epoch;
            if (channelEvent.Seq <= _lastSeq)
            {
                return;
            }

            _lastSeq = channelEvent.Seq;
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

    public void Release(RetainedEvents retained)
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

            // The queue holds the live events that arrived during the hold, all of one epoch. If the
            // retained state is of another, the channel started over during the join and which run is
            // newer cannot be told: the client starts over too.
            var held = new List<ChannelEvent>(_count);
            while (_count > 0)
            {
                held.Add(Dequeue());
            }

            if (held.Count > 0 && retained.Epoch is not null && retained.Epoch != held[0].Epoch)
            {
                RequestCloseLocked(CloseStatuses.StateReset, "The channel started over; reconnect without since");
            }
            else
            {
                QueueJoinedLocked(retained, held);
            }
        }

        _signal.Set();
    }

    public bool CanResume(RetainedEvents retained)
        => _since <= retained.LastSeq && (_sinceEpoch is null || _sinceEpoch == retained.Epoch);

    /// <summary>Queues what a joining client has not seen: the retained events after its since, then the held live ones.</summary>
    private void QueueJoinedLocked(RetainedEvents retained, List<ChannelEvent> held)
    {
        var epoch = held.Count > 0 ? held[0].Epoch : retained.Epoch;
        var top = Math.Max(retained.LastSeq, held.Count > 0 ? held[^1].Seq : 0);

        // A since of another epoch (the client said so, or it is beyond the channel's last seq) is
        // from a run of the channel that was lost: start over.
        var since = _since <= top && (_sinceEpoch is null || _sinceEpoch == epoch) ? _since : 0;
        var firstHeld = held.Count > 0 ? held[0].Seq : long.MaxValue;
        var merged = new List<ChannelEvent>(held.Count + retained.Events.Count);
        merged.AddRange(retained.Events.Where(e => e.Seq > since && e.Seq < firstHeld));
        merged.AddRange(held.Where(e => e.Seq > since));

        _queue = new ChannelEvent?[Math.Max(InitialQueueSize, merged.Count)];
        merged.CopyTo(_queue!);
        _head = 0;
        _count = merged.Count;
        _lastSeq = merged.Count > 0 ? merged[^1].Seq : since;
        _epoch = epoch;
    }

    /// <summary>
    /// Queues a pong; it goes out before any queued event, but not before the join is complete, so
    /// that it can name the connection's epoch.
    /// </summary>
    public void SendPong()
    {
        lock (_gate)
        {
            if (_closeStatus is not null)
            {
                return;
            }

            _pongRequested = true;
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
    /// The writer loop: sends what has queued up (a pong first, then events in order) in one write, until
    /// a close is requested; then sends the close frame. Ends early if the socket fails.
    /// </summary>
    public async Task RunAsync(CancellationToken aborted)
    {
        while (true)
        {
            await _signal.WaitAsync();

            // Let the events that arrive together (a burst from the broker) queue up, so that one
            // write carries them all: fewer system calls under load, no measurable delay when idle.
            // Two yields measured best (docs/benchmarks.md).
            await Task.Yield();
            await Task.Yield();
            while (true)
            {
                var batch = ArrayPool<ChannelEvent?>.Shared.Rent(BatchEvents);
                var count = 0;
                try
                {
                    count = TakeBatch(batch, out var pongDue, out var epoch, out var closeStatus, out var closeDescription);
                    if (closeStatus is { } status)
                    {
                        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                        {
                            await _socket.CloseOutputAsync(status, closeDescription, aborted);
                        }

                        return;
                    }

                    if (count == 0 && !pongDue)
                    {
                        break;
                    }

                    var pong = pongDue ? ClientMessage.Pong(_time.GetUtcNow(), epoch) : null;
                    await WriteFramesAsync(batch.AsMemory(0, count), pong, aborted);
                }
                finally
                {
                    Array.Clear(batch, 0, count);
                    ArrayPool<ChannelEvent?>.Shared.Return(batch);
                }
            }
        }
    }

    /// <summary>Takes what the writer sends next: a close, or a pong and the oldest queued events.</summary>
    /// <param name="batch">Receives the events.</param>
    /// <param name="pongDue">Set when a pong is due.</param>
    /// <param name="epoch">The connection's epoch, for the pong (null while it has none).</param>
    /// <param name="closeStatus">Set when a close is due.</param>
    /// <param name="closeDescription">The close's reason.</param>
    /// <returns>The number of events taken into <paramref name="batch"/>.</returns>
    private int TakeBatch(ChannelEvent?[] batch, out bool pongDue, out string? epoch, out WebSocketCloseStatus? closeStatus, out string? closeDescription)
    {
        lock (_gate)
        {
            closeStatus = _closeStatus;
            closeDescription = _closeDescription;
            epoch = _epoch;
            pongDue = false;
            if (closeStatus is not null || _holding)
            {
                return 0;
            }

            pongDue = _pongRequested;
            _pongRequested = false;

            var count = 0;
            var bytes = 0;
            while (_count > 0 && count < BatchEvents && (count == 0 || bytes + _queue[_head]!.Frame.Length <= BatchBytes))
            {
                var next = Dequeue();
                bytes += next.Frame.Length;
                batch[count++] = next;
            }

            return count;
        }
    }

    /// <summary>Frames the pong and the events as text messages, back to back, and writes them at once.</summary>
    private async ValueTask WriteFramesAsync(ReadOnlyMemory<ChannelEvent?> events, byte[]? pong, CancellationToken aborted)
    {
        var size = pong is null ? 0 : FrameSize(pong.Length);
        foreach (var channelEvent in events.Span)
        {
            size += FrameSize(channelEvent!.Frame.Length);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var written = pong is null ? 0 : WriteFrame(buffer, pong);
            foreach (var channelEvent in events.Span)
            {
                written += WriteFrame(buffer.AsSpan(written), channelEvent!.Frame.Span);
            }

            await _frames.WriteAsync(buffer.AsMemory(0, written), aborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int FrameSize(int payload) => payload + (payload < 126 ? 2 : payload <= ushort.MaxValue ? 4 : 10);

    /// <summary>Writes one final, unmasked text frame (RFC 6455 section 5.2): what a server sends.</summary>
    private static int WriteFrame(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        destination[0] = 0x81; // FIN, text
        int header;
        if (payload.Length < 126)
        {
            destination[1] = (byte)payload.Length;
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            header = 10;
        }

        payload.CopyTo(destination[header..]);
        return header + payload.Length;
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
        _pongRequested = false;
        ClearQueueLocked();
    }

    private void ClearQueueLocked()
    {
        Array.Clear(_queue);
        _head = 0;
        _count = 0;
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
