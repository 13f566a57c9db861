namespace Uploadista.Events.LoadTest;

/// <summary>How a scenario publishes.</summary>
internal enum ScenarioKind
{
    /// <summary>Closed loop: batches of 10 events per upload, the next once the one before the last has arrived.</summary>
    FlatOut,

    /// <summary>A fixed rate of events for the run's duration.</summary>
    Paced,

    /// <summary>No events: memory per idle socket.</summary>
    Idle,

    /// <summary>The realistic workload of <see cref="UploadWorkload"/>, with the default progress throttle.</summary>
    Uploads,
}

/// <summary>
/// A load scenario: sockets over uploads on instance A, events published on instance B, through Redis;
/// or, when <paramref name="Local"/>, one instance with no Redis that holds the sockets and publishes.
/// </summary>
/// <param name="Name">The name <c>--only</c> takes.</param>
/// <param name="Description">One line for the console.</param>
/// <param name="Kind">How it publishes.</param>
/// <param name="Clients">Sockets, all connected before publishing starts.</param>
/// <param name="Uploads">Uploads the sockets are spread over.</param>
/// <param name="Rate">Events per second, for <see cref="ScenarioKind.Paced"/>.</param>
/// <param name="UploadSeconds">How long each upload sends progress, for <see cref="ScenarioKind.Uploads"/>.</param>
/// <param name="Local">One instance (<see cref="ServerMode.Local"/>): Uploadista.Events in memory, SignalR without a backplane.</param>
internal sealed record Scenario(string Name, string Description, ScenarioKind Kind, int Clients, int Uploads, double Rate = 0, double UploadSeconds = 0, bool Local = false)
{
    /// <summary>The upload each socket watches, one entry per socket.</summary>
    public int[] SocketUploads() => Kind == ScenarioKind.Uploads
        // One socket on even uploads, two on odd ones (the uploader's tab and, say, a second device).
        ? [.. Enumerable.Range(0, Uploads).SelectMany(upload => Enumerable.Repeat(upload, upload % 2 == 0 ? 1 : 2))]
        : [.. Enumerable.Range(0, Clients).Select(i => i % Uploads)];

    /// <summary>
    /// Uploads started per second of the run by default (<c>--uploads</c> overrides the count), so that
    /// the uploads workload is as heavy in quick mode and with any <c>--seconds</c> as in a full run.
    /// </summary>
    /// <remarks>
    /// Sized on the 2-core machine where Redis, both servers and the clients share the cores: with uploads
    /// of 1.5 s, about 300 run at once, each letting about 10 progress events a second through the
    /// throttle (of ~35 offered), plus ~7 other events per upload: about 4,500 events/s, 5,700
    /// deliveries/s and 9,500 publish calls a second. Both systems keep up there (the same deliveries
    /// and publish calls for both, p50 about 3 ms); around 500 at once p99 climbs past 100 ms, and at
    /// 1,000 at once (5,000 uploads of 2 s over 10 s) both fall behind: p50 above 60 ms, p99 0.3 to
    /// 1 s, and fewer progress calls made because publishing slows the upload loops.
    /// </remarks>
    public const int UploadsPerSecond = 200;

    /// <summary>How long each upload of the uploads workload sends progress.</summary>
    public const double SecondsPerUpload = 1.5;

    /// <summary>Every scenario, in the order they run; <c>--only</c> picks among their names.</summary>
    public static Scenario[] All(LoadOptions options)
    {
        // Uploads start evenly over the run's seconds and each sends progress for SecondsPerUpload,
        // so about Uploads × SecondsPerUpload / Seconds are under way at once.
        var uploads = options.Uploads;
        var uploadSockets = uploads + uploads / 2;
        var active = uploads * SecondsPerUpload / options.Seconds;
        var uploadsWorkload = $"{uploads:N0} uploads with 1 or 2 sockets each ({uploadSockets:N0}), starting over {options.Seconds:N0} s, {SecondsPerUpload:N1} s of progress each (~{active:N0} at once), then a flow; default progress throttle";
        return
        [
            new("flat-out", "1,000 clients over 100 uploads, published flat out (closed loop)", ScenarioKind.FlatOut, 1000, 100),
            new("flat-out-1to1", "1,000 clients on 1,000 uploads (one socket per upload), published flat out (closed loop)", ScenarioKind.FlatOut, 1000, 1000),
            new("fixed-20k", "1,000 clients over 100 uploads at 20,000 events/s (200,000 deliveries/s)", ScenarioKind.Paced, 1000, 100, Rate: 20_000),
            new("fixed-2k", "200 clients over 200 uploads at 2,000 events/s", ScenarioKind.Paced, 200, 200, Rate: 2_000),
            new("uploads", uploadsWorkload, ScenarioKind.Uploads, uploadSockets, uploads, UploadSeconds: SecondsPerUpload),
            new("idle", $"{options.IdleSockets:N0} idle sockets", ScenarioKind.Idle, options.IdleSockets, options.IdleSockets / 10),

            // One instance publishing to its own sockets, every default, no Redis: where most
            // applications start, and the floor under the figures above.
            new("local-flat-out", "one instance: 1,000 clients over 100 uploads, published flat out (closed loop)", ScenarioKind.FlatOut, 1000, 100, Local: true),
            new("local-flat-out-1to1", "one instance: 100 clients on 100 uploads (one socket per upload), published flat out (closed loop)", ScenarioKind.FlatOut, 100, 100, Local: true),
            new("local-fixed-20k", "one instance: 1,000 clients over 100 uploads at 20,000 events/s (200,000 deliveries/s)", ScenarioKind.Paced, 1000, 100, Rate: 20_000, Local: true),
            new("local-uploads", $"one instance: {uploadsWorkload}", ScenarioKind.Uploads, uploadSockets, uploads, UploadSeconds: SecondsPerUpload, Local: true),
        ];
    }
}

/// <summary>The command line's choices (Program.cs).</summary>
/// <param name="Quick">One short round and fewer idle sockets (<c>--quick</c>).</param>
/// <param name="Rounds">Rounds per scenario and system (<c>--rounds</c>).</param>
/// <param name="Seconds">Seconds each stress scenario publishes for (<c>--seconds</c>).</param>
/// <param name="IdleSockets">Sockets of the idle scenario (<c>--idle</c>).</param>
/// <param name="Uploads">Uploads of the uploads workloads (<c>--uploads</c>).</param>
/// <param name="Only">The scenarios to run, all when empty (<c>--only</c>).</param>
/// <param name="Telemetry">Compare ours with ours observed by OpenTelemetry (<c>--telemetry</c>).</param>
/// <param name="Traces">With <paramref name="Telemetry"/>, record every span too (<c>--telemetry-traces</c>).</param>
/// <param name="Sse">Compare ours with ours over Server-Sent Events (<c>--sse</c>).</param>
/// <param name="Mux">Compare ours with ours on multiplexed sockets (<c>--mux</c>).</param>
/// <param name="MuxUploads">With <paramref name="Mux"/>, the uploads each multiplexed socket subscribes to (<c>--mux-uploads</c>).</param>
internal sealed record LoadOptions(
    bool Quick,
    int Rounds,
    double Seconds,
    int IdleSockets,
    int Uploads,
    string[] Only,
    bool Telemetry = false,
    bool Traces = false,
    bool Sse = false,
    bool Mux = false,
    int MuxUploads = UploadistaMultiplexedClient.DefaultUploads);
