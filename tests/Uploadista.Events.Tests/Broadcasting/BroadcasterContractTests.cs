using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Uploadista.Events.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Broadcasting;

/// <summary>What every <see cref="IEventBroadcaster"/> does, run against each implementation.</summary>
public abstract class BroadcasterContractTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>Creates a broadcaster; <paramref name="peerOf"/> asks for another instance sharing the same backend.</summary>
    protected abstract Task<IEventBroadcaster> CreateAsync(UploadistaEventsOptions options, IEventBroadcaster? peerOf = null);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    [Fact]
    public async Task Seq_starts_at_one_and_grows_by_one_per_channel()
    {
        var broadcaster = await StartAsync();

        var seqs = new List<(string, long)>();
        foreach (var channel in new[] { "upload:a", "upload:a", "upload:b", "upload:a", "upload:b" })
        {
            seqs.Add((channel, await Publish(broadcaster, channel)));
        }

        seqs.Should().Equal(("upload:a", 1L), ("upload:a", 2L), ("upload:b", 1L), ("upload:a", 3L), ("upload:b", 2L));
        (await broadcaster.GetRetainedAsync("upload:a", 0)).Events.Select(e => e.Seq).Should().Equal(1, 2, 3);
        (await broadcaster.GetRetainedAsync("upload:b", 0)).Events.Select(e => e.Seq).Should().Equal(1, 2);
        (await broadcaster.GetRetainedAsync("upload:a", 0)).LastSeq.Should().Be(3);
    }

    [Fact]
    public async Task Subscriber_gets_framed_events_in_order()
    {
        var broadcaster = await StartAsync();
        var subscriber = new RecordingSubscriber();
        await using var subscription = Own(await broadcaster.SubscribeAsync("upload:order", subscriber));

        for (var i = 1; i <= 50; i++)
        {
            await Publish(broadcaster, "upload:order", $$"""{"type":"upload_error","uploadId":"order","error":"{{i}}"}""");
        }

        var events = await subscriber.WaitForAsync(50);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, 50).Select(i => (long)i));
        RecordingSubscriber.Text(events[6]).Should().Be("""{"type":"upload_error","uploadId":"order","error":"7","seq":7}""");
        events.Select(e => e.Epoch).Distinct().Should().ContainSingle();
    }

    [Fact]
    public async Task Every_subscriber_gets_every_event_and_other_channels_none()
    {
        var broadcaster = await StartAsync();
        var first = new RecordingSubscriber();
        var second = new RecordingSubscriber();
        var other = new RecordingSubscriber();
        Own(await broadcaster.SubscribeAsync("upload:shared", first));
        Own(await broadcaster.SubscribeAsync("upload:shared", second));
        Own(await broadcaster.SubscribeAsync("upload:other", other));

        for (var i = 0; i < 10; i++)
        {
            await Publish(broadcaster, "upload:shared");
        }

        await Publish(broadcaster, "upload:other");

        (await first.WaitForAsync(10)).Select(e => e.Seq).Should().Equal(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        (await second.WaitForAsync(10)).Select(e => e.Seq).Should().Equal(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        (await other.WaitForAsync(1)).Should().ContainSingle();
    }

    [Fact]
    public async Task Disposed_subscription_gets_nothing_more()
    {
        var broadcaster = await StartAsync();
        var leaving = new RecordingSubscriber();
        var staying = new RecordingSubscriber();
        var subscription = await broadcaster.SubscribeAsync("upload:leave", leaving);
        Own(await broadcaster.SubscribeAsync("upload:leave", staying));
        await Publish(broadcaster, "upload:leave");
        await leaving.WaitForAsync(1);

        await subscription.DisposeAsync();
        await Publish(broadcaster, "upload:leave");

        await staying.WaitForAsync(2);
        leaving.Events.Should().ContainSingle();
    }

    [Fact]
    public async Task Retained_is_every_event_but_superseded_progress()
    {
        var broadcaster = await StartAsync();
        await Publish(broadcaster, "flow:j", """{"type":"flow_started","jobId":"j","flowName":"f"}""");
        foreach (var (node, progress) in new[] { ("a", 0.1), ("b", 0.5), ("a", 0.7), ("b", 1.0), ("a", 1.0) })
        {
            await Publish(broadcaster, "flow:j", $$"""{"type":"flow_progress","jobId":"j","nodeId":"{{node}}","nodeName":"N","progress":{{progress}}}""", $"flow_progress:j:{node}");
        }

        await Publish(broadcaster, "flow:j", """{"type":"flow_complete","jobId":"j","outputs":{}}""");

        var retained = (await broadcaster.GetRetainedAsync("flow:j", 0)).Events;

        retained.Select(e => e.Seq).Should().Equal(1, 5, 6, 7);
        retained.Select(e => e.ConflationKey).Should().Equal(null, "flow_progress:j:b", "flow_progress:j:a", null);
        RecordingSubscriber.Text(retained[2]).Should().Contain("\"nodeId\":\"a\"").And.EndWith("\"progress\":1,\"seq\":6}");
        (await broadcaster.GetRetainedAsync("flow:j", 5)).Events.Select(e => e.Seq).Should().Equal(6, 7);
        (await broadcaster.GetRetainedAsync("flow:j", 7)).Events.Should().BeEmpty();
        (await broadcaster.GetRetainedAsync("flow:never", 0)).Events.Should().BeEmpty();
    }

    [Fact]
    public async Task Retained_is_bounded_and_the_oldest_go_first()
    {
        var broadcaster = await StartAsync(o => o.MaxRetainedEventsPerChannel = 3);

        for (var i = 0; i < 5; i++)
        {
            await Publish(broadcaster, "upload:bounded");
        }

        (await broadcaster.GetRetainedAsync("upload:bounded", 0)).Events.Select(e => e.Seq).Should().Equal(3, 4, 5);
    }

    [Fact]
    public async Task Retained_expires_after_the_retention_period_and_the_channel_starts_a_new_epoch()
    {
        var broadcaster = await StartAsync(o => o.RetentionPeriod = TimeSpan.FromMilliseconds(300));
        await Publish(broadcaster, "upload:expiring");
        var before = (await broadcaster.GetRetainedAsync("upload:expiring", 0)).Events.Single();

        await Eventually.HoldsAsync(
            () => broadcaster.GetRetainedAsync("upload:expiring", 0).AsTask().GetAwaiter().GetResult().Events.Count == 0,
            "the retained event expired");
        (await Publish(broadcaster, "upload:expiring")).Should().Be(1);

        var after = (await broadcaster.GetRetainedAsync("upload:expiring", 0)).Events.Single();
        after.Epoch.Should().NotBe(before.Epoch);
    }

    [Fact]
    public async Task Concurrent_publishers_on_two_instances_interleave_with_no_gap_and_no_duplicate()
    {
        var first = await StartAsync();
        var second = await CreateAsync(new UploadistaEventsOptions(), peerOf: first);
        Own(second as IAsyncDisposable);
        var subscriber = new RecordingSubscriber();
        Own(await second.SubscribeAsync("upload:race", subscriber));

        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < 200; i++) { await Publish(first, "upload:race"); } }),
            Task.Run(async () => { for (var i = 0; i < 200; i++) { await Publish(second, "upload:race"); } }));

        (await subscriber.WaitForAsync(400)).Select(e => e.Seq).Should().Equal(Enumerable.Range(1, 400).Select(i => (long)i));
    }

    [Fact]
    public async Task Empty_publication_is_an_argument_error()
    {
        var broadcaster = await StartAsync();

        var publish = async () => await broadcaster.PublishAsync("upload:bad", default);

        await publish.Should().ThrowAsync<ArgumentException>();
    }

    protected async Task<IEventBroadcaster> StartAsync(Action<UploadistaEventsOptions>? configure = null)
    {
        var options = new UploadistaEventsOptions();
        configure?.Invoke(options);
        var broadcaster = await CreateAsync(options);
        Own(broadcaster as IAsyncDisposable ?? (broadcaster as IDisposable is { } disposable ? new SyncDisposable(disposable) : null));
        return broadcaster;
    }

    protected T Own<T>(T owned)
    {
        if (owned is IAsyncDisposable disposable)
        {
            _owned.Add(disposable);
        }

        return owned;
    }

    protected static async Task<long> Publish(IEventBroadcaster broadcaster, string channel, string? payload = null, string? conflationKey = null)
        => await broadcaster.PublishAsync(channel, new EventPublication(Encoding.UTF8.GetBytes(payload ?? """{"type":"upload_error","uploadId":"x","error":"e"}"""), conflationKey));

    private sealed class SyncDisposable(IDisposable inner) : IAsyncDisposable
    {
        ValueTask IAsyncDisposable.DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

public sealed class MemoryBroadcasterContractTests : BroadcasterContractTests
{
    protected override Task<IEventBroadcaster> CreateAsync(UploadistaEventsOptions options, IEventBroadcaster? peerOf = null)
        => Task.FromResult(peerOf ?? new MemoryEventBroadcaster(Options.Create(options), TimeProvider.System, NullLogger<MemoryEventBroadcaster>.Instance));
}

public sealed class RedisBroadcasterContractTests(RedisFixture redis) : BroadcasterContractTests, IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override async Task<IEventBroadcaster> CreateAsync(UploadistaEventsOptions options, IEventBroadcaster? peerOf = null)
        => await StartRedisAsync(redis.Server.Configuration, _prefix, options);

    /// <summary>A started Redis broadcaster on <paramref name="configuration"/>, its own connections.</summary>
    internal static async Task<IEventBroadcaster> StartRedisAsync(string configuration, string prefix, UploadistaEventsOptions options)
    {
        var broadcaster = new RedisEventBroadcaster(
            Options.Create(new RedisEventsOptions { Configuration = configuration, ChannelPrefix = prefix }),
            Options.Create(options),
            NullLogger<RedisEventBroadcaster>.Instance);
        await broadcaster.StartAsync();
        return broadcaster;
    }
}
