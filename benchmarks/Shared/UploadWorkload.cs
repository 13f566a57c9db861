using System.Diagnostics;
using System.Globalization;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// Where the uploads workload sends its events: Uploadista.Events' publisher, or SignalR groups. Each
/// method publishes one event of that type with exactly these fields; the system stamps the time.
/// </summary>
internal interface IUploadEventTarget
{
    ValueTask UploadStartedAsync(string uploadId, string filename, long size);

    ValueTask UploadProgressAsync(string uploadId, double progress, long bytesUploaded, long totalBytes);

    ValueTask UploadCompleteAsync(string uploadId, string url);

    ValueTask FlowStartedAsync(string jobId, string uploadId, string flowName);

    ValueTask FlowProgressAsync(string jobId, string uploadId, string nodeId, string nodeName, double progress);

    ValueTask FlowCompleteAsync(string jobId, string uploadId, IReadOnlyDictionary<string, string> outputs);
}

/// <summary>How the uploads workload is sized.</summary>
/// <param name="Run">The run id that makes the upload and job ids unique (<see cref="BenchIds"/>).</param>
/// <param name="Uploads">How many uploads, numbered 0 .. Uploads - 1.</param>
/// <param name="Seconds">Uploads start evenly over this span, so about Uploads × UploadSeconds / Seconds run at once.</param>
/// <param name="UploadSeconds">How long each upload sends progress.</param>
internal sealed record UploadWorkloadPlan(string Run, int Uploads, double Seconds, double UploadSeconds);

/// <summary>
/// The realistic workload, the same for both systems: uploads that start and end all the time. Each
/// upload publishes, in order: upload_started; upload_progress every 20 to 50 ms for its duration
/// (more often than the 100 ms throttle lets through, as a real upload loop does), then a final one at
/// 1.0; upload_complete; then a short processing flow whose events carry the upload id, so that they
/// reach the upload's sockets: flow_started, two or three flow_progress (one per node, each node done
/// at once, so that the flow events are never throttled) and flow_complete, 20 ms apart.
/// </summary>
internal static class UploadWorkload
{
    private static readonly TimeSpan FlowStep = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs every upload to its end and reports how many events were handed to <paramref name="target"/>.</summary>
    public static async Task<(long Calls, int Finished, double Seconds)> RunAsync(UploadWorkloadPlan plan, IUploadEventTarget target)
    {
        var started = Stopwatch.GetTimestamp();
        var calls = await Task.WhenAll(Enumerable.Range(0, plan.Uploads).Select(upload => RunUploadAsync(plan, upload, started, target)));
        return (calls.Sum(), calls.Length, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static async Task<long> RunUploadAsync(UploadWorkloadPlan plan, int upload, long workloadStarted, IUploadEventTarget target)
    {
        // Seeded by the upload number: both systems get exactly the same sizes, cadence and flows.
#pragma warning disable CA5394 // Not security: a reproducible schedule.
        var random = new Random(upload);
        var size = random.NextInt64(1 << 20, 100 << 20);
        var nodes = random.Next(2, 4);
        TimeSpan NextProgress() => TimeSpan.FromMilliseconds(random.Next(20, 51));
#pragma warning restore CA5394

        var startAt = TimeSpan.FromSeconds(plan.Seconds * upload / plan.Uploads);
        var wait = startAt - Stopwatch.GetElapsedTime(workloadStarted);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var uploadId = BenchIds.Upload(plan.Run, upload);
        var jobId = BenchIds.Job(plan.Run, upload);
        long calls = 0;

        await target.UploadStartedAsync(uploadId, string.Create(CultureInfo.InvariantCulture, $"file-{upload}.bin"), size);
        calls++;
        var uploadStarted = Stopwatch.GetTimestamp();
        while (true)
        {
            await Task.Delay(NextProgress());
            var fraction = Stopwatch.GetElapsedTime(uploadStarted).TotalSeconds / plan.UploadSeconds;
            if (fraction >= 1)
            {
                break;
            }

            await target.UploadProgressAsync(uploadId, fraction, (long)(size * fraction), size);
            calls++;
        }

        var url = string.Create(CultureInfo.InvariantCulture, $"https://files.example/{uploadId}");
        await target.UploadProgressAsync(uploadId, 1.0, size, size);
        await target.UploadCompleteAsync(uploadId, url);
        await target.FlowStartedAsync(jobId, uploadId, "thumbnail");
        calls += 3;
        for (var node = 1; node <= nodes; node++)
        {
            await Task.Delay(FlowStep);
            var nodeId = string.Create(CultureInfo.InvariantCulture, $"n{node}");
            await target.FlowProgressAsync(jobId, uploadId, nodeId, string.Create(CultureInfo.InvariantCulture, $"step {node}"), 1.0);
            calls++;
        }

        await Task.Delay(FlowStep);
        await target.FlowCompleteAsync(jobId, uploadId, new Dictionary<string, string>(StringComparer.Ordinal) { ["thumbnail"] = url + "/thumbnail.png" });
        return calls + 1;
    }
}
