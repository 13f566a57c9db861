namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// The real in-memory broadcaster, with retained reads that can be held at a gate and a way to tell
/// its subscribers that events may have been missed (what a broker outage does), so that a test
/// decides what happens while a catch-up is under way.
/// </summary>
internal sealed class GatedBroadcaster(IEventBroadcaster inner) : IEventBroadcaster
{
    private readonly List<IChannelSubscriber> _subscribers = [];
    private int _waiting;

    /// <summary>Gets or sets the gate retained reads wait at; null lets them through.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Gets the number of retained reads waiting at the gate now (a joining connection is held by then).</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
        => inner.PublishAsync(channel, publication, cancellationToken);

    public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        lock (_subscribers)
        {
            _subscribers.Add(subscriber);
        }

        return inner.SubscribeAsync(channel, subscriber, cancellationToken);
    }

    public async ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
    {
        if (Gate is { } gate)
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                await gate.Task;
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        return await inner.GetRetainedAsync(channel, afterSeq, cancellationToken);
    }

    /// <summary>Tells every subscriber so far that events may have been missed.</summary>
    public void MissEvents()
    {
        lock (_subscribers)
        {
            _subscribers.ForEach(s => s.OnMissedEvents());
        }
    }
}
