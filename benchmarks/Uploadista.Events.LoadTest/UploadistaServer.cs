using Microsoft.Extensions.Options;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// Our side of the load test, run as its own process: Uploadista.Events on Redis, or on its own
/// (<see cref="ServerMode"/>), and the bench endpoints. Usage: server --urls http://127.0.0.1:PORT
/// (--redis HOST:PORT --prefix PREFIX | --mode local) [--progress-interval default]
/// </summary>
internal static class UploadistaServer
{
    /// <summary>
    /// The flag that keeps the library's default progress throttle (100 ms) instead of turning it off;
    /// the uploads workload needs it, the socket scenarios on Redis must not have it (every event counts
    /// there). A local server keeps every default whatever the flags.
    /// </summary>
    public static readonly string[] DefaultProgressInterval = ["--progress-interval", "default"];

    /// <summary>The flag that turns OpenTelemetry on (<see cref="BenchTelemetry"/>): metrics, or metrics and traces.</summary>
    public static string[] Telemetry(bool traces) => ["--telemetry", traces ? "all" : "metrics"];

    public static void Run(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (builder.Configuration[ServerMode.Key] == ServerMode.Local)
        {
            // One instance as a new user has it: the in-memory broadcaster and every option at its
            // default. Its progress throttle does not touch the socket scenarios: upload_error events
            // are never held.
            builder.Services.AddUploadistaEvents();
        }
        else
        {
            var defaultThrottle = builder.Configuration["progress-interval"] == "default";
            builder.Services
                .AddUploadistaEvents(options =>
                {
                    if (!defaultThrottle)
                    {
                        // Every event counts in the figures of the socket scenarios: none is throttled.
                        options.ProgressInterval = TimeSpan.Zero;
                    }

                    // No limit gets in the way.
                    options.MaxConnectionsPerChannel = 1_000_000;
                    options.MaxConnections = 1_000_000;
                })
                .AddRedis(options =>
                {
                    options.Configuration = builder.Configuration["redis"];
                    options.ChannelPrefix = builder.Configuration["prefix"] ?? "bench:";
                });
        }

        PublicationCounter.Decorate(builder.Services);
        if (builder.Configuration["telemetry"] is "metrics" or "all")
        {
            BenchTelemetry.Add(builder.Services, traces: builder.Configuration["telemetry"] == "all");
        }

        var app = builder.Build();
        app.MapUploadistaWebSockets();
        app.MapPost("/bench/publish", async (string run, int uploads, long? count, double? rate, double? seconds, IUploadistaEventPublisher events) =>
        {
            var uploadIds = BenchIds.Uploads(run, uploads);
            var result = await BenchPublisher.RunAsync(uploads, count ?? 0, rate ?? 0, seconds ?? 0, (upload, ticks) =>
                events.PublishAsync(new UploadErrorEvent
                {
                    UploadId = uploadIds[upload],
                    Error = ticks.ToString(System.Globalization.CultureInfo.InvariantCulture),
                }));
            return Results.Ok(result);
        });
        app.MapPost("/bench/uploads", async (string run, int uploads, double seconds, double uploadSeconds, IUploadistaEventPublisher events, PublicationCounter counter, IOptions<UploadistaEventsOptions> options) =>
        {
            if (options.Value.ProgressInterval <= TimeSpan.Zero)
            {
                return Results.Problem("The uploads workload runs with the default progress throttle: start the server with --progress-interval default.");
            }

            var (calls, finished, elapsed) = await UploadWorkload.RunAsync(new UploadWorkloadPlan(run, uploads, seconds, uploadSeconds), new UploadistaUploadEvents(events));
            var sent = BenchIds.Uploads(run, uploads).Select(counter.OfUpload).ToArray();
            return Results.Ok(new UploadsPublished(calls, sent, finished, elapsed));
        });
        app.MapPost("/bench/gc", () => Results.Ok(BenchPublisher.CollectAndMeasure()));
        app.Run();
    }
}
