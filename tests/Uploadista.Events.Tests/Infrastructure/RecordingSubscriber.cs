using System.Text;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>A channel subscriber that records what it receives, for broadcaster tests.</summary>
public sealed class RecordingSubscriber : IChannelSubscriber
{
    private readonly Lock _gate = new();
    private readonly List<ChannelEvent> _events = [];

    /// <summary>Gets how many times the broadcaster said events may have been missed.</summary>
    public int MissedEvents { get; private set; }

    public IReadOnlyList<ChannelEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public void OnEvent(ChannelEvent channelEvent)
    {
        lock (_gate)
        {
            _events.Add(channelEvent);
        }
    }

    public void OnMissedEvents() => MissedEvents++;

    public async Task<IReadOnlyList<ChannelEvent>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        await Eventually.HoldsAsync(() => Events.Count >= count, $"{count} events were received (got {Events.Count})", timeout);
        return Events;
    }

    public static string Text(ChannelEvent channelEvent) => Encoding.UTF8.GetString(channelEvent.Frame.Span);
}
