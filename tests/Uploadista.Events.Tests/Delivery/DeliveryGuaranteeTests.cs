using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Delivery;

/// <summary>protocol.md section 4, through real sockets, on each broadcaster.</summary>
public abstract class DeliveryGuaranteeTests : HostsOnEachBroadcaster
{
    [Fact]
    public async Task A_socket_opened_after_completion_gets_exactly_started_last_progress_and_complete()
    {
        var host = await HostAsync();
        var other = await PeerAsync(host);
        await host.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "late", Filename = "f", Size = 10 });
        for (var i = 1; i <= 10; i++)
        {
            await host.Publisher.PublishAsync(Progress("late", i, 10));
        }

        await host.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "late", Url = "https://example.com/f" });

        await using var socket = await TestSocket.ConnectAsync(other.UploadSocketUri("late"));
        var frames = new[] { await socket.ReceiveJsonAsync(), await socket.ReceiveJsonAsync(), await socket.ReceiveJsonAsync() };
        await socket.SendAsync("""{"type":"ping"}""");

        frames.Select(f => (f.GetProperty("type").GetString(), f.GetProperty("seq").GetInt64()))
            .Should().Equal(("upload_started", 1L), ("upload_progress", 11L), ("upload_complete", 12L));
        frames[1].GetProperty("progress").GetDouble().Should().Be(1);
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("pong", "nothing else was retained");
    }

    [Fact]
    public async Task Reconnecting_with_since_mid_stream_gets_exactly_what_it_missed_then_live_events()
    {
        var host = await HostAsync();
        var other = await PeerAsync(host);
        var first = await host.JoinUploadAsync("resume");
        await other.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "resume", Filename = "f", Size = 10 });       // 1
        await other.Publisher.PublishAsync(Progress("resume", 1, 10));                                                       // 2
        await other.Publisher.PublishAsync(Progress("resume", 2, 10));                                                       // 3
        await other.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j-resume", UploadId = "resume", FlowName = "f" }); // 4
        await other.Publisher.PublishAsync(NodeProgress("j-resume", "resume", "a", 0.5));                                  // 5
        for (var seq = 1; seq <= 3; seq++)
        {
            (await first.ReceiveJsonAsync()).GetProperty("seq").GetInt64().Should().Be(seq);
        }

        await first.DisposeAsync();
        await other.Publisher.PublishAsync(Progress("resume", 3, 10));                                                       // 6
        await other.Publisher.PublishAsync(NodeProgress("j-resume", "resume", "a", 1));                                    // 7
        await other.Publisher.PublishAsync(Progress("resume", 4, 10));                                                       // 8

        await using var second = await TestSocket.ConnectAsync(other.UploadSocketUri("resume", "?since=3"));
        var missed = new[] { await second.ReceiveJsonAsync(), await second.ReceiveJsonAsync(), await second.ReceiveJsonAsync() };
        await host.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "resume", Url = "https://example.com/f" });   // 9
        var live = await second.ReceiveJsonAsync();

        missed.Select(f => (f.GetProperty("seq").GetInt64(), f.GetProperty("type").GetString()))
            .Should().Equal((4L, "flow_started"), (7L, "flow_progress"), (8L, "upload_progress"));
        missed[2].GetProperty("bytesUploaded").GetInt64().Should().Be(4);
        (live.GetProperty("seq").GetInt64(), live.GetProperty("type").GetString()).Should().Be((9L, "upload_complete"));
    }

    [Fact]
    public async Task A_since_beyond_the_channel_s_last_seq_or_of_another_epoch_starts_over()
    {
        var host = await HostAsync();
        var other = await PeerAsync(host);
        await host.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "over", Filename = "f", Size = 10 });
        await host.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "over", Url = "https://example.com/f" });

        foreach (var query in new[] { "?since=9", "?since=1&epoch=another-run" })
        {
            await using var socket = await TestSocket.ConnectAsync(other.UploadSocketUri("over", query));
            var frames = new[] { await socket.ReceiveJsonAsync(), await socket.ReceiveJsonAsync() };
            frames.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal([1L, 2L], $"{query} is from a run the channel no longer has");
        }
    }

    [Fact]
    public async Task A_since_with_the_epoch_a_pong_named_resumes_exactly()
    {
        var host = await HostAsync();
        var other = await PeerAsync(host);
        await using var first = await host.JoinUploadAsync("named");
        await other.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "named", Filename = "f", Size = 10 });
        await first.ReceiveJsonAsync();
        await first.SendAsync("""{"type":"ping"}""");
        var epoch = (await first.ReceiveJsonAsync()).GetProperty("epoch").GetString();
        await other.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "named", Url = "https://example.com/f" });

        await using var resumed = await TestSocket.ConnectAsync(other.UploadSocketUri("named", $"?since=1&epoch={epoch}"));
        var next = await resumed.ReceiveJsonAsync();

        (next.GetProperty("seq").GetInt64(), next.GetProperty("type").GetString()).Should().Be((2L, "upload_complete"));
    }

    [Fact]
    public async Task Two_instances_publishing_to_one_upload_at_once_give_every_socket_seq_one_by_one()
    {
        const int PerInstance = 300;
        var host = await HostAsync();
        var other = await PeerAsync(host);
        var sockets = new List<TestSocket>();
        for (var i = 0; i < 10; i++)
        {
            sockets.Add(await (i % 2 == 0 ? host : other).JoinUploadAsync("race"));
        }

        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < PerInstance; i++) { await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "race", Error = $"a{i}" }); } }),
            Task.Run(async () => { for (var i = 0; i < PerInstance; i++) { await other.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "race", Error = $"b{i}" }); } }));

        await Parallel.ForEachAsync(sockets, async (socket, _) =>
        {
            var errors = new List<string>();
            for (var seq = 1; seq <= 2 * PerInstance; seq++)
            {
                var frame = await socket.ReceiveJsonAsync();
                frame.GetProperty("seq").GetInt64().Should().Be(seq);
                errors.Add(frame.GetProperty("error").GetString()!);
            }

            errors.Should().OnlyHaveUniqueItems().And.HaveCount(2 * PerInstance);
            var fromFirst = errors.Where(e => e[0] == 'a').Select(e => int.Parse(e.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture)).ToList();
            fromFirst.Should().BeInAscendingOrder("one publisher's events keep their order");
            await socket.DisposeAsync();
        });
    }

    [Fact]
    public async Task A_stalled_client_never_delays_fifty_healthy_ones_and_is_closed_as_a_slow_consumer()
    {
        const int Capacity = 32;
        const int Events = 2000;
        var host = await HostAsync(o => { o.SendQueueCapacity = Capacity; o.CloseTimeout = TimeSpan.FromSeconds(60); });
        var other = await PeerAsync(host);
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();
        var healthy = new List<TestSocket>();
        for (var i = 0; i < 50; i++)
        {
            healthy.Add(await host.JoinUploadAsync("stall"));
        }

        await using var stalled = await RawWebSocket.ConnectAsync(host.UploadSocketUri("stall"));
        await stalled.SendTextAsync("""{"type":"ping"}""");
        (await stalled.ReceiveTextOrCloseAsync()).Should().Contain("pong");

        // The healthy clients keep up with the publisher, batch by batch, while the stalled one reads nothing.
        var largestQueue = 0;
        var bigError = new string('x', 2048);
        await PublishKeepingUpAsync(healthy, Events, Capacity / 2, async i =>
        {
            await other.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "stall", Error = $"{i} {bigError}" });
            largestQueue = Math.Max(largestQueue, tracker.Snapshot().Max(e => e.QueuedCount));
        });

        largestQueue.Should().BeLessThanOrEqualTo(Capacity, "no connection's queue grows past its capacity");
        var slow = tracker.Snapshot().Single(e => e.CloseStatus is not null);
        slow.CloseStatus.Should().Be((WebSocketCloseStatus)4008);
        slow.QueuedCount.Should().Be(0, "a connection closed as a slow consumer holds no queued events");

        // When it reads again, it finds what had been sent before the overflow, then the 4008 close.
        var seqs = new List<long>();
        while (await stalled.ReceiveTextOrCloseAsync() is { } text)
        {
            seqs.Add(JsonDocument.Parse(text).RootElement.GetProperty("seq").GetInt64());
        }

        seqs.Should().Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i)).And.HaveCountLessThan(Events);
        stalled.Socket.CloseStatus.Should().Be((WebSocketCloseStatus)4008);
        stalled.Socket.CloseStatusDescription.Should().Contain("since");
        foreach (var socket in healthy)
        {
            await socket.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_client_that_never_reads_again_is_dropped_after_the_close_timeout()
    {
        var host = await HostAsync(o => { o.SendQueueCapacity = 16; o.CloseTimeout = TimeSpan.FromSeconds(1); });
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();
        await using var healthy = await host.JoinUploadAsync("gone");
        await using var stalled = await RawWebSocket.ConnectAsync(host.UploadSocketUri("gone"));
        await Eventually.HoldsAsync(() => tracker.Count == 2, "both connections are open");

        var bigError = new string('x', 4096);
        await PublishKeepingUpAsync([healthy], 1500, 8, i => host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "gone", Error = $"{i} {bigError}" }).AsTask());

        await Eventually.HoldsAsync(() => tracker.Count == 1, "the stalled connection was dropped");
    }

    [Fact]
    public async Task A_slow_client_loses_superseded_progress_but_never_the_start_or_the_end()
    {
        const int Steps = 5000;
        var host = await HostAsync(o => o.SendQueueCapacity = 16);
        var other = await PeerAsync(host);
        await using var slow = await RawWebSocket.ConnectAsync(host.FlowSocketUri("slow-job"));
        await slow.SendTextAsync("""{"type":"ping"}""");
        (await slow.ReceiveTextOrCloseAsync()).Should().Contain("pong");

        var longName = new string('n', 2048);
        await other.Publisher.PublishAsync(new FlowStartedEvent { JobId = "slow-job", FlowName = "f" });
        for (var i = 1; i <= Steps; i++)
        {
            await other.Publisher.PublishAsync(new FlowProgressEvent { JobId = "slow-job", NodeId = "n", NodeName = longName, Progress = (double)i / Steps });
        }

        await other.Publisher.PublishAsync(new FlowCompleteEvent { JobId = "slow-job", Outputs = new Dictionary<string, string>() });

        var frames = new List<JsonElement>();
        do
        {
            var text = await slow.ReceiveTextOrCloseAsync();
            text.Should().NotBeNull("a slow client whose queue holds only superseded progress is not closed");
            frames.Add(JsonDocument.Parse(text!).RootElement.Clone());
        }
        while (frames[^1].GetProperty("type").GetString() != "flow_complete");

        frames[0].GetProperty("type").GetString().Should().Be("flow_started");
        frames.Select(f => f.GetProperty("seq").GetInt64()).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        frames.Should().HaveCountLessThan(Steps + 2, "superseded progress was dropped for the slow client");
        frames[^2].GetProperty("progress").GetDouble().Should().Be(1, "the newest progress is always kept");
        frames[^1].GetProperty("seq").GetInt64().Should().Be(Steps + 2);
    }

    /// <summary>
    /// Publishes <paramref name="count"/> events in batches, waiting after each until every reader has
    /// all of them in order: the readers keep up, so only a client that does not read falls behind.
    /// </summary>
    private static async Task PublishKeepingUpAsync(IReadOnlyList<TestSocket> readers, int count, int batch, Func<int, Task> publish)
    {
        var received = new int[readers.Count];
        var reading = readers.Select((socket, r) => Task.Run(async () =>
        {
            while (received[r] < count)
            {
                using var frame = JsonDocument.Parse(await socket.ReceiveTextAsync());
                frame.RootElement.GetProperty("seq").GetInt64().Should().Be(received[r] + 1);
                Volatile.Write(ref received[r], received[r] + 1);
            }
        })).ToList();

        for (var i = 1; i <= count; i++)
        {
            await publish(i);
            if (i % batch == 0 || i == count)
            {
                var published = i;
                await Eventually.HoldsAsync(
                    () => reading.Any(r => r.IsFaulted) || Enumerable.Range(0, received.Length).All(r => Volatile.Read(ref received[r]) >= published),
                    $"every reader has the first {published} events");
            }
        }

        await Task.WhenAll(reading);
    }

    private static UploadProgressEvent Progress(string uploadId, long bytes, long total)
        => new() { UploadId = uploadId, Progress = (double)bytes / total, BytesUploaded = bytes, TotalBytes = total };

    private static FlowProgressEvent NodeProgress(string jobId, string uploadId, string nodeId, double progress)
        => new() { JobId = jobId, UploadId = uploadId, NodeId = nodeId, NodeName = nodeId.ToUpperInvariant(), Progress = progress };
}

public sealed class MemoryDeliveryGuaranteeTests : DeliveryGuaranteeTests
{
    protected override bool HostsShareEvents => false;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure) => EventsServer.StartAsync(configure);
}

public sealed class RedisDeliveryGuaranteeTests(RedisFixture redis) : DeliveryGuaranteeTests, IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override bool HostsShareEvents => true;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure)
        => EventsServer.StartOnRedisAsync(redis.Server.Configuration, _prefix, configure);
}
