namespace Uploadista.Events.Client;

/// <summary>
/// The events of one upload or job, as an asynchronous sequence: enumerate it once, with
/// <c>await foreach</c>. It connects when enumerated, reconnects with backoff and jitter after a
/// failure, and resumes after the last <c>seq</c> it yielded, so that no retained event is missed and
/// none is yielded twice.
/// </summary>
/// <remarks>
/// The enumeration ends when it is cancelled (<see cref="OperationCanceledException"/>), when the server
/// refuses the watch (<see cref="WatchRefusedException"/>), when the consumer stops enumerating, or, with
/// <see cref="WatchOptions.EndWhenFlowEnds"/>, after the event that ends the work. A channel whose state
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
    private int _state;
    private long _lastSeq;
    private string? _epoch;

    internal EventWatch(WatchTarget target, WatchOptions options, WatchConnector connector, Backoff backoff, CancellationToken cancellationToken)
    {
        _target = target;
        _options = options;
        _connector = connector;
        _backoff = backoff;
        _cancellationToken = cancellationToken;
        _lastSeq = options.Since;
        _epoch = options.Epoch;
    }

    /// <summary>Raised on the enumerating thread when <see cref="State"/> changes.</summary>
    public event EventHandler<WatchState>? StateChanged;

    /// <summary>Gets where the watch's connection stands.</summary>
    public WatchState State => (WatchState)Volatile.Read(ref _state);

    /// <summary>
    /// Gets the <c>seq</c> of the last event yielded (or <see cref="WatchOptions.Since"/> before any): with
    /// <see cref="Epoch"/>, where a later watch resumes.
    /// </summary>
    public long LastSeq => Volatile.Read(ref _lastSeq);

    /// <summary>Gets the epoch <see cref="LastSeq"/> belongs to, once the server has named it; or <see langword="null"/>.</summary>
    public string? Epoch => Volatile.Read(ref _epoch);

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The watch was enumerated before.</exception>
    public IAsyncEnumerator<UploadistaEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, (int)WatchState.Connecting, (int)WatchState.NotStarted) != (int)WatchState.NotStarted)
        {
            throw new InvalidOperationException("A watch is enumerated once; watch again for another enumeration.");
        }

        StateChanged?.Invoke(this, WatchState.Connecting);
        return RunAsync(cancellationToken);
    }

    private async IAsyncEnumerator<UploadistaEvent> RunAsync(CancellationToken enumeratorToken)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken, enumeratorToken);
        var cancellationToken = cancellation.Token;
        var refusedOnce = false;
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
                        SetState(WatchState.Connected);
                        var first = true;
                        while (true)
                        {
                            var frame = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                            if (frame.Kind == FrameKind.Closed)
                            {
                                ended = frame;
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
                                refusedOnce = false;
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

                SetState(WatchState.Reconnecting);
                switch (ended.CloseStatus)
                {
                    case 4401 when _options.TokenFactory is not null && !refusedOnce:
                        refusedOnce = true; // the token may have expired: ask for a fresh one, at once
                        break;
                    case 4401 or 4403 or 1003 or 1007 or 1008 or 1009:
                        throw refusal ?? new WatchRefusedException(ended.CloseStatus, ended.Reason);
                    case 4010:
                        // The channel started over beneath the connection: connect again without since.
                        Volatile.Write(ref _lastSeq, 0);
                        Volatile.Write(ref _epoch, null);
                        break;
                    default:
                        await Task.Delay(_backoff.Next(), cancellationToken).ConfigureAwait(false);
                        break;
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
