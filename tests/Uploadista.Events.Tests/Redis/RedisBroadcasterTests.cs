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

        foreach (var garbage in new[] { "hello", "12:abc:999:k{\"a\":1}", "1:e:0:not json", "-1:e:0:{\"a\":1}", string.Empty })
        {
            (await redis.Server.CliAsync("PUBLISH", $"{_prefix}{{upload:g}}", garbage)).Should().Be("1", "the broadcaster is subscribed");
        }

        await broadcaster.PublishAsync("upload:g", Publication("""{"type":"upload_error","uploadId":"g","error":"real"}"""));

        var received = await subscriber.WaitForAsync(1);
        RecordingSubscriber.Text(received.Single()).Should().Be("""{"type":"upload_error","uploadId":"g","error":"real","seq":1}""");
        await Eventually.HoldsAsync(() => _log.Collector.GetSnapshot().Count(r => r.Id.Name == "InvalidMessage") == 5, "each bad message was logged");
    }

    [Fact]
    public async Task Garbage_in_the_retained_state_is_skipped()
    {
        var broadcaster = await StartAsync(redis.Server);
        await broadcaster.PublishAsync("upload:r", Publication("""{"type":"upload_error","uploadId":"r","error":"real"}"""));
        await redis.Server.CliAsync("ZADD", $"{_prefix}{{upload:r}}:r", "7", "junk");

        var retained = await broadcaster.GetRetainedAsync("upload:r", 0);

        retained.Select(e => e.Seq).Should().Equal(1);
        _log.Collector.GetSnapshot().Should().Contain(r => r.Id.Name == "InvalidMessage");
    }

    [Fact]
    public async Task Channels_and_keys_live_under_the_prefix_with_a_hash_tag()
    {
        var broadcaster = await StartAsync(redis.Server);

        await broadcaster.PublishAsync("upload:k", Publication("""{"type":"upload_progress","uploadId":"k","progress":1,"bytesUploaded":1,"totalBytes":1}""", "upload_progress"));

        (await redis.Server.CliAsync("EXISTS", $"{_prefix}{{upload:k}}:m", $"{_prefix}{{upload:k}}:r")).Should().Be("2");
        var ttl = long.Parse(await redis.Server.CliAsync("PTTL", $"{_prefix}{{upload:k}}:r"), System.Globalization.CultureInfo.InvariantCulture);
        ttl.Should().BeInRange(1, (long)TimeSpan.FromHours(1).TotalMilliseconds, "retained state expires an hour after the channel's last event");
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
        await Eventually.HoldsAsync(() => subscriber.Restored > 0, "the subscriber was told its subscription is back", TimeSpan.FromSeconds(30));

        // Redis lost its data, so the channel started a new epoch: seq 1 again.
        var retained = await watcher.GetRetainedAsync("upload:down", 0);
        retained.Select(e => (e.Seq, e.ConflationKey)).Should().Equal((3L, "upload_progress"), (4L, (string?)null));
        RecordingSubscriber.Text(retained[0]).Should().Contain("\"bytesUploaded\":3");
        retained[0].Epoch.Should().NotBe(subscriber.Events[0].Epoch);
        _log.Collector.GetSnapshot().Should().Contain(r => r.Id.Name == "PendingPublished");
    }

    [Fact]
    public async Task A_dropped_subscriber_connection_comes_back_and_says_so()
    {
        var broadcaster = await StartAsync(redis.Server);
        var subscriber = new RecordingSubscriber();
        _owned.Add(await broadcaster.SubscribeAsync("upload:kill", subscriber));

        await redis.Server.CliAsync("CLIENT", "KILL", "TYPE", "pubsub");

        await Eventually.HoldsAsync(() => subscriber.Restored > 0, "the subscription was restored");
        await broadcaster.PublishAsync("upload:kill", Publication("""{"type":"upload_error","uploadId":"kill","error":"after"}"""));
        (await subscriber.WaitForAsync(1)).Single().Seq.Should().Be(1);
    }

    private async Task<IEventBroadcaster> StartAsync(RedisServer server)
    {
        var broadcaster = new RedisEventBroadcaster(
            Options.Create(new RedisEventsOptions { Configuration = server.Configuration + ",connectTimeout=2000", ChannelPrefix = _prefix }),
            Options.Create(new UploadistaEventsOptions()),
            _log);
        await broadcaster.StartAsync();
        _owned.Add(broadcaster);
        return broadcaster;
    }

    private static EventPublication Publication(string json, string? conflationKey = null)
        => new(System.Text.Encoding.UTF8.GetBytes(json), conflationKey);
}
