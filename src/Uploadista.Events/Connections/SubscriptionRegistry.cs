using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// The local subscription registry: every connection on one channel in this process shares a single
/// broadcaster subscription and one <see cref="ChannelSequencer"/>, taken when the first connection
/// joins and released when the last leaves.
/// </summary>
internal sealed class SubscriptionRegistry(
    IEventBroadcaster broadcaster, IOptions<UploadistaEventsOptions> options, ILogger<SubscriptionRegistry> logger, UploadistaMetrics? metrics = null)
{
    private readonly Dictionary<string, ChannelSequencer> _channels = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly int _maxHeld = options.Value.SendQueueCapacity;

    /// <summary>The number of channels with at least one local connection.</summary>
    public int ChannelCount
    {
        get
        {
            lock (_gate)
            {
                return _channels.Count;
            }
        }
    }

    /// <summary>The number of connections joined or joining, on every channel; for tests.</summary>
    internal int MemberCount
    {
        get
        {
            lock (_gate)
            {
                return _channels.Values.Sum(c => c.Members);
            }
        }
    }

    /// <summary>
    /// Joins <paramref name="emitter"/> to <paramref name="channelName"/>: subscribes (if it is the first
    /// local connection), then hands the emitter the retained events after its <c>since</c> followed by
    /// live ones, with no gap and no duplicate at the seam.
    /// </summary>
    /// <returns>A handle that removes the emitter when disposed.</returns>
    public async ValueTask<IAsyncDisposable> JoinAsync(string channelName, IEventEmitter emitter, CancellationToken cancellationToken)
    {
        ChannelSequencer channel;
        lock (_gate)
        {
            if (!_channels.TryGetValue(channelName, out channel!))
            {
                channel = new ChannelSequencer(channelName, broadcaster, _maxHeld, logger, metrics);
                _channels.Add(channelName, channel);
            }

            channel.Members++;
        }

        ChannelMember? member = null;
        try
        {
            await channel.EnsureSubscribedAsync().WaitAsync(cancellationToken);

            // Live events are held in the channel's log from before the retained state is read, so
            // nothing published in between is missed; the connection drops what it sees twice.
            member = await channel.JoinAsync(emitter, cancellationToken);
            return new Membership(this, channel, member);
        }
        catch
        {
            await LeaveAsync(channel, member);
            throw;
        }
    }

    private async ValueTask LeaveAsync(ChannelSequencer channel, ChannelMember? member)
    {
        if (member is not null)
        {
            channel.Leave(member);
        }

        lock (_gate)
        {
            if (--channel.Members > 0)
            {
                return;
            }

            _channels.Remove(channel.Name);
        }

        try
        {
            await channel.UnsubscribeAsync();
        }
        catch (Exception ex)
        {
            Log.UnsubscribeFailed(logger, channel.Name, ex);
        }
    }

    private sealed class Membership(SubscriptionRegistry registry, ChannelSequencer channel, ChannelMember member) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
            => Interlocked.Exchange(ref _disposed, 1) == 0 ? registry.LeaveAsync(channel, member) : ValueTask.CompletedTask;
    }
}
