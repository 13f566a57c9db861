namespace Uploadista.Events.LoadTest;

/// <summary>
/// Our side of the load test, run as its own process: Uploadista.Events on Redis, and a publish
/// endpoint. Usage: server --urls http://127.0.0.1:PORT --redis HOST:PORT --prefix PREFIX
/// </summary>
internal static class UploadistaServer
{
    public static void Run(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services
            .AddUploadistaEvents(options =>
            {
                // Every event counts in the figures: none is throttled, and no limit gets in the way.
                options.ProgressInterval = TimeSpan.Zero;
                options.MaxConnectionsPerChannel = 1_000_000;
                options.MaxConnections = 1_000_000;
            })
            .AddRedis(options =>
            {
                options.Configuration = builder.Configuration["redis"];
                options.ChannelPrefix = builder.Configuration["prefix"] ?? "bench:";
            });

        var app = builder.Build();
        app.MapUploadistaWebSockets();
        app.MapPost("/bench/publish", async (int uploads, long? count, double? rate, double? seconds, IUploadistaEventPublisher events) =>
        {
            var perUpload = await BenchPublisher.RunAsync(uploads, count ?? 0, rate ?? 0, seconds ?? 0, (upload, ticks) =>
                events.PublishAsync(new UploadErrorEvent
                {
                    UploadId = UploadIds[upload],
                    Error = ticks.ToString(System.Globalization.CultureInfo.InvariantCulture),
                }));
            return Results.Ok(perUpload);
        });
        app.MapPost("/bench/gc", () => Results.Ok(BenchPublisher.CollectAndMeasure()));
        app.Run();
    }

    private static readonly string[] UploadIds = [.. Enumerable.Range(0, 10_000).Select(i => $"u-{i}")];
}
