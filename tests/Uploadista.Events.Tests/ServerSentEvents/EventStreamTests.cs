using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.ServerSentEvents;

/// <summary>
/// <c>{prefix}/sse/...</c> against real Kestrel: the same events as the WebSocket, as id/event/data,
/// resumed with Last-Event-ID or since, refused with HTTP statuses, ended with a last close event.
/// </summary>
public sealed class EventStreamTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task A_stream_carries_the_websocket_frames_as_id_event_and_data()
    {
        await using var server = await EventsServer.StartAsync();
        await using var socket = await server.JoinUploadAsync("u1");
        await using var stream = await EventStreamClient.ConnectAsync(server.UploadStreamUri("u1"));
        stream.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        stream.Response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        stream.Response.Headers.CacheControl!.NoCache.Should().BeTrue();
        stream.Response.Headers.GetValues("X-Accel-Buffering").Should().Equal("no");
        (await stream.ReceiveAsync())!.Comment.Should().NotBeNull("the stream opens with a comment, so the headers go out at once");

        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "u1", Filename = "a.txt", Size = 10 }, TestContext.Current.CancellationToken);
        await server.Publisher.PublishAsync(new UploadProgressEvent { UploadId = "u1", Progress = 0.5, BytesUploaded = 5, TotalBytes = 10 }, TestContext.Current.CancellationToken);
        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "u1", Url = "https://example.com/a" }, TestContext.Current.CancellationToken);

        foreach (var (seq, type) in new[] { (1, "upload_started"), (2, "upload_progress"), (3, "upload_complete") })
        {
            var message = await stream.ReceiveEventAsync();
            (message.Id, message.Event).Should().Be((seq.ToString(System.Globalization.CultureInfo.InvariantCulture), type));
            message.Data.Should().Be(await socket.ReceiveTextAsync(), "the data is the WebSocket's frame, byte for byte");
        }
    }

    [Fact]
    public async Task Last_event_id_and_since_resume_and_last_event_id_wins()
    {
        await using var server = await EventsServer.StartAsync();
        await PublishErrorsAsync(server, "r1", 1, 5);

        await using (var resumed = await EventStreamClient.ConnectAsync(server.UploadStreamUri("r1", "?since=1"), lastEventId: "3"))
        {
            (await resumed.ReceiveEventAsync()).Id.Should().Be("4", "Last-Event-ID (EventSource's own reconnect) wins over the URL's since");
            (await resumed.ReceiveEventAsync()).Id.Should().Be("5");
            await PublishErrorsAsync(server, "r1", 6, 6);
            (await resumed.ReceiveEventAsync()).Id.Should().Be("6", "live events follow, with no gap and no duplicate");
        }

        await using (var since = await EventStreamClient.ConnectAsync(server.UploadStreamUri("r1", "?since=4")))
        {
            (await since.ReceiveEventAsync()).Id.Should().Be("5");
        }

        await using (var otherRun = await EventStreamClient.ConnectAsync(server.UploadStreamUri("r1", "?since=4&epoch=another-run")))
        {
            (await otherRun.ReceiveEventAsync()).Id.Should().Be("1", "a since of another epoch counts as 0");
        }

        await using var bad = await EventStreamClient.ConnectAsync(server.UploadStreamUri("r1"), lastEventId: "x");
        bad.Response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await bad.Response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("error").GetString().Should().Be("invalid_since");
    }

    [Fact]
    public async Task A_stream_opens_before_it_has_joined_and_then_gets_what_it_is_owed_in_order()
    {
        GatedBroadcaster gated = null!;
        await using var server = await EventsServer.StartAsync(
            services: s => s.AddSingleton<IEventBroadcaster>(sp => gated = new GatedBroadcaster(ActivatorUtilities.CreateInstance<MemoryEventBroadcaster>(sp))));
        await PublishErrorsAsync(server, "held", 1, 3);

        // The join's read of the retained events is held at the gate: the stream is open all the same.
        gated.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stream = await EventStreamClient.ConnectAsync(server.UploadStreamUri("held"), lastEventId: "1");
        stream.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await stream.ReceiveAsync())!.Comment.Should().NotBeNull("the headers and the opening comment go out before the stream has joined");
        await Eventually.HoldsAsync(() => gated.Waiting == 1, "the join waits for the retained events");

        // Live events published meanwhile wait behind what the stream is owed.
        await PublishErrorsAsync(server, "held", 4, 5);
        gated.Gate.SetResult();
        var ids = new List<string?>();
        while (ids.Count < 4)
        {
            ids.Add((await stream.ReceiveEventAsync()).Id);
        }

        ids.Should().Equal(["2", "3", "4", "5"], "the retained events after Last-Event-ID, then the live ones: no gap, no duplicate");
    }

    [Fact]
    public async Task Refusals_are_http_statuses_with_the_json_body()
    {
        await using var server = await EventsServer.StartAsync(
            o => { o.AllowedOrigins.Add("https://app.example.com"); o.MaxConnectionsPerChannel = 1; },
            s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();

        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f1"), HttpStatusCode.Unauthorized, "unauthenticated");
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f1"), HttpStatusCode.Unauthorized, "unauthenticated", "https://app.example.com");
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "other")}"), HttpStatusCode.Forbidden, "forbidden");
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "f1")}"), HttpStatusCode.Forbidden, "forbidden", "https://evil.example.com");

        // The limits count streams and sockets alike, in the same tracker.
        await using var first = await EventStreamClient.ConnectAsync(server.UploadStreamUri("f1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "f1")}"), origin: "https://app.example.com");
        first.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        first.Response.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal("https://app.example.com");
        server.Services.GetRequiredService<ConnectionTracker>().Count.Should().Be(1);
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "f1")}"), HttpStatusCode.TooManyRequests, "too_many_connections");
        await using var socket = await TestSocket.ConnectAsync(server.UploadSocketUri("f1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "f1")}"));
        (await socket.ReceiveTextOrCloseAsync()).Should().BeNull();
        ((int?)socket.Socket.CloseStatus).Should().Be(1013, "a WebSocket on the same upload counts the stream too");

        server.Services.GetRequiredService<ConnectionTracker>().CloseAll();
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("f2", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "f2")}"), HttpStatusCode.ServiceUnavailable, "shutting_down");
    }

    [Fact]
    public async Task A_slow_consumer_gets_a_last_close_event_and_the_stream_ends()
    {
        await using var server = await EventsServer.StartAsync(o => { o.SendQueueCapacity = 16; o.CloseTimeout = TimeSpan.FromSeconds(30); });
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        await using var stalled = await EventStreamClient.ConnectAsync(server.UploadStreamUri("slow"));
        await Eventually.HoldsAsync(() => tracker.Count == 1, "the stream is open");

        // Large events, and nobody reads: the socket buffers fill, then the queue.
        var bigError = new string('x', 16 * 1024);
        for (var i = 1; i <= 5000 && !tracker.Snapshot().Any(c => c.CloseStatus is not null); i++)
        {
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "slow", Error = $"{i} {bigError}" }, TestContext.Current.CancellationToken);
        }

        tracker.Snapshot().Single().CloseStatus.Should().Be((System.Net.WebSockets.WebSocketCloseStatus)4008);
        var seqs = new List<long>();
        StreamMessage? last = null;
        while (await stalled.ReceiveAsync() is { } message)
        {
            if (message.Comment is not null)
            {
                continue;
            }

            last = message;
            if (message.Event != "close")
            {
                seqs.Add(long.Parse(message.Id!, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        seqs.Should().Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), "what was sent before the overflow came in order");
        last!.Event.Should().Be("close", "the last event names why the stream ended");
        last.Json.GetProperty("code").GetInt32().Should().Be(4008);
        last.Json.GetProperty("reason").GetString().Should().Contain("since");
        await Eventually.HoldsAsync(() => tracker.Count == 0, "the stream's place is given back");
    }

    [Fact]
    public async Task Shutdown_sends_a_close_event_and_heartbeats_keep_the_stream_busy()
    {
        var server = await EventsServer.StartAsync(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(200));
        await using var stream = await EventStreamClient.ConnectAsync(server.FlowStreamUri("job1"));
        await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "job1", FlowName = "resize" }, TestContext.Current.CancellationToken);
        (await stream.ReceiveEventAsync()).Event.Should().Be("flow_started");
        (await stream.ReceiveAsync())!.Comment.Should().NotBeNull("a heartbeat comment comes every KeepAliveInterval");

        var stopping = server.DisposeAsync().AsTask();
        var close = await stream.ReceiveEventAsync();
        (close.Event, close.Json.GetProperty("code").GetInt32()).Should().Be(("close", 1001));
        (await stream.ReceiveAsync()).Should().BeNull("the stream ends after its close event");
        await stopping;
    }

    [Fact]
    public async Task A_stream_over_http2_gets_its_events()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddUploadistaEvents(o => o.ProgressInterval = TimeSpan.Zero);
        await using var app = builder.Build();
        app.MapUploadistaWebSockets();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var publisher = app.Services.GetRequiredService<IUploadistaEventPublisher>();

        await using var stream = await EventStreamClient.ConnectAsync(new Uri(new Uri(app.Urls.Single()), "/uploadista/sse/upload/over-h2"), version: HttpVersion.Version20);
        stream.Response.Version.Should().Be(HttpVersion.Version20);
        for (var i = 1; i <= 50; i++)
        {
            await publisher.PublishAsync(new UploadErrorEvent { UploadId = "over-h2", Error = $"{i}" }, TestContext.Current.CancellationToken);
        }

        for (var i = 1; i <= 50; i++)
        {
            var message = await stream.ReceiveEventAsync();
            (message.Id, message.Json.GetProperty("error").GetString()).Should().Be(($"{i}", $"{i}"));
        }
    }

    [Fact]
    public async Task Streams_are_counted_with_the_sse_transport_tag()
    {
        await using var server = await EventsServer.StartAsync(o => o.MaxConnectionsPerChannel = 1);
        using var active = Instruments.Collect<int>(server.Services, "uploadista.connection.active");
        using var duration = Instruments.Collect<double>(server.Services, "uploadista.connection.duration");
        using var refused = Instruments.Collect<long>(server.Services, "uploadista.connection.refused");
        var upload = Instruments.Tag("uploadista.channel.kind", "upload");
        var sse = Instruments.Tag("uploadista.transport", "sse");

        var stream = await EventStreamClient.ConnectAsync(server.UploadStreamUri("m1"));
        await Eventually.HoldsAsync(() => active.Observe(upload) == 1, "the stream is counted among the connections");
        await EventStreamClient.AssertRefusedAsync(server.UploadStreamUri("m1"), HttpStatusCode.TooManyRequests, "too_many_connections");
        refused.Sum(sse).Should().Be(1);
        refused.Sum(Instruments.Tag("uploadista.refusal.reason", "limit")).Should().Be(1);

        await stream.DisposeAsync();
        await Eventually.HoldsAsync(() => duration.GetMeasurementSnapshot().Count == 1, "the stream's duration was recorded");
        duration.LastMeasurement!.MatchesTags(upload, sse).Should().BeTrue();
        active.Observe(upload).Should().Be(0);
    }

    private static async Task PublishErrorsAsync(EventsServer server, string uploadId, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = uploadId, Error = $"{i}" }, TestContext.Current.CancellationToken);
        }
    }
}
