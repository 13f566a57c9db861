using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Uploadista.Events.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>What only the Redis broadcaster has to get right: bad data, lost connections, a dead Redis.</summary>
public sealed class RedisBroadcasterTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private readonly FakeLogger<RedisEventBroadcaster> _log = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    [Fact]
    public async Task Garbage_published_with_redis_cli_is_dropped_with_a_log_line_and_delivery_goes_on()
    {
        var broadcaster = await StartAsync(redis.Server);
        var subscriber = new RecordingSubscriber();
        _owned.Add(await broadcaster.SubscribeAsync("upload:g", subscriber));

        var garbage = new[] { "hello", "-1:e:0:{\"a\":1}", string.Empty, "U2 e 1 p 1 1\n0 0 10 {not json}", "U2 e 1 p 1 1\n0 0 99 {\"a\":1}", "U2 truncated" };
        foreach (var message in garbage)
        {
            (await redis.Server.CliAsync("PUBLISH", $"{_prefix}{{upload:g}}", message)).Should().Be("1", "the broadcaster is subscribed");
        }

        await broadcaster.PublishAsync("upload:g", Publication("""{"type":"upload_error","uploadId":"g","error":"real"}"""));

        var received = await subscriber.WaitForAsync(1);
        RecordingSubscriber.Text(received.Single()).Should().Be("""{"type":"upload_error","uploadId":"g","error":"real","seq":1}""");
        await Eventually.HoldsAsync(() => _log.Collector.GetSnapshot().Count(r => r.Id.Name == "InvalidMessage") == garbage.Length, "each bad message was logged");
    }

    [Fact]
    public async Task Messages_of_the_first_release_s_format_are_dropped_and_said_so_once()
    {
        var broadcaster = await StartAsync(redis.Server);
        var subscriber = new RecordingSubscriber();
        _owned.Add(await broadcaster.SubscribeAsync("upload:v1", subscriber));

        foreach (var message in new[] { "7:1764412345.123456:0:{\"type\":\"upload_error\",\"uploadId\":\"v1\",\"error\":\"old\",\"seq\":7}", "1:e:0:not json" })
        {
            await redis.Server.CliAsync("PUBLISH", $"{_prefix}{{upload:v1}}", message);
        }

        await broadcaster.PublishAsync("upload:v1", Publication("""{"type":"upload_error","uploadId":"v1","error":"new"}"""));

        (await subscriber.WaitForAsync(1)).Single().Seq.Should().Be(1);
        await Eventually.HoldsAsync(() => _log.Collector.GetSnapshot().Any(r => r.Id.Name == "Format1Dropped"), "the old format was logged");
        _log.Collector.GetSnapshot().Count(r => r.Id.Name == "Format1Dropped").Should().Be(1, "it is said at most once a minute");
        _log.Collector.GetSnapshot().Should().NotContain(r => r.Id.Name == "InvalidMessage");
    }

    [Fact]
    public async Task Garbage_in_the_retained_state_is_skipped()
    {
        var broadcaster = await StartAsync(redis.Server);
        await broadcaster.PublishAsync("upload:r", Publication("""{"type":"upload_error","uploadId":"r","error":"real"}"""));
        await redis.Server.CliAsync("HSET", $"{_prefix}{{upload:r}}:m", "2r:7:1", "junk");
        await redis.Server.CliAsync("HSET", $"{_prefix}{{upload:r}}:m", "2p:upload_progress", "0 15 4 upload_progress{no}", "2f:upload_progress", "7");

        var retained = (await broadcaster.GetRetainedAsync("upload:r", 0)).Events;

        retained.Select(e => e.Seq).Should().Equal(1);
        _log.Collector.GetSnapshot().Should().Contain(r => r.Id.Name == "InvalidMessage");
    }

    [Fact]
    public async Task Retained_state_in_redis_stays_bounded_however_many_events_a_channel_gets()
    {
        var broadcaster = await StartAsync(redis.Server, o => o.MaxRetainedEventsPerChannel = 10);

        // Published 20 at a time, so that batches carry several events.
        for (var round = 0; round < 10; round++)
        {
            await Task.WhenAll(Enumerable.Range(round * 20, 20).Select(i =>
                broadcaster.PublishAsync("upload:many", Publication($$"""{"type":"upload_error","uploadId":"many","error":"{{i}}"}""")).AsTask()));
        }

        var retained = (await broadcaster.GetRetainedAsync("upload:many", 0)).Events;
        retained.Select(e => e.Seq).Should().Equal(Enumerable.Range(191, 10).Select(i => (long)i), "the newest ten are retained");
        var stored = long.Parse(await redis.Server.CliAsync("HGET", $"{_prefix}{{upload:many}}:m", "2c"), System.Globalization.CultureInfo.InvariantCulture);
        stored.Should().BeInRange(10, 10 + 16 + 20, "Redis keeps the maximum, and at most a trimming step and a batch more");
        (await redis.Server.CliAsync("HKEYS", $"{_prefix}{{upload:many}}:m")).Split('\n').Count(f => f.StartsWith("2r:", StringComparison.Ordinal))
            .Should().BeLessThanOrEqualTo(46);
    }

    [Fact]
    public async Task Channels_and_keys_live_under_the_prefix_with_a_hash_tag()
    {
        var broadcaster = await StartAsync(redis.Server);

        await broadcaster.PublishAsync("upload:k", Publication("""{"type":"upload_started","uploadId":"k","filename":"f","size":1}"""));
        await broadcaster.PublishAsync("upload:k", Publication("""{"type":"upload_progress","uploadId":"k","progress":1,"bytesUploaded":1,"totalBytes":1}""", "upload_progress"));

        (await redis.Server.CliAsync("KEYS", $"{_prefix}*")).Should().Be($"{_prefix}{{upload:k}}:m", "one hash holds all of a channel's state");
        var ttl = long.Parse(await redis.Server.CliAsync("PTTL", $"{_prefix}{{upload:k}}:m"), System.Globalization.CultureInfo.InvariantCulture);
        ttl.Should().BeInRange((long)TimeSpan.FromMinutes(59).TotalMilliseconds, (long)TimeSpan.FromMinutes(61).TotalMilliseconds,
            "retained state expires an hour (and a hundredth) after the channel's last event");
    }

    [Fact]
    public async Task Publishing_while_redis_is_down_never_throws_and_the_events_are_published_when_it_returns()
    {
        await using var server = await RedisServer.StartOwnAsync();
        var publisher = await StartAsync(server);
        var subscriber = new RecordingSubscriber();
        var watcher = await StartAsync(server);
        _owned.Add(await watcher.SubscribeAsync("upload:down", subscriber));
        await publisher.PublishAsync("upload:down", Publication("""{"type":"upload_started","uploadId":"down","filename":"f","size":3}"""));
        await subscriber.WaitForAsync(1);

        await server.KillAsync();
        for (var i = 1; i <= 3; i++)
        {
            var publish = async () => await publisher.PublishAsync("upload:down", Publication($$"""{"type":"upload_progress","uploadId":"down","progress":{{i / 3.0}},"bytesUploaded":{{i}},"totalBytes":3}""", "upload_progress"));
            (await publish.Should().NotThrowAsync()).Which.Should().Be(0, "the event waits for Redis");
        }

        await publisher.PublishAsync("upload:down", Publication("""{"type":"upload_complete","uploadId":"down","url":"u"}"""));
        ((RedisEventBroadcaster)publisher).PendingCount.Should().Be(4);
        _log.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "PublishDeferred");

        await server.RestartAsync();

        await Eventually.HoldsAsync(() => ((RedisEventBroadcaster)publisher).PendingCount == 0, "the waiting events were published", TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(() => subscriber.MissedEvents > 0, "the subscriber was told its subscription is back", TimeSpan.FromSeconds(30));

        // Redis lost its data, but the publishing instance remembers the run it handed seq 1 of: the
        // channel continues it, so nobody sees seq go back.
        var retained = (await watcher.GetRetainedAsync("upload:down", 0)).Events;
        retained.Select(e => (e.Seq, e.ConflationKey)).Should().Equal((4L, "upload_progress"), (5L, (string?)null));
        RecordingSubscriber.Text(retained[0]).Should().Contain("\"bytesUploaded\":3");
        retained[0].Epoch.Should().Be(subscriber.Events[0].Epoch);
        _log.Collector.GetSnapshot().Should().Contain(r => r.Id.Name == "PendingPublished");
    }

    [Fact]
    public async Task A_dropped_subscriber_connection_comes_back_and_says_so()
    {
        var broadcaster = await StartAsync(redis.Server);
        var subscriber = new RecordingSubscriber();
        _owned.Add(await broadcaster.SubscribeAsync("upload:kill", subscriber));

        await redis.Server.CliAsync("CLIENT", "KILL", "TYPE", "pubsub");

        await Eventually.HoldsAsync(() => subscriber.MissedEvents > 0, "the subscription was restored");
        await broadcaster.PublishAsync("upload:kill", Publication("""{"type":"upload_error","uploadId":"kill","error":"after"}"""));
        (await subscriber.WaitForAsync(1)).Single().Seq.Should().Be(1);
    }

    private async Task<IEventBroadcaster> StartAsync(RedisServer server, Action<UploadistaEventsOptions>? configure = null)
    {
        var options = new UploadistaEventsOptions();
        configure?.Invoke(options);
        var broadcaster = new RedisEventBroadcaster(
            Options.Create(new RedisEventsOptions { Configuration = server.Configuration + ",connectTimeout=2000", ChannelPrefix = _prefix }),
            Options.Create(options),
            _log);
        await broadcaster.StartAsync();
        _owned.Add(broadcaster);
        return broadcaster;
    }

    private static EventPublication Publication(string json, string? conflationKey = null)
        => new(System.Text.Encoding.UTF8.GetBytes(json), conflationKey);
}
