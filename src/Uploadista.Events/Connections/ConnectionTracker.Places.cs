namespace Uploadista.Events;

/// <summary>The places a <see cref="ConnectionTracker"/> hands out: each given back once, when disposed.</summary>
internal sealed partial class ConnectionTracker
{
    private sealed class Refusal(ConnectionTracker tracker) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref tracker._refusing);
            }
        }
    }

    private sealed class ChannelPlace(ConnectionTracker tracker, string channel) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (tracker._gate)
                {
                    tracker.ReleasePlaceLocked(channel);
                }
            }
        }
    }

    /// <summary>A connection's place (on <paramref name="channel"/>, or a multiplexed socket's when null), held until disposed.</summary>
    public sealed class Admission(ConnectionTracker tracker, string? channel) : IDisposable
    {
        private OpenConnection? _connection;
        private int _disposed;

        /// <summary>Makes the accepted connection known, so that shutdown closes it.</summary>
        public void Attach(OpenConnection connection)
        {
            _connection = connection;
            tracker.Attach(connection);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                tracker.Release(channel, _connection);
            }
        }
    }
}
