using Microsoft.AspNetCore.SignalR;
using Uploadista.Events.LoadTest;

// The SignalR side of the load test: a hub where each client joins the group of its upload, and a
// publish endpoint that sends to those groups through the Redis backplane.
// Usage: --urls http://127.0.0.1:PORT --redis HOST:PORT --prefix PREFIX
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR().AddStackExchangeRedis(builder.Configuration["redis"]!, options =>
    options.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal(builder.Configuration["prefix"] ?? "bench"));

var app = builder.Build();
app.MapHub<EventsHub>("/events");

app.MapPost("/bench/publish", async (int uploads, long? count, double? rate, double? seconds, IHubContext<EventsHub> hub) =>
{
    var counters = new long[uploads];
    var perUpload = await BenchPublisher.RunAsync(uploads, count ?? 0, rate ?? 0, seconds ?? 0, (upload, ticks) =>
    {
        var seq = Interlocked.Increment(ref counters[upload]);
        var payload = new BenchEvent("upload_error", $"u-{upload}", ticks.ToString(System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow, seq);
        return new ValueTask(hub.Clients.Group($"u-{upload}").SendAsync("event", payload));
    });
    return Results.Ok(perUpload);
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
