using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Delivery;

/// <summary>
/// A flow's events find their upload (protocol.md, "Flows and their upload"): once an event of a job
/// named its upload, the job's later events that do not name it reach the upload's sockets too, on
/// every instance, until the job's state expires. Through real sockets, on each broadcaster.
/// </summary>
public abstract class FlowLinkTests : HostsOnEachBroadcaster
{
    [Fact]
    public async Task Flow_events_without_an_upload_id_reach_the_upload_that_flow_started_named_on_every_instance()
    {
        var a = await HostAsync();
        var b = await PeerAsync(a);
        await using var uploadOnA = await a.JoinUploadAsync("u1");
        await using var uploadOnB = await b.JoinUploadAsync("u1");
        await using var jobOnB = await b.JoinFlowAsync("j1");

        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j1", UploadId = "u1", FlowName = "resize" });
        await b.Publisher.PublishAsync(NodeProgress("j1", 0.5));                     // another instance: it reads the association
        await a.Publisher.PublishAsync(new FlowCompleteEvent { JobId = "j1", Outputs = new Dictionary<string, string> { ["thumb"] = "https://example.com/t" } });
        await b.Publisher.PublishAsync(Marker("u1"));

        var onJob = await ReceiveAsync(jobOnB, 3);
        foreach (var socket in new[] { uploadOnA, uploadOnB })
        {
            var frames = await ReceiveThroughMarkerAsync(socket);
            frames.Select(f => (Text(f, "type"), f.GetProperty("seq").GetInt64()))
                .Should().Equal(("flow_started", 1L), ("flow_progress", 2L), ("flow_complete", 3L), ("upload_error", 4L));
            frames.Take(3).Select(f => (Text(f, "jobId"), Text(f, "uploadId"))).Should().AllBeEquivalentTo(("j1", "u1"), "a routed event names the upload it was routed to");

            // The same JSON as on the job's socket (and as if the producer had set UploadId), but for seq.
            frames.Take(3).Select(WithoutSeq).Should().Equal(onJob.Select(WithoutSeq));
        }
    }

    [Fact]
    public async Task Only_the_job_that_named_the_upload_reaches_it_a_job_with_no_known_upload_reaches_its_own_sockets_only()
    {
        var a = await HostAsync();
        var b = await PeerAsync(a);
        await using var upload = await a.JoinUploadAsync("u2");
        await using var alone = await b.JoinFlowAsync("j-alone");

        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j-linked", UploadId = "u2", FlowName = "f" });
        await b.Publisher.PublishAsync(NodeProgress("j-alone", 0.5));
        await b.Publisher.PublishAsync(NodeProgress("j-linked", 0.5));
        await b.Publisher.PublishAsync(Marker("u2"));

        (await ReceiveThroughMarkerAsync(upload)).Select(f => (Text(f, "type"), Text(f, "jobId")))
            .Should().Equal(("flow_started", "j-linked"), ("flow_progress", "j-linked"), ("upload_error", null));
        var own = await alone.ReceiveJsonAsync();
        (Text(own, "type"), own.GetProperty("seq").GetInt64()).Should().Be(("flow_progress", 1L));
        own.TryGetProperty("uploadId", out _).Should().BeFalse("a job with no known upload has none to name");
    }

    [Fact]
    public async Task The_association_expires_with_the_job_s_retained_state()
    {
        void ShortRetention(UploadistaEventsOptions options) => options.RetentionPeriod = TimeSpan.FromSeconds(1);
        var a = await HostAsync(ShortRetention);
        var b = await PeerAsync(a, ShortRetention);
        await using (var upload = await a.JoinUploadAsync("u3"))
        {
            await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j3", UploadId = "u3", FlowName = "f" });
            await b.Publisher.PublishAsync(NodeProgress("j3", 0.5));
            await b.Publisher.PublishAsync(Marker("u3"));
            (await ReceiveThroughMarkerAsync(upload)).Select(f => Text(f, "type")).Should().Equal("flow_started", "flow_progress", "upload_error");
        }

        // Nothing is published for longer than the retention period: the job's state and the upload's go.
        var broadcaster = a.Services.GetRequiredService<IEventBroadcaster>();
        await Eventually.HoldsAsync(
            async () => (await broadcaster.GetRetainedAsync("flow:j3", 0)).LastSeq == 0 && (await broadcaster.GetRetainedAsync("upload:u3", 0)).LastSeq == 0,
            "the job's and the upload's state expired",
            TimeSpan.FromSeconds(30));

        // The instance that wrote the association publishes again: its job's event goes to the job only.
        await a.Publisher.PublishAsync(NodeProgress("j3", 1));
        await a.Publisher.PublishAsync(Marker("u3"));

        await using var lateUpload = await TestSocket.ConnectAsync(a.UploadSocketUri("u3"));
        Text(await lateUpload.ReceiveJsonAsync(), "type").Should().Be("upload_error", "the expired association routed nothing to the upload");
        await lateUpload.SendAsync("""{"type":"ping"}""");
        Text(await lateUpload.ReceiveJsonAsync(), "type").Should().Be("pong", "nothing else reached the upload");
        await using var lateJob = await TestSocket.ConnectAsync(b.FlowSocketUri("j3"));
        var progress = await lateJob.ReceiveJsonAsync();
        (Text(progress, "type"), progress.GetProperty("progress").GetDouble()).Should().Be(("flow_progress", 1.0));
        progress.TryGetProperty("uploadId", out _).Should().BeFalse("the job's upload is no longer known");
    }

