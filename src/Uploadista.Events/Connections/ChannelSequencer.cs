using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// One channel's connections in this process and the order they see its events in. Whenever retained
/// events must be read (a connection joins, or the broadcaster says events may have been missed), the
/// connections concerned are held: live events wait in the channel's log while the read runs, then
/// each held connection gets the retained events that precede the log, then the log, and goes live.
/// A connection is released only when the last read it waits for is in, so a newer live event never
/// overtakes an older retained one. A connection that would hold more than its queue's capacity is
/// closed with 4008 (it resumes with <c>since</c>) rather than shown a gap.
/// </summary>
internal sealed class ChannelSequencer(string name, IEventBroadcaster broadcaster, int maxHeld, ILogger logger) : IChannelSubscriber
{
    // About a minute of retries (the last ones two seconds apart) before a restore is given up.
    private const int MaxRestoreAttempts = 35;

    private readonly Lock _gate = new();
    private readonly List<ChannelEvent> _log = [];
    private ChannelMember[] _members = [];
    private long _logBase;
    private int _holders;
    private bool _restoring;
    private bool _restoreAgain;
    private Task<IAsyncDisposable>? _subscription;

    public string Name => name;

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

    /// <summary>Adds a connection, held until its first catch-up (see <see cref="JoinAsync"/>).</summary>
    public async ValueTask<ChannelMember> JoinAsync(IEventEmitter emitter, CancellationToken cancellationToken)
    {
        var member = new ChannelMember(emitter);
        lock (_gate)
        {
            HoldLocked(member);
            _members = [.. _members, member];
        }

        try
        {
            var retained = await broadcaster.GetRetainedAsync(name, emitter.Since, cancellationToken);
            if (emitter.Since > 0 && !emitter.CanResume(retained))
            {
                retained = await broadcaster.GetRetainedAsync(name, 0, cancellationToken);
            }

            lock (_gate)
            {
                ReleaseLocked(member, retained);
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
            EndHoldLocked(member);
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
                if (member.HoldFrom < 0)
                {
                    member.Emitter.Emit(channelEvent);
                }
            }

            if (_holders > 0)
            {
                _log.Add(channelEvent);
                if (_log.Count > maxHeld)
                {
                    CloseOverflowingLocked();
                }
            }
        }
    }

    /// <summary>Events may not have been delivered live: every connection is held while the retained state is read.</summary>
    public void OnMissedEvents()
    {
        ChannelMember[] held;
        lock (_gate)
        {
            if (_restoring)
            {
                _restoreAgain = true;
                return;
            }

            _restoring = true;
            held = HoldAllLocked();
        }

        _ = RestoreAsync(held);
    }

    private async Task RestoreAsync(ChannelMember[] held)
    {
        while (true)
        {
            var retained = await ReadRetainedWithRetriesAsync();
            lock (_gate)
            {
                // A restore asked for meanwhile holds everyone again before this one releases, so that
                // nobody goes live between the two reads.
                var next = _restoreAgain ? HoldAllLocked() : null;
                _restoreAgain = false;
                foreach (var member in held)
                {
                    ReleaseLocked(member, retained);
                }

                if (next is null)
                {
                    _restoring = false;
                    return;
                }

                held = next;
            }
        }
    }

    /// <summary>
    /// The broker may still be coming back (its subscribing connection can return before the other),
    /// so reading is retried for a while, holding live events meanwhile.
    /// </summary>
    private async Task<RetainedEvents> ReadRetainedWithRetriesAsync()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await broadcaster.GetRetainedAsync(name, 0);
            }
            catch (Exception ex) when (attempt < MaxRestoreAttempts)
            {
                Log.CatchUpRetrying(logger, name, attempt, ex.Message);
            }
            catch (Exception ex)
            {
                Log.CatchUpFailed(logger, name, ex);
                return RetainedEvents.None;
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    private ChannelMember[] HoldAllLocked()
    {
        foreach (var member in _members)
        {
            HoldLocked(member);
        }

        return _members;
    }

    private void HoldLocked(ChannelMember member)
    {
        if (member.HoldFrom < 0)
        {
            member.HoldFrom = _logBase + _log.Count;
            _holders++;
        }

        member.Reads++;
    }

    /// <summary>One read that <paramref name="member"/> waited for is in; the last one releases it.</summary>
    private void ReleaseLocked(ChannelMember member, RetainedEvents retained)
    {
        if (member.HoldFrom < 0 || --member.Reads > 0)
        {
            return;
        }

        var held = CollectionsMarshal.AsSpan(_log)[(int)(member.HoldFrom - _logBase)..];
        member.Emitter.CatchUp(retained, held);
        EndHoldLocked(member);
    }

    private void EndHoldLocked(ChannelMember member)
    {
        if (member.HoldFrom < 0)
        {
            return;
        }

        member.HoldFrom = -1;
        member.Reads = 0;
        _holders--;
        TrimLogLocked();
    }

    /// <summary>Closes, with 4008, every held connection that would hold more than it can queue.</summary>
    private void CloseOverflowingLocked()
    {
        var end = _logBase + _log.Count;
        foreach (var member in _members)
        {
            if (member.HoldFrom >= 0 && end - member.HoldFrom > maxHeld)
            {
                member.Emitter.Close(CloseStatuses.SlowConsumer, "Too many events while catching up; reconnect with since");
                member.HoldFrom = -1;
                member.Reads = 0;
                _holders--;
            }
        }

        TrimLogLocked();
    }

    /// <summary>Drops the part of the log that no held connection needs.</summary>
    private void TrimLogLocked()
    {
        var end = _logBase + _log.Count;
        var needed = end;
        foreach (var member in _members)
        {
            if (member.HoldFrom >= 0)
            {
                needed = Math.Min(needed, member.HoldFrom);
            }
        }

        var unneeded = (int)(needed - _logBase);
        if (unneeded > 0 && (_holders == 0 || unneeded >= _log.Count / 2))
        {
            _log.RemoveRange(0, unneeded);
            _logBase = needed;
        }
    }
}
