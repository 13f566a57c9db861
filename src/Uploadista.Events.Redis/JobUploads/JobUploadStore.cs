using System.Buffers;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Which upload each job belongs to, kept in Redis so that every instance follows it: one string key
/// per job in the job's hash slot (<see cref="RedisKeys.JobUpload"/>, <see cref="JobUploadScript"/>),
/// expiring with the job's state. A local cache (<see cref="JobUploadCache"/>) answers nearly every
/// lookup, so that a flow event costs no round trip in the usual case.
/// </summary>
/// <remarks>
/// Per job and instance: the first event that names the upload writes the key, and its publisher waits
/// for that before the event is published (so no event is routed by an association not yet written);
/// the first event that does not name it reads the key, once, however many publish at the same moment.
/// Later events are answered from the cache, and while they come the key's expiry is refreshed, in the
/// background, every hundredth of the retention period. When Redis cannot be reached, nothing is
/// waited for: an event that names its upload still goes there, one that does not goes to the job only.
/// </remarks>
internal sealed class JobUploadStore(RedisConnection connection, RedisKeys keys, TimeSpan retention, ILogger logger)
{
    private static readonly SearchValues<char> IdCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-");

    private static readonly RedisValue Write = "1";
    private static readonly RedisValue Read = "0";

    private readonly JobUploadCache _cache = new(retention, capacity: 100_000, TimeProvider.System);
    private readonly LuaScript _script = JobUploadScript.Create(retention);
    private readonly Dictionary<string, Task<string?>> _reading = new(StringComparer.Ordinal);
    private long _failures;
    private long _lastFailureLog = long.MinValue;

    /// <summary>An event of the job named <paramref name="uploadId"/>: the association is written unless this instance knows it already.</summary>
    public ValueTask SetAsync(string jobId, string uploadId)
    {
        if (_cache.TryGet(jobId, out var known, out var refreshAt) && string.Equals(known, uploadId, StringComparison.Ordinal))
        {
            if (refreshAt != 0)
            {
                _ = RefreshAsync(jobId, uploadId, refreshAt);
            }

            return ValueTask.CompletedTask;
        }

        return new ValueTask(WriteAsync(jobId, uploadId));
    }

    /// <summary>An event of the job does not name its upload: the one this instance knows, or else the one in Redis.</summary>
    public ValueTask<string?> GetAsync(string jobId)
    {
        if (_cache.TryGet(jobId, out var known, out var refreshAt))
        {
            if (refreshAt != 0)
            {
                _ = RefreshAsync(jobId, known!, refreshAt);
            }

            return ValueTask.FromResult(known);
        }

        // One read per job however many events ask at once.
        TaskCompletionSource<string?>? mine = null;
        Task<string?>? reading;
        lock (_reading)
        {
            if (!_reading.TryGetValue(jobId, out reading))
            {
                mine = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
                reading = mine.Task;
                _reading.Add(jobId, reading);
            }
        }

        if (mine is not null)
        {
            _ = ReadAsync(jobId, mine);
        }

        return new ValueTask<string?>(reading);
    }

    private async Task WriteAsync(string jobId, string uploadId)
    {
        var sentAt = TimeProvider.System.GetTimestamp();
        if (await RunAsync(jobId, uploadId, Write) is (true, _))
        {
            _cache.Confirmed(jobId, uploadId, sentAt);
        }
        else
        {
            _cache.Unwritten(jobId, uploadId);
        }
    }

    private async Task ReadAsync(string jobId, TaskCompletionSource<string?> reading)
    {
        string? uploadId = null;
        try
        {
            var sentAt = TimeProvider.System.GetTimestamp();
            var (done, found) = await RunAsync(jobId, string.Empty, Read);
            if (done)
            {
                // Remembered, "none" included; if Redis could not answer, nothing is, and the next event asks again.
                _cache.Confirmed(jobId, found, sentAt);
                uploadId = found;
            }
        }
        finally
        {
            lock (_reading)
            {
                _reading.Remove(jobId);
            }

            reading.TrySetResult(uploadId);
        }
    }

    /// <summary>Keeps the key alive while the job's events come, and puts it back if Redis lost it.</summary>
    private async Task RefreshAsync(string jobId, string uploadId, long claimedAt)
    {
        if (await RunAsync(jobId, uploadId, Read) is (true, var current))
        {
            _cache.Confirmed(jobId, current, claimedAt);
        }
    }

    /// <summary>Runs the script on the job's key; never throws.</summary>
    /// <returns>Whether Redis answered, and the job's upload it answered (null: none).</returns>
    private async Task<(bool Done, string? UploadId)> RunAsync(string jobId, string uploadId, RedisValue mode)
    {
        var key = keys.JobUpload(jobId);
        if (!connection.IsReachable(key))
        {
            return (false, null); // the outage is logged by the connection and the outbox already
        }

        try
        {
            var reply = await connection.EvaluateAsync(_script, [key], [uploadId, mode]);
            var found = reply.IsNull ? null : (string?)reply;
            if (found is not null && !IsUploadId(found))
            {
                RedisLog.InvalidJobUpload(logger, jobId);
                return (true, null);
            }

            return (true, found);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            var failures = Interlocked.Increment(ref _failures);
            var now = TimeProvider.System.GetTimestamp();
            var last = Interlocked.Read(ref _lastFailureLog);
            if ((last == long.MinValue || TimeProvider.System.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1))
                && Interlocked.CompareExchange(ref _lastFailureLog, now, last) == last)
            {
                RedisLog.JobUploadFailed(logger, jobId, failures, ex);
            }

            return (false, null);
        }
    }

    private static bool IsUploadId(string id) => id.Length is > 0 and <= 128 && !id.AsSpan().ContainsAnyExcept(IdCharacters);
}
