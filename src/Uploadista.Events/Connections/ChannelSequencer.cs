using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// One channel's connections in this process and the order they see its events in. Whenever retained
/// events must be read (a connection joins, or the broadcaster says events may have been missed), the
/// connections concerned are held: live events wait in the channel's <see cref="HoldLog"/> while the
/// read runs, then each held connection gets the retained events merged by seq with what it was held
/// from, and goes live. A connection is released only when the last read it waits for is in, with
/// the newest read's result, so a newer live event never overtakes an older retained one. A
/// connection that cannot be kept in order (it would hold too much, or the retained state cannot be
/// read for a minute) is closed, and resumes with <c>since</c>, rather than shown a gap.
/// </summary>
internal sealed class ChannelSequencer(string name, IEventBroadcaster broadcaster, int maxHeld, ILogger logger, UploadistaMetrics? metrics = null)
    : IChannelSubscriber
{
    private readonly Lock _gate = new();
    private readonly HoldLog _log = new(maxHeld, metrics);
    private readonly RetainedReader _reader = new(name, broadcaster, logger, metrics);
    private ChannelMember[] _members = [];
    private long _reads;
    private bool _restoring;
    private bool _restoreAgain;
    private Task<IAsyncDisposable>? _subscription;

    public string Name => name;

    /// <summary>Gets whether a restore is under way; for tests.</summary>
    internal bool IsRestoring
    {
        get
        {
            lock (_gate)
            {
                return _restoring;
            }
        }
    }

    /// <summary>Joined connections, counted under the registry's lock.</summary>
    public int Members { get; set; }

    /// <summary>The first caller subscribes; the others wait for the same subscription. A failed attempt is retried by the next caller.</summary>
    public Task<IAsyncDisposable> EnsureSubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscription is null || _subscription.IsFaulted || _subscription.IsCanceled)
            {
                _subscription = broadcaster.SubscribeAsync(name, this).AsTask();
            }

            return _subscription;
        }
    }

    public async ValueTask UnsubscribeAsync()
    {
        Task<IAsyncDisposable>? subscription;
        lock (_gate)
        {
            subscription = _subscription;
            _subscription = null;
        }

        if (subscription is null)
        {
            return;
        }

        IAsyncDisposable handle;
        try
        {
            handle = await subscription;
        }
        catch
        {
            return; // The subscription never started, so there is nothing to release.
        }

        await handle.DisposeAsync();
    }

    /// <summary>Adds a connection, held until its first catch-up is in.</summary>
    public async ValueTask<ChannelMember> JoinAsync(IEventEmitter emitter, CancellationToken cancellationToken)
    {
        var member = new ChannelMember(emitter);
        long read;
        lock (_gate)
        {
            _log.Hold(member, read = ++_reads);
            _members = [.. _members, member];
        }

        try
        {
            var retained = await _reader.ForJoinAsync(emitter.Since, cancellationToken);
            if (emitter.Since > 0 && !emitter.CanResume(retained))
            {
                retained = await _reader.ForJoinAsync(0, cancellationToken);
            }

            lock (_gate)
            {
                ReleaseLocked(member, retained, read);
            }

            return member;
        }
        catch
        {
            Leave(member);
            throw;
        }
    }

    public void Leave(ChannelMember member)
    {
        lock (_gate)
        {
            _members = Array.FindAll(_members, m => !ReferenceEquals(m, member));
            _log.End(member, _members);
        }
    }

    public void OnEvent(ChannelEvent channelEvent)
    {
        // Under the lock so that concurrent deliveries reach every connection in the same order.
        // Connections only queue.
        lock (_gate)
        {
            foreach (var member in _members)
            {
                if (member.HoldFrom < 0 && !member.Closed)
                {
                    member.Emitter.Emit(channelEvent);
                }
            }

            if (_log.IsHolding)
            {
                _log.Append(channelEvent, _members);
            }
        }
    }

    /// <summary>Events may not have been delivered live: every connection is held while the retained state is read.</summary>
    public void OnMissedEvents()
    {
        (ChannelMember[] Members, long Read) held;
        lock (_gate)
        {
            if (_restoring)
            {
                _restoreAgain = true;
                return;
            }

            if (_members.Length == 0)
            {
                return; // the next join reads the retained state anyway
            }

            _restoring = true;
            held = HoldAllLocked();
        }

        metrics?.CatchingUpChanged(1);
        _ = RestoreAsync(held);
    }

    private async Task RestoreAsync((ChannelMember[] Members, long Read) held)
    {
        using var activity = UploadistaActivities.StartCatchUp(name, held.Members.Length);
        try
        {
            while (true)
            {
                var retained = await _reader.ForRestoreAsync();
                activity?.SetTag("uploadista.catch_up.events", retained?.Events.Count);
                lock (_gate)
                {
                    // A restore asked for meanwhile holds everyone again before this one releases, so
                    // that nobody goes live between the two reads.
                    var next = _restoreAgain && retained is not null ? HoldAllLocked() : default;
                    _restoreAgain = false;
                    foreach (var member in held.Members)
                    {
                        if (retained is null)
                        {
                            CloseLocked(member, CloseStatuses.TryAgainLater, "Events may have been missed; reconnect with since");
                        }
                        else
                        {
                            ReleaseLocked(member, retained, held.Read);
                        }
                    }

                    if (next.Members is null)
                    {
                        _restoring = false;
                        metrics?.CatchingUpChanged(-1);
                        activity?.SetStatus(retained is null ? ActivityStatusCode.Error : ActivityStatusCode.Ok);
                        return;
                    }

                    held = next;
                }
            }
        }
        catch (Exception ex)
        {
            Log.CatchUpFailed(logger, name, ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            lock (_gate)
            {
                Array.ForEach(held.Members, m => CloseLocked(m, CloseStatuses.ServerError, "Catching up failed; reconnect with since"));
                _restoring = false;
            }

            metrics?.CatchingUpChanged(-1);
        }
    }

    private (ChannelMember[] Members, long Read) HoldAllLocked()
    {
        var read = ++_reads;
        var members = Array.FindAll(_members, m => !m.Closed);
        foreach (var member in members)
        {
            _log.Hold(member, read);
        }

        return (members, read);
    }

    /// <summary>
    /// One read that <paramref name="member"/> waited for is in. The last one releases it, with the
    /// result of the newest read issued (it saw at least what the older ones saw), whichever finished last.
    /// </summary>
    private void ReleaseLocked(ChannelMember member, RetainedEvents retained, long read)
    {
        if (member.HoldFrom < 0)
        {
            return;
        }

        if (read == member.NewestRead)
        {
            member.Newest = retained;
        }

        if (--member.Reads > 0)
        {
            return;
        }

        member.Emitter.CatchUp(member.Newest ?? retained, _log.HeldBy(member));
        _log.End(member, _members);
    }

    private void CloseLocked(ChannelMember member, System.Net.WebSockets.WebSocketCloseStatus status, string reason)
    {
        if (member.HoldFrom < 0 || member.Closed)
        {
            return;
        }

        member.Emitter.Close(status, reason);
        member.Closed = true;
        _log.End(member, _members);
    }
}
