using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Counts this instance's connections, in total and per channel, to keep them within the configured
/// limits, and knows every open one so that shutdown can close them all with 1001.
/// </summary>
internal sealed partial class ConnectionTracker(IOptions<UploadistaEventsOptions> options)
{
    private readonly int _maxConnections = options.Value.MaxConnections;
    private readonly int _maxPerChannel = options.Value.MaxConnectionsPerChannel;

    // Refused sockets are upgraded (a browser reads a close status, not an HTTP status) and held for at
    // most a second; this many at once, beyond which a refusal is an HTTP status instead.
    private readonly int _maxRefusing = Math.Clamp(options.Value.MaxConnections / 10, 10, 1000);
    private int _refusing;
    private int _mostRefusing;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perChannel = new(StringComparer.Ordinal);
    private readonly HashSet<OpenConnection> _open = [];
    private int _count;
    private int _uploads; // of _count, those on upload channels
    private int _multiplexed; // of _count, multiplexed sockets; the others are on flow channels
    private TaskCompletionSource? _empty;
    private bool _stopping;

    /// <summary>Gets whether the server is shutting down; new connections are refused.</summary>
    public bool IsStopping
    {
        get
        {
            lock (_gate)
            {
                return _stopping;
            }
        }
    }

    /// <summary>Gets the number of admitted connections.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Gets the number of admitted connections by kind, for the <c>uploadista.connection.active</c> instrument.</summary>
    public Measurement<int>[] CountByKind()
    {
        int uploads, flows, multiplexed;
        lock (_gate)
        {
            (uploads, flows, multiplexed) = (_uploads, _count - _uploads - _multiplexed, _multiplexed);
        }

        return
        [
            new(uploads, new KeyValuePair<string, object?>(Tags.ChannelKind, Tags.Upload)),
            new(flows, new KeyValuePair<string, object?>(Tags.ChannelKind, Tags.Flow)),
            new(multiplexed, new KeyValuePair<string, object?>(Tags.ChannelKind, Tags.Multiplexed)),
        ];
    }

    /// <summary>Gets the open connections; for tests.</summary>
    internal OpenConnection[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _open];
        }
    }

    /// <summary>
    /// Takes a place for a connection on <paramref name="channel"/>, or returns <see langword="null"/> when
    /// this instance already holds as many as the limits allow.
    /// </summary>
    public Admission? TryAdmit(string channel)
    {
        lock (_gate)
        {
            var onChannel = _perChannel.GetValueOrDefault(channel);
            if (_count >= _maxConnections || onChannel >= _maxPerChannel)
            {
                return null;
            }

            _count++;
            _uploads += IsUpload(channel) ? 1 : 0;
            _perChannel[channel] = onChannel + 1;
            return new Admission(this, channel);
        }
    }

    /// <summary>
    /// Takes a place for a multiplexed socket (it counts against <see cref="UploadistaEventsOptions.MaxConnections"/>;
    /// its subscriptions count on their channels, <see cref="TryAdmitSubscription"/>), or returns
    /// <see langword="null"/> when this instance is full.
    /// </summary>
    public Admission? TryAdmitMultiplexed()
    {
        lock (_gate)
        {
            if (_count >= _maxConnections)
            {
                return null;
            }

            _count++;
            _multiplexed++;
            return new Admission(this, null);
        }
    }

    /// <summary>
    /// Takes a place on <paramref name="channel"/> for a multiplexed socket's subscription: it counts
    /// against <see cref="UploadistaEventsOptions.MaxConnectionsPerChannel"/> as a socket of its own would.
    /// </summary>
    public IDisposable? TryAdmitSubscription(string channel)
    {
        lock (_gate)
        {
            var onChannel = _perChannel.GetValueOrDefault(channel);
            if (onChannel >= _maxPerChannel)
            {
                return null;
            }

            _perChannel[channel] = onChannel + 1;
            return new ChannelPlace(this, channel);
        }
    }

    /// <summary>Gets the number of refused sockets being closed.</summary>
    public int RefusingCount => Volatile.Read(ref _refusing);

    /// <summary>Gets the most refused sockets ever closed at once; for tests.</summary>
    internal int MostRefusing => Volatile.Read(ref _mostRefusing);

    /// <summary>
    /// Takes a place for a refused socket while its close is sent, or returns <see langword="null"/> when
    /// too many are being refused at once.
    /// </summary>
    public IDisposable? TryBeginRefusal()
    {
        while (true)
        {
            var refusing = Volatile.Read(ref _refusing);
            if (refusing >= _maxRefusing)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _refusing, refusing + 1, refusing) == refusing)
            {
                InterlockedMax(ref _mostRefusing, refusing + 1);
                return new Refusal(this);
            }
        }
    }

    /// <summary>Refuses new connections and asks every open one to close with 1001.</summary>
    /// <returns>The number of connections asked to close.</returns>
    public int CloseAll()
    {
        OpenConnection[] open;
        lock (_gate)
        {
            _stopping = true;
            open = [.. _open];
        }

        foreach (var connection in open)
        {
            connection.Queue.RequestClose(CloseStatuses.ShuttingDown, "Server shutting down");
        }

        return open.Length;
    }

    /// <summary>Completes when no connection is left.</summary>
    public Task WaitUntilEmptyAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return Task.CompletedTask;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task.WaitAsync(cancellationToken);
        }
    }

    private void Attach(OpenConnection connection)
    {
        bool stopping;
        lock (_gate)
        {
            _open.Add(connection);
            stopping = _stopping;
        }

        if (stopping)
        {
            connection.Queue.RequestClose(CloseStatuses.ShuttingDown, "Server shutting down");
        }
    }

    private void Release(string? channel, OpenConnection? connection)
    {
        TaskCompletionSource? empty = null;
        lock (_gate)
        {
            if (connection is not null)
            {
                _open.Remove(connection);
            }

            if (channel is null)
            {
                _multiplexed--;
            }
            else
            {
                ReleasePlaceLocked(channel);
                _uploads -= IsUpload(channel) ? 1 : 0;
            }

            if (--_count == 0)
            {
                empty = _empty;
                _empty = null;
            }
        }

        empty?.TrySetResult();
    }

    private void ReleasePlaceLocked(string channel)
    {
        if (--_perChannel[channel] == 0)
        {
            _perChannel.Remove(channel);
        }
    }

    private static bool IsUpload(string channel) => channel.StartsWith(Channels.UploadPrefix, StringComparison.Ordinal);

    private static void InterlockedMax(ref int location, int value)
    {
        for (var current = Volatile.Read(ref location); current < value; current = Volatile.Read(ref location))
        {
            if (Interlocked.CompareExchange(ref location, value, current) == current)
            {
                return;
            }
        }
    }
}
