using Microsoft.AspNetCore.SignalR;
using Uploadista.Events.LoadTest;
using Uploadista.Events.LoadTest.SignalR;

// The SignalR side of the load test: a hub where each client joins the group of its upload, and bench
// endpoints that send to those groups through the Redis backplane, or, with --mode local, through no
// backplane at all (one instance, SignalR's default in-process groups).
// Usage: --urls http://127.0.0.1:PORT (--redis HOST:PORT --prefix PREFIX | --mode local) [--progress-interval default]
// (The last flag is accepted for symmetry with our server; the uploads workload always throttles
// progress at 100 ms here, like the library's default, and nothing else is throttled.)
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var signalR = builder.Services.AddSignalR();
if (builder.Configuration[ServerMode.Key] != ServerMode.Local)
{
    signalR.AddStackExchangeRedis(builder.Configuration["redis"]!, options =>
        options.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal(builder.Configuration["prefix"] ?? "bench"));
}

var app = builder.Build();
app.MapHub<EventsHub>("/events");

app.MapPost("/bench/publish", async (string run, int uploads, long? count, double? rate, double? seconds, IHubContext<EventsHub> hub) =>
{
    var uploadIds = BenchIds.Uploads(run, uploads);
    var counters = new long[uploads];
    var result = await BenchPublisher.RunAsync(uploads, count ?? 0, rate ?? 0, seconds ?? 0, (upload, ticks) =>
    {
        var seq = Interlocked.Increment(ref counters[upload]);
        var payload = new BenchEvent("upload_error", uploadIds[upload], ticks.ToString(System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow, seq);
        return new ValueTask(hub.Clients.Group(uploadIds[upload]).SendAsync("event", payload));
    });
    return Results.Ok(result);
});
app.MapPost("/bench/uploads", async (string run, int uploads, double seconds, double uploadSeconds, IHubContext<EventsHub> hub) =>
{
    // The library's default ProgressInterval, which our server keeps for this workload.
    var target = new SignalRUploadEvents(hub, TimeSpan.FromMilliseconds(100));
    var (calls, finished, elapsed) = await UploadWorkload.RunAsync(new UploadWorkloadPlan(run, uploads, seconds, uploadSeconds), target);
    var sent = BenchIds.Uploads(run, uploads).Select(target.SentTo).ToArray();
    return Results.Ok(new UploadsPublished(calls, sent, finished, elapsed));
});
app.MapPost("/bench/gc", () => Results.Ok(BenchPublisher.CollectAndMeasure()));
app.Run();

/// <summary>The same fields as an Uploadista upload_error event, so both systems carry the same payload.</summary>
internal sealed record BenchEvent(string Type, string UploadId, string Error, DateTimeOffset Timestamp, long Seq);

/// <summary>Clients join the group of the upload they watch.</summary>
internal sealed class EventsHub : Hub
{
    public Task Join(string upload) => Groups.AddToGroupAsync(Context.ConnectionId, upload);
}
