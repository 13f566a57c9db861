using System.Diagnostics;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// The publishing side of the socket scenarios, the same for both systems: events go round-robin over
/// uploads 0 .. uploads-1 (the servers name them with <see cref="BenchIds"/>), each carrying the moment
/// it was published (Stopwatch ticks, comparable across processes on one machine) so that clients can
/// measure latency.
/// </summary>
internal static class BenchPublisher
{
    /// <summary>The most publishes in flight at once.</summary>
    private const int MaxInFlight = 256;

    /// <summary>
    /// How much longer than its <c>seconds</c> a paced run may publish. A system that cannot hold the
    /// rate stops there, short of its events, and shows a lower achieved rate, rather than stretching
    /// the run to as long as its backlog takes.
    /// </summary>
    private const double PacedDeadline = 1.2;

    /// <summary>Publishes <paramref name="count"/> events as fast as they go, or at <paramref name="rate"/> a second for <paramref name="seconds"/>.</summary>
    /// <returns>Events published per upload, and the time it took until the last publish completed.</returns>
    public static async Task<PublishResult> RunAsync(int uploads, long count, double rate, double seconds, Func<int, long, ValueTask> publish)
    {
        var perUpload = new long[uploads];
        using var inFlight = new SemaphoreSlim(MaxInFlight);
        var pending = new List<Task>();
        long published = 0;
        var started = Stopwatch.GetTimestamp();
        var total = rate > 0 ? (long)(rate * seconds) : count;
        var deadline = rate > 0 ? TimeSpan.FromSeconds(seconds * PacedDeadline) : TimeSpan.MaxValue;
        while (published < total && Stopwatch.GetElapsedTime(started) < deadline)
        {
            var due = rate > 0 ? Math.Min(total, (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * rate)) : total;
            if (due <= published)
            {
                await Task.Delay(1);
                continue;
            }

            for (; published < due && Stopwatch.GetElapsedTime(started) < deadline; published++)
            {
                var upload = (int)(published % uploads);
                perUpload[upload]++;
                await inFlight.WaitAsync();
                pending.Add(PublishOneAsync(upload, inFlight, publish));
            }

            pending.RemoveAll(task => task.IsCompleted);
        }

        await Task.WhenAll(pending);
        return new PublishResult(perUpload, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static async Task PublishOneAsync(int upload, SemaphoreSlim inFlight, Func<int, long, ValueTask> publish)
    {
        try
        {
            await publish(upload, Stopwatch.GetTimestamp());
        }
        finally
        {
            inFlight.Release();
        }
    }

    /// <summary>Collects garbage and reports this process's resident memory, for the idle-socket figure.</summary>
    public static long CollectAndMeasure()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
