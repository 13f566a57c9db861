using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// A connection's subscription to one channel: the client's <c>since</c> and the channel's epoch and
/// last seq as this connection knows them. It filters what the sequencer hands it (nothing twice,
/// nothing of another run) into the connection's <see cref="SendQueue"/>; it keeps no lock of its own,
/// since the channel's sequencer calls it under its lock. (A connection that carried several channels
/// would have one of these for each, all feeding one queue: given a <see cref="ChannelTag"/>, it queues
/// the events as multiplexed sockets receive them, answers the subscribe before its first event, and
/// ends itself with a frame, not the socket's close, when its channel starts over.)
/// </summary>
internal sealed class ConnectionSubscription(SendQueue queue, long since, string? sinceEpoch, ChannelTag? tag = null) : IEventEmitter
{
    private bool _started;
    private bool _ended;
    private bool _collecting; // a catch-up is gathering what is owed: a reset met meanwhile is sent after it
    private long _lastSeq;
    private volatile string? _epoch;

    public long Since => since;

    /// <summary>Gets the channel's epoch as this connection knows it (for the pong), or null while it has none.</summary>
    public string? Epoch => _epoch;

    public bool CanResume(RetainedEvents retained)
        => since <= retained.LastSeq && (sinceEpoch is null || sinceEpoch == retained.Epoch);

    public void Emit(ChannelEvent channelEvent)
    {
        if (Accept(channelEvent))
        {
            queue.Add(tag is null ? channelEvent : channelEvent.ForChannel(tag.Channel));
        }
    }

    public void CatchUp(RetainedEvents retained, ReadOnlySpan<ChannelEvent> held)
    {
        var joining = !_started;
        if (_ended || (joining && !Start(retained, held)))
        {
            return;
        }

        // Both are in seq order: merged by seq, so a retained event that a lost message left out of the
        // held ones still comes in its place. Of another epoch, the retained ones come first and the
        // epoch rule decides.
        var owed = new List<ChannelEvent>(retained.Events.Count + held.Length);
        var sameRun = held.Length == 0 || retained.Epoch is null || retained.Epoch == held[0].Epoch;
        var r = 0;
        if (joining && tag is not null)
        {
            // The answer to the subscribe goes before the subscription's first event.
            owed.Add(tag.Subscribed(_epoch, _lastSeq));
        }

        _collecting = true;
        foreach (var live in held)
        {
            while (r < retained.Events.Count && (!sameRun || retained.Events[r].Seq < live.Seq))
            {
                Owe(owed, retained.Events[r++]);
            }

            Owe(owed, live);
        }

        while (r < retained.Events.Count)
        {
            Owe(owed, retained.Events[r++]);
        }

        _collecting = false;
        queue.AddCatchUp(owed);
        if (_ended && tag is not null)
        {
            // The channel started over among the owed events: the end follows what went before it.
            End(tag);
        }
    }

    public void Close(WebSocketCloseStatus status, string description) => queue.RequestClose(status, description);

    /// <summary>
    /// The first catch-up (the join) decides where the connection starts. A <c>since</c> of another run
    /// (the client said so, or it is beyond the channel's last seq) counts as 0.
    /// </summary>
    /// <returns>Whether the connection can start; if not, it is closed with 4010.</returns>
    private bool Start(RetainedEvents retained, ReadOnlySpan<ChannelEvent> held)
    {
        _started = true;
        if (held.Length > 0 && retained.Epoch is not null && retained.Epoch != held[0].Epoch)
        {
            // The channel started over during the join, and which run is newer cannot be told.
            Reset();
            return false;
        }

        _epoch = held.Length > 0 ? held[0].Epoch : retained.Epoch;
        var top = Math.Max(retained.LastSeq, held.Length > 0 ? held[^1].Seq : 0);
        _lastSeq = since <= top && (sinceEpoch is null || sinceEpoch == _epoch) ? since : 0;
        return true;
    }

    private void Owe(List<ChannelEvent> owed, ChannelEvent channelEvent)
    {
        if (Accept(channelEvent))
        {
            owed.Add(tag is null ? channelEvent : channelEvent.ForChannel(tag.Channel));
        }
    }

    /// <summary>
    /// The channel started over beneath the connection: a socket of its own is closed with 4010; a
    /// multiplexed subscription is ended with a frame, and the socket's other subscriptions go on.
    /// </summary>
    private void Reset()
    {
        if (tag is null)
        {
            queue.RequestClose(CloseStatuses.StateReset, "The channel started over; reconnect without since");
            return;
        }

        _ended = true;
        if (!_collecting)
        {
            End(tag);
        }
    }

    private void End(ChannelTag channelTag)
    {
        queue.AddCatchUp([channelTag.Reset("The channel started over; reconnect without since")]);
        channelTag.End();
    }

    /// <summary>Whether the connection has yet to be sent <paramref name="channelEvent"/>; if so, it is the new last seq.</summary>
    private bool Accept(ChannelEvent channelEvent)
    {
        if (_ended)
        {
            return false;
        }

        if (_epoch is not null && channelEvent.Epoch != _epoch)
        {
            if (_lastSeq > 0)
            {
                Reset();
                return false;
            }

            _lastSeq = 0;
        }

        _epoch = channelEvent.Epoch;
        if (channelEvent.Seq <= _lastSeq)
        {
            return false;
        }

        _lastSeq = channelEvent.Seq;
        return true;
    }
}
