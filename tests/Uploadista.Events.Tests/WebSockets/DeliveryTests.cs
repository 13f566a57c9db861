using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.WebSockets;

/// <summary>Events published through the publisher reach real sockets on real Kestrel.</summary>
public sealed class DeliveryTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 10, 15, 30, 250, TimeSpan.Zero);

    [Fact]
    public async Task Every_event_type_reaches_its_upload_socket_as_the_exact_json()
    {
        var clock = new FakeTimeProvider(Now);
        await using var server = await EventsServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using var upload = await server.JoinUploadAsync("abc123");
        await using var job = await server.JoinFlowAsync("job-789");

        UploadistaEvent[] events =
        [
            new UploadStartedEvent { UploadId = "abc123", Filename = "photo.jpg", Size = 5242880 },
            new UploadProgressEvent { UploadId = "abc123", Progress = 0.45, BytesUploaded = 2359296, TotalBytes = 5242880 },
            new UploadCompleteEvent { UploadId = "abc123", Url = "https://cdn.example.com/abc123/photo.jpg" },
            new UploadErrorEvent { UploadId = "abc123", Error = "Network connection lost" },
            new FlowStartedEvent { JobId = "job-789", UploadId = "abc123", FlowName = "Image Processing" },
            new FlowProgressEvent { JobId = "job-789", UploadId = "abc123", NodeId = "resize", NodeName = "Resize Image", Progress = 0.5 },
            new FlowCompleteEvent { JobId = "job-789", UploadId = "abc123", Outputs = new Dictionary<string, string> { ["thumbnail"] = "https://cdn.example.com/abc123/thumb.jpg" } },
            new FlowErrorEvent { JobId = "job-789", UploadId = "abc123", Error = "Image format not supported" },
        ];
        foreach (var uploadistaEvent in events)
        {
            await server.Publisher.PublishAsync(uploadistaEvent, TestContext.Current.CancellationToken);
        }

        string[] uploadFrames =
        [
            """{"type":"upload_started","uploadId":"abc123","filename":"photo.jpg","size":5242880,"timestamp":"2026-11-29T10:15:30.250Z","seq":1}""",
            """{"type":"upload_progress","uploadId":"abc123","progress":0.45,"bytesUploaded":2359296,"totalBytes":5242880,"timestamp":"2026-11-29T10:15:30.250Z","seq":2}""",
            """{"type":"upload_complete","uploadId":"abc123","url":"https://cdn.example.com/abc123/photo.jpg","timestamp":"2026-11-29T10:15:30.250Z","seq":3}""",
            """{"type":"upload_error","uploadId":"abc123","error":"Network connection lost","timestamp":"2026-11-29T10:15:30.250Z","seq":4}""",
            """{"type":"flow_started","jobId":"job-789","uploadId":"abc123","flowName":"Image Processing","timestamp":"2026-11-29T10:15:30.250Z","seq":5}""",
            """{"type":"flow_progress","jobId":"job-789","uploadId":"abc123","nodeId":"resize","nodeName":"Resize Image","progress":0.5,"timestamp":"2026-11-29T10:15:30.250Z","seq":6}""",
            """{"type":"flow_complete","jobId":"job-789","uploadId":"abc123","outputs":{"thumbnail":"https://cdn.example.com/abc123/thumb.jpg"},"timestamp":"2026-11-29T10:15:30.250Z","seq":7}""",
            """{"type":"flow_error","jobId":"job-789","uploadId":"abc123","error":"Image format not supported","timestamp":"2026-11-29T10:15:30.250Z","seq":8}""",
        ];
        foreach (var expected in uploadFrames)
        {
            (await upload.ReceiveTextAsync()).Should().Be(expected);
        }

        // The job's channel numbers its own events: the flow events are 1 to 4 there.
        foreach (var (expected, seq) in uploadFrames[4..].Select((frame, i) => (frame, i + 1)))
        {
            (await job.ReceiveTextAsync()).Should().Be(expected[..expected.LastIndexOf("\"seq\":", StringComparison.Ordinal)] + $"\"seq\":{seq}}}");
        }
    }

    [Fact]
    public async Task Flow_events_without_an_upload_reach_only_the_job_socket()
    {
        await using var server = await EventsServer.StartAsync();
        await using var upload = await server.JoinUploadAsync("u1");
        await using var job = await server.JoinFlowAsync("j1");

        await server.Publisher.PublishAsync(new FlowErrorEvent { JobId = "j1", Error = "boom" }, TestContext.Current.CancellationToken);
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "u1", Error = "marker" }, TestContext.Current.CancellationToken);

        (await job.ReceiveJsonAsync()).GetProperty("error").GetString().Should().Be("boom");
        (await upload.ReceiveJsonAsync()).GetProperty("error").GetString().Should().Be("marker", "the upload socket got nothing before its own event");
    }

    [Fact]
    public async Task Two_sockets_on_one_upload_get_every_event_and_another_upload_gets_none()
    {
        await using var server = await EventsServer.StartAsync();
        await using var first = await server.JoinUploadAsync("shared");
        await using var second = await server.JoinUploadAsync("shared");
        await using var other = await server.JoinUploadAsync("other");

        for (var i = 1; i <= 20; i++)
        {
            await server.Publisher.PublishAsync(Progress("shared", i, 20), TestContext.Current.CancellationToken);
        }

        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "other", Url = "https://example.com/other" }, TestContext.Current.CancellationToken);

        foreach (var socket in new[] { first, second })
        {
            for (var i = 1; i <= 20; i++)
            {
                var frame = await socket.ReceiveJsonAsync();
                frame.GetProperty("seq").GetInt64().Should().Be(i);
                frame.GetProperty("bytesUploaded").GetInt64().Should().Be(i);
            }
        }

        var otherFrame = await other.ReceiveJsonAsync();
        otherFrame.GetProperty("type").GetString().Should().Be("upload_complete", "the other upload's socket receives none of the shared upload's events");
        otherFrame.GetProperty("seq").GetInt64().Should().Be(1);
    }

    [Fact]
    public async Task Closing_the_last_socket_releases_the_broadcaster_subscription()
    {
        await using var server = await EventsServer.StartAsync();
        var broadcaster = (MemoryEventBroadcaster)server.Services.GetRequiredService<IEventBroadcaster>();
        var registry = server.Services.GetRequiredService<SubscriptionRegistry>();

        var first = await server.JoinUploadAsync("u-release");
        var second = await server.JoinUploadAsync("u-release");
        broadcaster.GetSubscriberCount("upload:u-release").Should().Be(1, "connections on one channel share one subscription");

        await first.DisposeAsync();
        await Eventually.HoldsAsync(() => server.Services.GetRequiredService<ConnectionTracker>().Count == 1, "the first connection has ended");
        broadcaster.GetSubscriberCount("upload:u-release").Should().Be(1, "a connection is still open");

        await second.DisposeAsync();
        await Eventually.HoldsAsync(() => broadcaster.GetSubscriberCount("upload:u-release") == 0, "the subscription is released");
        registry.ChannelCount.Should().Be(0);
    }

    [Fact]
    public async Task Hundred_sockets_get_a_thousand_events_each_complete_and_in_order()
    {
        const int Uploads = 10;
        const int SocketsPerUpload = 10;
        const int Events = 1000;
        await using var server = await EventsServer.StartAsync();
        var sockets = new List<(string UploadId, TestSocket Socket)>();
        for (var u = 0; u < Uploads; u++)
        {
            for (var s = 0; s < SocketsPerUpload; s++)
            {
                sockets.Add(($"load-{u}", await server.JoinUploadAsync($"load-{u}")));
            }
        }

        var readers = sockets.Select(entry => Task.Run(async () =>
        {
            for (var expected = 1; expected <= Events; expected++)
            {
                using var frame = JsonDocument.Parse(await entry.Socket.ReceiveTextAsync());
                var root = frame.RootElement;
                root.GetProperty("seq").GetInt64().Should().Be(expected);
                root.GetProperty("uploadId").GetString().Should().Be(entry.UploadId);
                root.GetProperty("bytesUploaded").GetInt64().Should().Be(expected);
            }
        })).ToArray();

        var publishers = Enumerable.Range(0, Uploads).Select(u => Task.Run(async () =>
        {
            for (var i = 1; i <= Events; i++)
            {
                await server.Publisher.PublishAsync(Progress($"load-{u}", i, Events), TestContext.Current.CancellationToken);
            }
        })).ToArray();

        await Task.WhenAll(publishers);
        await Task.WhenAll(readers);
        foreach (var (_, socket) in sockets)
        {
            await socket.DisposeAsync();
        }
    }

    [Fact]
    public async Task Ping_gets_pong_and_other_json_is_ignored()
    {
        await using var server = await EventsServer.StartAsync();
        await using var socket = await TestSocket.ConnectAsync(server.UploadSocketUri("p1"));

        await socket.SendAsync("""{"type":"hello","data":[1,2,3]}""");
        await socket.SendAsync("""{"type":"ping"}""");
        var pong = await socket.ReceiveJsonAsync();

        pong.GetProperty("type").GetString().Should().Be("pong");
        pong.GetProperty("timestamp").GetDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        pong.GetProperty("epoch").GetString().Should().NotBeNullOrEmpty("it names the run of seqs the connection is in, for resuming");
        JsonNode.Parse(pong.GetRawText())!.AsObject().Select(p => p.Key).Should().BeEquivalentTo("type", "timestamp", "epoch");
        socket.Socket.State.Should().Be(System.Net.WebSockets.WebSocketState.Open);
    }

    private static UploadProgressEvent Progress(string uploadId, long bytes, long total)
        => new() { UploadId = uploadId, Progress = (double)bytes / total, BytesUploaded = bytes, TotalBytes = total };
}
