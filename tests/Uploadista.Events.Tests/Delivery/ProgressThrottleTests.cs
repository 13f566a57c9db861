using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Delivery;

/// <summary>Publish-side throttling of progress, on a clock the test moves.</summary>
public sealed class ProgressThrottleTests : IAsyncLifetime
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private EventsServer _server = null!;

    public async ValueTask InitializeAsync()
        => _server = await EventsServer.StartAsync(o => o.ProgressInterval = Interval, services: s => s.AddSingleton<TimeProvider>(_clock));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Progress_within_the_interval_waits_and_only_the_newest_goes_out_when_it_is_up()
    {
        var subscriber = await SubscribeAsync("upload:t1");

        for (var i = 1; i <= 50; i++)
        {
            await Publish(Progress("t1", i));
        }

        subscriber.Events.Should().ContainSingle("the first progress goes out at once, the rest wait");
        _clock.Advance(Interval);

        await subscriber.WaitForAsync(2);
        Bytes(subscriber.Events[1]).Should().Be(50, "the newest waiting progress replaced the older ones");
        _clock.Advance(Interval * 5);
        subscriber.Events.Should().HaveCount(2, "nothing else was waiting");
    }

    [Fact]
    public async Task Final_progress_goes_out_at_once()
    {
        var subscriber = await SubscribeAsync("upload:t2");

        await Publish(Progress("t2", 10));
        await Publish(Progress("t2", 20));
        await Publish(Progress("t2", 100));
        _clock.Advance(Interval * 2);

        (await subscriber.WaitForAsync(2)).Select(Bytes).Should().Equal(10, 100);
        subscriber.Events.Should().HaveCount(2, "the 20% progress was superseded by the final one");
    }

    [Fact]
    public async Task A_terminal_event_is_never_held_and_waiting_progress_goes_out_just_before_it()
    {
        var subscriber = await SubscribeAsync("upload:t3");

        await Publish(new UploadStartedEvent { UploadId = "t3", Filename = "f", Size = 100 });
        await Publish(Progress("t3", 10));
        await Publish(Progress("t3", 42));
        await Publish(new UploadErrorEvent { UploadId = "t3", Error = "Network connection lost" });

        // No time passed: the error went out at once, right after the progress that was waiting.
        var events = await subscriber.WaitForAsync(4);
        events.Select(Type).Should().Equal("upload_started", "upload_progress", "upload_progress", "upload_error");
        Bytes(events[2]).Should().Be(42);
    }

    [Fact]
    public async Task Each_flow_node_is_throttled_on_its_own_and_flow_complete_flushes_them_all()
    {
        var subscriber = await SubscribeAsync("flow:j4");

        await Publish(Node("a", 0.1));
        await Publish(Node("b", 0.1));
        await Publish(Node("a", 0.2));
        await Publish(Node("b", 0.3));
        (await subscriber.WaitForAsync(2)).Select(Describe).Should().Equal("a@0.1", "b@0.1");

        await Publish(new FlowCompleteEvent { JobId = "j4", Outputs = new Dictionary<string, string>() });

        (await subscriber.WaitForAsync(5)).Skip(2).Select(Describe).Should().BeEquivalentTo(["a@0.2", "b@0.3", "flow_complete"], o => o.WithoutStrictOrdering());
        Type(subscriber.Events[^1]).Should().Be("flow_complete");
    }

    [Fact]
    public async Task Throttling_is_off_at_zero()
    {
        await using var server = await EventsServer.StartAsync(o => o.ProgressInterval = TimeSpan.Zero, services: s => s.AddSingleton<TimeProvider>(_clock));
        var subscriber = new RecordingSubscriber();
        await server.Services.GetRequiredService<IEventBroadcaster>().SubscribeAsync("upload:t5", subscriber);

        for (var i = 1; i <= 20; i++)
        {
            await server.Publisher.PublishAsync(Progress("t5", i));
        }

        (await subscriber.WaitForAsync(20)).Should().HaveCount(20);
    }

    private async Task<RecordingSubscriber> SubscribeAsync(string channel)
    {
        var subscriber = new RecordingSubscriber();
        await _server.Services.GetRequiredService<IEventBroadcaster>().SubscribeAsync(channel, subscriber);
        return subscriber;
    }

    private ValueTask Publish(UploadistaEvent uploadistaEvent) => _server.Publisher.PublishAsync(uploadistaEvent);

    private static UploadProgressEvent Progress(string uploadId, long bytes)
        => new() { UploadId = uploadId, Progress = bytes / 100.0, BytesUploaded = bytes, TotalBytes = 100 };

    private static FlowProgressEvent Node(string nodeId, double progress)
        => new() { JobId = "j4", NodeId = nodeId, NodeName = nodeId, Progress = progress };

    private static JsonElement Json(ChannelEvent channelEvent) => JsonDocument.Parse(channelEvent.Frame).RootElement;

    private static string? Type(ChannelEvent channelEvent) => Json(channelEvent).GetProperty("type").GetString();

    private static long Bytes(ChannelEvent channelEvent) => Json(channelEvent).GetProperty("bytesUploaded").GetInt64();

    private static string Describe(ChannelEvent channelEvent)
    {
        var json = Json(channelEvent);
        return json.TryGetProperty("nodeId", out var node)
            ? $"{node.GetString()}@{json.GetProperty("progress").GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture)}"
            : json.GetProperty("type").GetString()!;
    }
}
