using System.Runtime.InteropServices;

namespace Uploadista.Events;

/// <summary>
/// The live events of one channel that arrived while some of its connections were held, kept once for
/// all of them: each held connection knows where its hold began. Superseded progress is dropped from
/// it as a connection's queue would drop it; a connection that would still hold more than
/// <c>maxHeld</c> events is closed with 4008 (it resumes with <c>since</c>) rather than shown a gap.
/// Used under the channel sequencer's lock only.
/// </summary>
internal sealed class HoldLog(int maxHeld, UploadistaMetrics? metrics = null)
{
    private readonly List<ChannelEvent> _events = [];
    private long _base;
    private int _holders;

    public bool IsHolding => _holders > 0;

    /// <summary>Starts holding <paramref name="member"/> (if it is not held already) for one more read, numbered <paramref name="read"/>.</summary>
    public void Hold(ChannelMember member, long read)
    {
        if (member.HoldFrom < 0)
        {
            member.HoldFrom = _base + _events.Count;
            _holders++;
        }

        member.Reads++;
        member.NewestRead = read;
    }

    /// <summary>What <paramref name="member"/> has been held from.</summary>
    public ReadOnlySpan<ChannelEvent> HeldBy(ChannelMember member)
        => CollectionsMarshal.AsSpan(_events)[(int)(member.HoldFrom - _base)..];

    /// <summary>Ends the hold of <paramref name="member"/> and forgets what no held member needs.</summary>
    public void End(ChannelMember member, ChannelMember[] members)
    {
        if (member.HoldFrom < 0)
        {
            return;
        }

        member.HoldFrom = -1;
        member.Reads = 0;
        member.Newest = null;
        _holders--;
        Trim(members);
    }

    /// <summary>Keeps <paramref name="channelEvent"/> for the held members.</summary>
    public void Append(ChannelEvent channelEvent, ChannelMember[] members)
    {
        _events.Add(channelEvent);
        if (_events.Count <= maxHeld)
        {
            return;
        }

        DropSuperseded(members);
        foreach (var member in members)
        {
            if (member.HoldFrom >= 0 && _base + _events.Count - member.HoldFrom > maxHeld)
            {
                member.Emitter.Close(CloseStatuses.SlowConsumer, "Too many events while catching up; reconnect with since");
                member.Closed = true;
                End(member, members);
            }
        }
    }

    /// <summary>Drops superseded progress, moving each held member's start to match.</summary>
    private void DropSuperseded(ChannelMember[] members)
    {
        var positions = Enumerable.Range(0, _events.Count).ToList();
        var dropped = Conflation.RemoveSuperseded(positions, i => _events[i].ConflationKey);
        if (dropped == 0)
        {
            return;
        }

        metrics?.Superseded(Tags.Site.CatchUp, dropped);

        foreach (var member in members)
        {
            if (member.HoldFrom >= 0)
            {
                // Its new start: the first kept event at or after its old one.
                var from = (int)(member.HoldFrom - _base);
                var index = positions.BinarySearch(from);
                member.HoldFrom = _base + (index >= 0 ? index : ~index);
            }
        }

        var kept = positions.Select(i => _events[i]).ToList();
        _events.Clear();
        _events.AddRange(kept);
    }

    private void Trim(ChannelMember[] members)
    {
        var needed = _base + _events.Count;
        foreach (var member in members)
        {
            if (member.HoldFrom >= 0)
            {
                needed = Math.Min(needed, member.HoldFrom);
            }
        }

        var unneeded = (int)(needed - _base);
        if (unneeded > 0)
        {
            _events.RemoveRange(0, unneeded);
            _base = needed;
        }
    }
}
