using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>
/// What clients are promised through Redis faults: a publish applied once even when its reply was
/// lost, seq that never goes back when Redis loses its data, and messages that Redis does not back
/// never reaching a browser. Each test has a Redis of its own, which it freezes, kills or empties.
/// </summary>
public sealed class RedisGuaranteeTests : IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private RedisServer _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServer.StartOwnAsync();

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_publish_whose_reply_a_frozen_redis_never_sent_in_time_is_applied_once()
    {
        // Replies later than 500 ms count as lost, so the publisher sends the batch again.
        await using var publisher = await StartHostAsync(",asyncTimeout=500");
        await using var watcher = await StartHostAsync();
        await using var socket = await watcher.JoinUploadAsync("frozen");

        for (var i = 1; i <= 40; i++)
        {
            if (i == 11)
            {
                await _redis.FreezeAsync();
            }

            // Event 11 waits for the timeout and is kept; 12 to 15 wait behind it; then Redis runs again
            // and answers the first attempt, late.
            await publisher.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "frozen", Error = $"{i}" }, TestContext.Current.CancellationToken);
            if (i == 15)
            {
                await _redis.ThawAsync();
            }
        }

        await Eventually.HoldsAsync(() => Broadcaster(publisher).PendingCount == 0, "every event is in Redis", TimeSpan.FromSeconds(30));
        var errors = new List<string>();
        while (errors.Count < 40)
        {
            var frame = await socket.ReceiveJsonAsync();
            errors.Add(frame.GetProperty("error").GetString()!);
        }

        errors.Should().Equal(Enumerable.Range(1, 40).Select(i => $"{i}"), "each event arrives once, in order");
        var retained = (await Broadcaster(watcher).GetRetainedAsync("upload:frozen", 0)).Events;
        retained.Select(e => JsonDocument.Parse(e.Frame).RootElement.GetProperty("error").GetString())
            .Should().Equal(Enumerable.Range(1, 40).Select(i => $"{i}"), "Redis retained each event once");
        retained.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, 40).Select(i => (long)i));
        await socket.SendAsync("""{"type":"ping"}""");
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("pong", "nothing was sent twice");
    }

    [Fact]
    public async Task Publishers_waiting_behind_a_batch_that_failed_stop_waiting_while_redis_is_frozen()
    {
        await using var publisher = await StartHostAsync(",asyncTimeout=500");
        var broadcaster = Broadcaster(publisher);
        (await broadcaster.PublishAsync("upload:behind", Publication("first"))).Should().Be(1);
        await _redis.FreezeAsync();
        try
        {
            // The first waits for its batch, the others behind it; when the batch times out, none
            // of them may go on waiting for Redis.
            var publishing = new List<Task<long>> { broadcaster.PublishAsync("upload:behind", Publication("2")).AsTask() };
            await Eventually.HoldsAsync(() => broadcaster.SendingCount == 1, "the batch of event 2 is on its way");
            publishing.AddRange(Enumerable.Range(3, 4).Select(i => broadcaster.PublishAsync("upload:behind", Publication($"{i}")).AsTask()));
            var all = Task.WhenAll(publishing);
            (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken))).Should().BeSameAs(all, "publishing never waits out a broker outage");
            (await all).Should().OnlyContain(seq => seq == 0, "the events wait for Redis");
        }
        finally
        {
            await _redis.ThawAsync();
        }

        await Eventually.HoldsAsync(() => broadcaster.PendingCount == 0, "the events were published once Redis ran again", TimeSpan.FromSeconds(30));
        (await broadcaster.GetRetainedAsync("upload:behind", 0)).Events.Select(e => e.Seq).Should().Equal(1, 2, 3, 4, 5, 6);
    }

    [Fact]
    public async Task When_redis_restarts_empty_a_channel_continues_above_the_seq_its_instances_remember()
    {
        await using var publisher = await StartHostAsync();
        await using var watcher = await StartHostAsync();
        await using var socket = await watcher.JoinUploadAsync("slow");
        for (var i = 1; i <= 20; i++)
        {
            await publisher.Publisher.PublishAsync(Progress("slow", i, 100), TestContext.Current.CancellationToken);
            (await socket.ReceiveJsonAsync()).GetProperty("seq").GetInt64().Should().Be(i);
        }

        await _redis.KillAsync();
        await _redis.RestartAsync();
        await publisher.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "slow", Error = "disk full" }, TestContext.Current.CancellationToken);
        for (var i = 21; i <= 45; i++)
        {
            await publisher.Publisher.PublishAsync(Progress("slow", i, 100), TestContext.Current.CancellationToken);
        }

        await Eventually.HoldsAsync(() => Broadcaster(publisher).PendingCount == 0, "every event is in Redis", TimeSpan.FromSeconds(30));

        // The open socket sees seq go on from 21: no reset, nothing twice, nothing missing but
        // superseded progress.
        var frames = await ReceiveUntilAsync(socket, f => f.GetProperty("seq").GetInt64() == 46);
        frames.Select(f => f.GetProperty("seq").GetInt64()).Should().BeInAscendingOrder().And.OnlyContain(seq => seq > 20);
        frames.Should().Contain(f => f.GetProperty("type").GetString() == "upload_error" && f.GetProperty("seq").GetInt64() == 21);

        // A client that resumes from 20, on either instance, gets the error.
        await using var resumed = await TestSocket.ConnectAsync(publisher.UploadSocketUri("slow", "?since=20"));
        var missed = await ReceiveUntilAsync(resumed, f => f.GetProperty("seq").GetInt64() == 46);
        missed.Select(f => (f.GetProperty("seq").GetInt64(), f.GetProperty("type").GetString())).Should().Equal((21L, "upload_error"), (46L, "upload_progress"));
    }

    [Fact]
    public async Task When_redis_restarts_empty_and_no_instance_remembers_a_resume_with_its_epoch_starts_over()
    {
        string epoch;
        await using (var first = await StartHostAsync())
        {
            await using var socket = await first.JoinUploadAsync("forgotten");
            for (var i = 1; i <= 20; i++)
            {
                await first.Publisher.PublishAsync(Progress("forgotten", i, 100), TestContext.Current.CancellationToken);
                await socket.ReceiveJsonAsync();
            }

            // The browser client asks once per connection, and resumes with what the pong names.
            await socket.SendAsync("""{"type":"ping"}""");
            epoch = (await socket.ReceiveJsonAsync()).GetProperty("epoch").GetString()!;
        }

        await _redis.KillAsync();
        await _redis.RestartAsync();
        await using var second = await StartHostAsync();
        await second.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "forgotten", Error = "disk full" }, TestContext.Current.CancellationToken);
        for (var i = 21; i <= 45; i++)
        {
            await second.Publisher.PublishAsync(Progress("forgotten", i, 100), TestContext.Current.CancellationToken);
        }

        // Nobody remembered run 1, so the channel started a new one at 1 and is now at 26, above the
        // client's since: only the epoch tells that since=20 belongs to the lost run.
        await using var resumed = await TestSocket.ConnectAsync(second.UploadSocketUri("forgotten", $"?since=20&epoch={epoch}"));
        var frames = await ReceiveUntilAsync(resumed, f => f.GetProperty("seq").GetInt64() == 26);
        frames.Select(f => (f.GetProperty("seq").GetInt64(), f.GetProperty("type").GetString())).Should().Equal((1L, "upload_error"), (26L, "upload_progress"));
        await resumed.SendAsync("""{"type":"ping"}""");
        (await resumed.ReceiveJsonAsync()).GetProperty("epoch").GetString().Should().NotBe(epoch);
    }

    [Fact]
    public async Task An_open_socket_whose_channel_starts_over_beneath_it_is_closed_rather_than_shown_seq_going_back()
    {
        await using var watcher = await StartHostAsync();
        await using var publisher = await StartHostAsync();
        await using var socket = await watcher.JoinUploadAsync("reset");
        for (var i = 1; i <= 5; i++)
        {
            await publisher.Publisher.PublishAsync(Progress("reset", i, 10), TestContext.Current.CancellationToken);
            await socket.ReceiveJsonAsync();
        }

        // Redis loses the data without dropping a connection, and an instance that never saw the
        // channel publishes first: the channel starts a new run at 1.
        await _redis.CliAsync("FLUSHALL");
        await using var newcomer = await StartHostAsync();
        await newcomer.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "reset", Error = "restarted" }, TestContext.Current.CancellationToken);

        (await socket.ReceiveCloseAsync()).Should().Be((System.Net.WebSockets.WebSocketCloseStatus)4010);
        await using var again = await TestSocket.ConnectAsync(watcher.UploadSocketUri("reset"));
        var restarted = await again.ReceiveJsonAsync();
        (restarted.GetProperty("seq").GetInt64(), restarted.GetProperty("error").GetString()).Should().Be((1L, "restarted"));
    }

    [Fact]
    public async Task Messages_redis_does_not_back_never_reach_a_socket_nor_silence_it()
    {
        await using var host = await StartHostAsync();
        await using var socket = await host.JoinUploadAsync("forged");
        for (var i = 1; i <= 3; i++)
        {
            await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "forged", Error = $"{i}" }, TestContext.Current.CancellationToken);
            await socket.ReceiveJsonAsync();
        }

        await socket.SendAsync("""{"type":"ping"}""");
        var epoch = (await socket.ReceiveJsonAsync()).GetProperty("epoch").GetString();
        const string Json = """{"type":"upload_error","uploadId":"forged","error":"forged"}""";
        foreach (var (forgedEpoch, first) in new[] { (epoch, 1000L), ("1.1", 1L) })
        {
            var message = $"U2 {forgedEpoch} {first} intruder 1 1\n0 0 {Json.Length} {Json}";
            (await _redis.CliAsync("PUBLISH", $"{_prefix}{{upload:forged}}", message)).Should().Be("1");
        }

        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "forged", Error = "4" }, TestContext.Current.CancellationToken);

        var next = await socket.ReceiveJsonAsync();
        (next.GetProperty("seq").GetInt64(), next.GetProperty("error").GetString()).Should().Be((4L, "4"), "the forged messages were dropped, and the real event 4 is not taken for one already seen");
        await Eventually.HoldsAsync(() => host.Logs.GetSnapshot().Count(r => r.Id.Name == "UnbackedMessage") >= 2, "the forged messages were logged");
    }

    [Fact]
    public async Task Stopping_with_redis_down_waits_a_bounded_time_and_says_how_many_events_are_lost()
    {
        var host = await EventsServer.StartAsync(services: s =>
        {
            s.AddUploadistaEvents().AddRedis(o =>
            {
                o.Configuration = _redis.Configuration + ",connectTimeout=2000";
                o.ChannelPrefix = _prefix;
            });
            s.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        });
        var logs = host.Logs;
        await host.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "stopping", Filename = "f", Size = 1 }, TestContext.Current.CancellationToken);
        await _redis.KillAsync();
        await host.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "stopping", Url = "https://example.com/f" }, TestContext.Current.CancellationToken);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await host.DisposeAsync();

        stopping.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "an outage is not waited out");
        logs.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "UnpublishedAtShutdown").Which.Message.Should().Contain("1 events");
    }

    private static RedisEventBroadcaster Broadcaster(EventsServer host) => host.Services.GetRequiredService<RedisEventBroadcaster>();

    private Task<EventsServer> StartHostAsync(string settings = "") => EventsServer.StartOnRedisAsync(_redis.Configuration + ",connectTimeout=2000" + settings, _prefix);

    private static EventPublication Publication(string error)
        => new(System.Text.Encoding.UTF8.GetBytes($$"""{"type":"upload_error","uploadId":"behind","error":"{{error}}"}"""), null);

    private static UploadProgressEvent Progress(string uploadId, long bytes, long total)
        => new() { UploadId = uploadId, Progress = (double)bytes / total, BytesUploaded = bytes, TotalBytes = total };

    private static async Task<List<JsonElement>> ReceiveUntilAsync(TestSocket socket, Func<JsonElement, bool> last)
    {
        var frames = new List<JsonElement>();
        do
        {
            frames.Add(await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(30)));
        }
        while (!last(frames[^1]));

        return frames;
    }
}
