using System.Diagnostics;

namespace Uploadista.Events.Client;

/// <summary>
/// The events of one upload or job, as an asynchronous sequence: enumerate it once, with
/// <c>await foreach</c>. It connects when enumerated, reconnects with backoff and jitter after a
/// failure, and resumes after the last <c>seq</c> it yielded, so that no retained event is missed and
/// none is yielded twice.
/// </summary>
/// <remarks>
/// The enumeration ends when it is cancelled (<see cref="OperationCanceledException"/>), when the server
/// refuses the watch or sends a frame larger than the client accepts (<see cref="WatchRefusedException"/>),
/// when a frame is not the protocol's JSON (<see cref="System.Text.Json.JsonException"/>), when the consumer
/// stops enumerating, or, with <see cref="WatchOptions.EndWhenFlowEnds"/>, after the event that ends the work. A channel whose state
/// was lost starts a new run of <c>seq</c> (docs/protocol.md, "Runs and resets"): the watch then yields
/// the new run from its start, so <c>seq</c> may go back once.
/// </remarks>
public sealed class EventWatch : IAsyncEnumerable<UploadistaEvent>
{
    private readonly WatchTarget _target;
    private readonly WatchOptions _options;
    private readonly WatchConnector _connector;
    private readonly Backoff _backoff;
    private readonly CancellationToken _cancellationToken;
    private int _enumerated;
    private int _state;
    private long _lastSeq;
    private string? _epoch;
    private Exception? _lastError;

    internal EventWatch(WatchTarget target, WatchOptions options, WatchConnector connector, Backoff backoff, CancellationToken cancellationToken)
    {
        _target = target;
        _options = options;
        _connector = connector;
        _backoff = backoff;
        _cancellationToken = cancellationToken;
        _lastSeq = options.Since;
        // An epoch names the run of a since; without one it names nothing this watch could resume in.
        _epoch = options.Since > 0 ? options.Epoch : null;
    }

    /// <summary>
    /// Raised when <see cref="State"/> changes, on whichever thread the watch runs on then: the watch does
    /// not capture a synchronization context, so a UI handler marshals to its own thread.
    /// </summary>
    public event EventHandler<WatchState>? StateChanged;

    /// <summary>Gets where the watch's connection stands.</summary>
    public WatchState State => (WatchState)Volatile.Read(ref _state);

    /// <summary>
    /// Gets the <c>seq</c> of the last event yielded (or <see cref="WatchOptions.Since"/> before any): with
    /// <see cref="Epoch"/>, where a later watch resumes.
    /// </summary>
    public long LastSeq => Volatile.Read(ref _lastSeq);

    /// <summary>
    /// Gets why the last attempt to connect failed (the connection's exception, or the token factory's),
    /// while the watch is <see cref="WatchState.Reconnecting"/> because of it; <see langword="null"/> once
    /// connected, and when the server ended a connection (its close status is not an error of the watch).
    /// </summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Gets the epoch <see cref="LastSeq"/> belongs to, once the server has named it; or <see langword="null"/>.</summary>
    public string? Epoch => Volatile.Read(ref _epoch);

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The watch was enumerated before.</exception>
    public IAsyncEnumerator<UploadistaEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
        {
            throw new InvalidOperationException("A watch is enumerated once; watch again for another enumeration.");
        }

        return RunAsync(cancellationToken);
    }

    private async IAsyncEnumerator<UploadistaEvent> RunAsync(CancellationToken enumeratorToken)
    {
        // Linked only when both can cancel, so that an OperationCanceledException names the caller's token.
        using var linked = _cancellationToken.CanBeCanceled && enumeratorToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken, enumeratorToken)
            : null;
        var cancellationToken = linked?.Token ?? (enumeratorToken.CanBeCanceled ? enumeratorToken : _cancellationToken);
        var refusedBefore = false;
        SetState(WatchState.Connecting); // on the first MoveNextAsync: an enumerator disposed before it never started
        try
        {
            while (true)
            {
                var since = _lastSeq;
                var (connection, ended, refusal) = await TryConnectAsync(since, cancellationToken).ConfigureAwait(false);
                if (connection is not null)
                {
                    await using (connection.ConfigureAwait(false))
                    {
                        Volatile.Write(ref _lastError, null);
                        SetState(WatchState.Connected);
                        var connectedAt = Stopwatch.GetTimestamp();
                        var first = true;
                        while (true)
                        {
                            var frame = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                            if (frame.Kind == FrameKind.Closed)
                            {
                                ended = frame;
                                _backoff.Ended(Stopwatch.GetElapsedTime(connectedAt));
                                break;
                            }

                            if (frame.Kind == FrameKind.Pong && frame.Epoch is not null)
                            {
                                Volatile.Write(ref _epoch, frame.Epoch);
                            }

                            if (frame.Event is not { } e)
                            {
                                continue;
                            }

                            if (first)
                            {
                                first = false;
                                _backoff.Reset();
                                if (e.Seq <= since)
                                {
                                    // The server sends only events above since within a run: this is a new run.
                                    Volatile.Write(ref _epoch, null);
                                }

                                // The pong names the epoch of this connection's events, to resume exactly.
                                await connection.PingAsync(cancellationToken).ConfigureAwait(false);
                            }
                            else if (e.Seq <= _lastSeq)
                            {
                                continue; // never twice, whatever reaches the socket
                            }

                            Volatile.Write(ref _lastSeq, e.Seq);
                            yield return e;
                            if (_options.EndWhenFlowEnds && _target.IsEnd(e))
                            {
                                yield break;
                            }
                        }
                    }
                }

                // A token factory is asked again at once after one 4401, not after two in a row.
                var askAgain = ended.CloseStatus == 4401 && _options.TokenFactory is not null && !refusedBefore;
                refusedBefore = ended.CloseStatus == 4401;
                if (!askAgain && ended.CloseStatus is 4401 or 4403 or 1003 or 1007 or 1008 or 1009)
                {
                    throw refusal ?? new WatchRefusedException(ended.CloseStatus, ended.Reason);
                }

                SetState(WatchState.Reconnecting);
                if (ended.CloseStatus == 4010)
                {
                    // The channel started over beneath the connection: connect again without since.
                    Volatile.Write(ref _lastSeq, 0);
                    Volatile.Write(ref _epoch, null);
                }

                if (!askAgain)
                {
                    // 4010 too: a server that resets every connection at once is not a reason to spin.
                    await Task.Delay(_backoff.Next(), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            SetState(WatchState.Closed);
        }
    }

    /// <summary>Opens a connection; or says why not, as the close status the failure amounts to.</summary>
    private async Task<(WatchSocket? Connection, Frame Ended, WatchRefusedException? Refusal)> TryConnectAsync(long since, CancellationToken cancellationToken)
    {
        try
        {
            var epoch = since > 0 ? Volatile.Read(ref _epoch) : null;
            return (await _connector.ConnectAsync(since, epoch, cancellationToken).ConfigureAwait(false), default, null);
        }
        catch (WatchRefusedException refusal)
        {
            return (null, Frame.Closed(refusal.CloseStatus, refusal.Reason), refusal);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _lastError, e);
            return (null, Frame.Closed(Frame.Dropped, e.Message), null);
        }
    }

    private void SetState(WatchState state)
    {
        if (Interlocked.Exchange(ref _state, (int)state) != (int)state)
        {
            StateChanged?.Invoke(this, state);
        }
    }
}