    [Fact]
    public async Task The_association_lives_as_long_as_the_job_s_state_not_only_as_long_as_its_first_write()
    {
        const int Events = 16;
        var retention = TimeSpan.FromSeconds(2);
        var a = await HostAsync(o => o.RetentionPeriod = retention);
        var b = await PeerAsync(a, o => o.RetentionPeriod = retention);
        await using var upload = await b.JoinUploadAsync("u4");
        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j4", UploadId = "u4", FlowName = "f" });
        var sinceWrite = Stopwatch.StartNew();

        // Events that do not name the upload, for most of a retention period.
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        for (var i = 1; i <= Events; i++)
        {
            await pace.WaitForNextTickAsync(TestContext.Current.CancellationToken);
            await b.Publisher.PublishAsync(NodeProgress("j4", i / (Events + 1.0)));
        }

        // Then a pause: the job's state lives on (its last event is recent), while what the first write
        // and the first read set has expired.
        await Eventually.HoldsAsync(() => sinceWrite.Elapsed >= retention * 1.25, "the first write's and read's expiry passed", retention * 2);
        await b.Publisher.PublishAsync(NodeProgress("j4", 1));
        await b.Publisher.PublishAsync(Marker("u4"));

        var frames = await ReceiveThroughMarkerAsync(upload);
        frames.Should().HaveCount(Events + 3, "every event of the job reached the upload");
        frames[^2].GetProperty("progress").GetDouble().Should().Be(1);
    }

    private static async Task<List<JsonElement>> ReceiveAsync(TestSocket socket, int count)
    {
        var frames = new List<JsonElement>();
        while (frames.Count < count)
        {
            frames.Add(await socket.ReceiveJsonAsync());
        }

        return frames;
    }

    /// <summary>Reads up to and including the <see cref="Marker"/>: what reached the upload before it.</summary>
    private static async Task<List<JsonElement>> ReceiveThroughMarkerAsync(TestSocket socket)
    {
        var frames = new List<JsonElement>();
        do
        {
            frames.Add(await socket.ReceiveJsonAsync());
        }
        while (Text(frames[^1], "type") != "upload_error");
        return frames;
    }

    private static string? Text(JsonElement frame, string property)
        => frame.TryGetProperty(property, out var value) ? value.GetString() : null;

    private static string WithoutSeq(JsonElement frame)
    {
        var json = JsonNode.Parse(frame.GetRawText())!.AsObject();
        json.Remove("seq");
        return json.ToJsonString();
    }

    private static FlowProgressEvent NodeProgress(string jobId, double progress)
        => new() { JobId = jobId, NodeId = "resize", NodeName = "Resize", Progress = progress };

    /// <summary>An upload event after the flow events: the upload's sockets get it next if no flow event went astray.</summary>
    private static UploadErrorEvent Marker(string uploadId) => new() { UploadId = uploadId, Error = "marker" };
}

public sealed class MemoryFlowLinkTests : FlowLinkTests
{
    protected override bool HostsShareEvents => false;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure) => EventsServer.StartAsync(configure);
}

public sealed class RedisFlowLinkTests(RedisFixture redis) : FlowLinkTests, IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override bool HostsShareEvents => true;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure)
        => EventsServer.StartOnRedisAsync(redis.Server.Configuration, _prefix, configure);
}

public sealed class RedisClusterFlowLinkTests(RedisClusterFixture fixture) : FlowLinkTests, IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override bool HostsShareEvents => true;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure)
        => EventsServer.StartOnRedisAsync(fixture.Cluster.Configuration, _prefix, configure);
}

/// <summary>The order the publisher keeps: the association is in place before the first event routed by it.</summary>
public sealed class FlowLinkOrderTests
{
    [Fact]
    public async Task The_association_is_written_before_the_event_that_names_the_upload_is_published_to_both_channels()
    {
        RecordingBroadcaster? recording = null;
        await using var host = await EventsServer.StartAsync(services: s => s.AddSingleton<IEventBroadcaster>(
            provider => recording = new RecordingBroadcaster(ActivatorUtilities.CreateInstance<MemoryEventBroadcaster>(provider))));

        await host.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j-order", UploadId = "u-order", FlowName = "f" }, TestContext.Current.CancellationToken);
        await host.Publisher.PublishAsync(new FlowProgressEvent { JobId = "j-order", NodeId = "n", NodeName = "N", Progress = 1 }, TestContext.Current.CancellationToken);

        recording!.Calls.Should().Equal(
            "set j-order u-order", "publish flow:j-order", "publish upload:u-order",
            "get j-order", "publish flow:j-order", "publish upload:u-order");
    }

    private sealed class RecordingBroadcaster(IEventBroadcaster inner) : IEventBroadcaster
    {
        private readonly List<string> _calls = [];

        public IReadOnlyList<string> Calls
        {
            get
            {
                lock (_calls)
                {
                    return [.. _calls];
                }
            }
        }

        public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
        {
            Record($"publish {channel}");
            return inner.PublishAsync(channel, publication, cancellationToken);
        }

        public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
            => inner.SubscribeAsync(channel, subscriber, cancellationToken);

        public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
            => inner.GetRetainedAsync(channel, afterSeq, cancellationToken);

        public ValueTask SetJobUploadAsync(string jobId, string uploadId, CancellationToken cancellationToken = default)
        {
            Record($"set {jobId} {uploadId}");
            return inner.SetJobUploadAsync(jobId, uploadId, cancellationToken);
        }

        public ValueTask<string?> GetJobUploadAsync(string jobId, CancellationToken cancellationToken = default)
        {
            Record($"get {jobId}");
            return inner.GetJobUploadAsync(jobId, cancellationToken);
        }

        private void Record(string call)
        {
            lock (_calls)
            {
                _calls.Add(call);
            }
        }
    }
}
