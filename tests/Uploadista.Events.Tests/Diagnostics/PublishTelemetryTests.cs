using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Uploadista.Events.Tests.Infrastructure;
using static Uploadista.Events.Tests.Infrastructure.Instruments;

namespace Uploadista.Events.Tests.Diagnostics;

/// <summary>What publishing and delivering record on the meter and the activity source Uploadista.Events, and the in-memory health.</summary>
public sealed class PublishTelemetryTests
{
    [Fact]
    public async Task Publishing_counts_by_type_and_each_delivery_is_counted_and_timed()
    {
        await using var server = await EventsServer.StartAsync();
        using var published = Collect<long>(server.Services, "uploadista.event.published");
        using var delivered = Collect<long>(server.Services, "uploadista.event.delivered");
        using var queued = Collect<double>(server.Services, "uploadista.event.queue.duration");
        using var latency = Collect<double>(server.Services, "uploadista.event.publish_to_write.duration");
        using var publishing = Collect<double>(server.Services, "uploadista.publish.duration");
        SampleEveryEvent(server.Services);
        await using var first = await server.JoinUploadAsync("typed");
        await using var second = await server.JoinUploadAsync("typed");

        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "typed", Filename = "f", Size = 3 });
        for (var i = 1; i <= 3; i++)
        {
            await server.Publisher.PublishAsync(new UploadProgressEvent { UploadId = "typed", Progress = i / 3.0, BytesUploaded = i, TotalBytes = 3 });
        }

        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "typed", Url = "https://example.com/typed" });
        foreach (var socket in new[] { first, second })
        {
            for (var i = 0; i < 5; i++)
            {
                await socket.ReceiveJsonAsync();
            }
        }

        published.Total(Tag("uploadista.event.type", "upload_started")).Should().Be(1);
        published.Total(Tag("uploadista.event.type", "upload_progress")).Should().Be(3);
        published.Total(Tag("uploadista.event.type", "upload_complete")).Should().Be(1);
        published.Total().Should().Be(5);

        await Eventually.HoldsAsync(() => delivered.Total() == 10, "five events were written to each of the two sockets");
        queued.GetMeasurementSnapshot().Should().HaveCount(10).And.OnlyContain(m => m.Value >= 0 && m.Value < 15);
        latency.GetMeasurementSnapshot().Should().HaveCount(10).And.OnlyContain(m => m.Value >= 0 && m.Value < 15);
        publishing.GetMeasurementSnapshot().Should().HaveCount(5)
            .And.OnlyContain(m => m.MatchesTags(Tag("uploadista.broadcaster", "memory"), Tag("uploadista.publish.outcome", "published")));
    }

    [Fact]
    public void A_live_event_s_latency_runs_from_its_publish_timestamp_and_a_catch_up_event_has_none()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 10, 15, 30, 250, TimeSpan.Zero));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new UploadistaMetrics(services.GetRequiredService<IMeterFactory>(), clock, new ConnectionTracker(Options.Create(new UploadistaEventsOptions())))
        {
            HistogramSampling = 1,
        };
        using var latency = Collect<double>(services, "uploadista.event.publish_to_write.duration");
        using var queued = Collect<double>(services, "uploadista.event.queue.duration");
        var queue = new SendQueue(16, metrics);

        // Published at 10:15:30.250, read from retained state (catch-up) and queued at 10:15:31.
        var old = ChannelEvent.Create(1, "e", EventPublisher.Serialize(new UploadErrorEvent { UploadId = "u", Error = "old" }, clock.GetUtcNow()));
        clock.Advance(TimeSpan.FromMilliseconds(750));
        queue.AddCatchUp([old]);

        // Published at 10:15:31.000 and queued live, then both are taken at 10:15:33.500.
        queue.Add(ChannelEvent.Create(2, "e", EventPublisher.Serialize(new UploadErrorEvent { UploadId = "u", Error = "live" }, clock.GetUtcNow())));
        clock.Advance(TimeSpan.FromMilliseconds(2500));
        queue.Take(new ChannelEvent?[4], 1 << 20).Count.Should().Be(2);

        latency.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal([2.5], "the catch-up event's age is no delivery delay");
        queued.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal([2.5, 2.5], "each waited in the queue from 10:15:31");
    }

    [Fact]
    public async Task A_publish_shows_in_the_trace_of_the_code_that_publishes()
    {
        await using var server = await EventsServer.StartAsync();
        using var testSource = new ActivitySource("Uploadista.Events.Tests");
        var recorded = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Uploadista.Events" or "Uploadista.Events.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = recorded.Add,
        };
        ActivitySource.AddActivityListener(listener);

        using (var request = testSource.StartActivity("request"))
        {
            await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "traced-job", UploadId = "traced", FlowName = "f" });
            request!.Stop();

            // One span per channel the event went to: the job's and the upload's.
            var spans = recorded.Where(a => a.OperationName == "uploadista.publish" && a.ParentSpanId == request.SpanId).ToList();
            spans.Select(a => a.GetTagItem("uploadista.channel.kind")).Should().BeEquivalentTo(["flow", "upload"]);
            spans.Should().OnlyContain(a =>
                a.Kind == ActivityKind.Producer
                && (string?)a.GetTagItem("uploadista.event.type") == "flow_started"
                && (string?)a.GetTagItem("uploadista.broadcaster") == "memory"
                && (long?)a.GetTagItem("uploadista.event.seq") == 1
                && a.TraceId == request.TraceId);
        }
    }

    [Fact]
    public async Task The_in_memory_broadcaster_is_always_healthy_and_says_how_many_sockets_are_open()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddHealthChecks().AddUploadistaEvents());
        await using var socket = await server.JoinUploadAsync("healthy");

        var report = await server.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(TestContext.Current.CancellationToken);

        report.Status.Should().Be(HealthStatus.Healthy);
        var entry = report.Entries["uploadista-events"];
        entry.Data["broadcaster"].Should().Be("memory");
        entry.Data["connections"].Should().Be(1);
        entry.Data["channels_catching_up"].Should().Be(0);
    }
}
