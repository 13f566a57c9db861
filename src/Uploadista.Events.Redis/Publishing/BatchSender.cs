using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Drains the <see cref="PublishQueue"/> into Redis: takes every ready channel's next batch and
/// publishes them with the publish script. On a single Redis one call carries many channels, and the
/// next call leaves only when it returns, so events that arrive meanwhile share it (group commit). On
/// a cluster a script may touch one slot only, so each channel has its own call; calls to every node
/// go out at once, pipelined by the multiplexer.
/// </summary>
/// <remarks>
/// A call that fails leaves its batches where they are, unchanged, to be sent again after a backoff:
/// their ids let Redis skip one it had applied. The publishers that were waiting are answered with 0
/// (the event waits for Redis), so that a broker outage never holds up the code that publishes.
/// </remarks>
internal sealed class BatchSender(
    RedisConnection connection,
    PublishQueue queue,
    SeqMemory memory,
    LuaScript script,
    RedisKeys keys,
    string publisherId,
    TimeSpan retention,
    ILogger logger) : IAsyncDisposable
{
    private readonly TimeSpan _expiryRefresh = PublishScript.ExpiryRefresh(retention);

    private const int MaxChannelsPerCall = 256;
    private const int MaxBytesPerCall = 1 << 20;

    private static readonly RedisValue ClassicPublish = "PUBLISH";
    private static readonly RedisValue ShardedPublish = "SPUBLISH";

    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private int _calls;
    private int _deferring;
    private long _deferred;

    public void Start()
    {
        connection.Restored += () =>
        {
            queue.RetryNow();
            Wake();
        };
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Tells the loop that something may be ready to send.</summary>
    public void Wake()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signaled.
            }
        }
    }

    /// <summary>Counts events whose publishers were told they wait for Redis; the first of an outage is logged.</summary>
    public void Deferred(string channel, int count, Exception? exception)
    {
        Interlocked.Add(ref _deferred, count);
        if (Interlocked.Exchange(ref _deferring, 1) == 0)
        {
            RedisLog.PublishDeferred(logger, channel, exception);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stopping.Dispose();
        _signal.Dispose();
    }

    private async Task RunAsync()
    {
        var batches = new List<ChannelBatch>();
        var nextDue = Timeout.InfiniteTimeSpan;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(nextDue, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            nextDue = Timeout.InfiniteTimeSpan;
            while (connection.IsCluster || Volatile.Read(ref _calls) == 0)
            {
                batches.Clear();
                var due = queue.TakeReady(batches, connection.IsCluster ? int.MaxValue : MaxChannelsPerCall, connection.IsCluster ? int.MaxValue : MaxBytesPerCall, IsReachable);
                if (due != TimeSpan.MaxValue)
                {
                    nextDue = due;
                }

                if (batches.Count == 0)
                {
                    break;
                }

                if (connection.IsCluster)
                {
                    foreach (var batch in batches)
                    {
                        _ = SendAsync([batch]);
                    }

                    break;
                }

                _ = SendAsync([.. batches]);
            }
        }
    }

    private bool IsReachable(string channel) => connection.IsReachable(keys.Meta(channel));

    private async Task SendAsync(ChannelBatch[] batches)
    {
        Interlocked.Increment(ref _calls);
        try
        {
            var result = (RedisResult[])(await connection.EvaluateAsync(script, Keys(batches), Values(batches)))!;
            for (var i = 0; i < batches.Length; i++)
            {
                Published(batches[i], (string)result[2 * i]!, (long)result[2 * i + 1]);
            }

            if (Volatile.Read(ref _deferring) == 1 && queue.IsEmpty && Interlocked.Exchange(ref _deferring, 0) == 1)
            {
                RedisLog.PendingPublished(logger, Interlocked.Exchange(ref _deferred, 0));
            }
        }
        catch (RedisServerException ex) when (IsPermanent(ex))
        {
            Refused(batches, ex);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            foreach (var batch in batches)
            {
                if (queue.Fail(batch, Backoff(batch.Failures)) is var answered and > 0)
                {
                    Deferred(batch.Channel, answered, ex);
                }
            }

            await connection.RefreshTopologyAsync();
        }
        finally
        {
            Interlocked.Decrement(ref _calls);
            Wake();
        }
    }

    private void Published(ChannelBatch batch, string epoch, long last)
    {
        memory.Record(batch.Channel, epoch, last);
        queue.Complete(batch);
        var first = last - batch.Events.Length + 1;
        for (var i = 0; i < batch.Events.Length; i++)
        {
            batch.Events[i].Completion?.TrySetResult(first + i);
        }
    }

    /// <summary>Redis refused the call for what it carries: alone, a batch is dropped; with others, each is tried alone.</summary>
    private void Refused(ChannelBatch[] batches, RedisServerException exception)
    {
        if (batches.Length > 1)
        {
            Array.ForEach(batches, queue.Isolate);
            return;
        }

        RedisLog.PublishRefused(logger, batches[0].Channel, batches[0].Events.Length, exception);
        foreach (var pending in batches[0].Events)
        {
            pending.Completion?.TrySetResult(0);
        }

        queue.Drop(batches[0]);
    }

    private RedisKey[] Keys(ChannelBatch[] batches) => [.. batches.Select(batch => keys.Meta(batch.Channel))];

    /// <summary>The script's arguments, in the order <see cref="PublishScript"/> reads them.</summary>
    private RedisValue[] Values(ChannelBatch[] batches)
    {
        var values = new List<RedisValue>(2 + batches.Sum(b => 10 + 2 * b.LatestProgress.Length))
        {
            connection.UseShardedPubSub() ? ShardedPublish : ClassicPublish,
            publisherId,
        };
        foreach (var batch in batches)
        {
            var (floorEpoch, floorSeq) = memory.Get(batch.Channel);
            values.Add(keys.Base(batch.Channel));
            values.Add(batch.Events.Length);
            values.Add(batch.Id.ToString("D16", CultureInfo.InvariantCulture));
            values.Add(memory.TakeExpiryRefresh(batch.Channel, _expiryRefresh) ? "1" : "0");
            values.Add(floorSeq);
            values.Add(floorEpoch ?? string.Empty);
            values.Add(batch.RegularCount);
            values.Add(batch.Regular);
            values.Add(batch.Progress);
            values.Add(batch.LatestProgress.Length);
            foreach (var (key, entry) in batch.LatestProgress)
            {
                values.Add(key);
                values.Add(entry);
            }
        }

        return [.. values];
    }

    private static TimeSpan Backoff(int failures)
        => TimeSpan.FromMilliseconds(Math.Min(2000, 100 * Math.Pow(2, Math.Min(failures, 5))));

    /// <summary>Errors about what the call carries, which a retry cannot mend (a script error, a key of another type).</summary>
    private static bool IsPermanent(RedisServerException exception)
        => exception.Message.StartsWith("ERR", StringComparison.Ordinal) || exception.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal);
}
