using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Broadcasting;
using Uploadista.Events.Tests.Delivery;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>The Redis broadcaster on a real local Redis Cluster (three masters, three replicas).</summary>
public sealed class RedisClusterTests(RedisClusterFixture fixture) : IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task Uploads_spread_over_all_three_masters_use_sharded_pub_sub_and_cross_hosts()
    {
        var cluster = fixture.Cluster;
        await using var a = await StartHostAsync(cluster.Configuration, _prefix);
        await using var b = await StartHostAsync(cluster.Configuration, _prefix);
        var uploads = Enumerable.Range(0, 12).Select(i => $"spread-{i}").ToList();

        var masters = new HashSet<int>();
        foreach (var upload in uploads)
        {
            masters.Add(await cluster.MasterOfAsync($"{{upload:{upload}}}"));
        }

        masters.Should().HaveCount(3, "the test's uploads land on every master");

        var sockets = new List<(string Upload, TestSocket Socket)>();
        foreach (var upload in uploads)
        {
            sockets.Add((upload, await a.JoinUploadAsync(upload)));
        }

        // Sharded: the owning master counts a shard subscriber, and no node has a classic one.
        var first = $"{_prefix}{{upload:{uploads[0]}}}";
        (await RedisCluster.CliAsync(await cluster.MasterOfAsync(first), ["PUBSUB", "SHARDNUMSUB", first])).Should().EndWith("1");
        foreach (var port in cluster.Ports)
        {
            (await RedisCluster.CliAsync(port, ["PUBSUB", "NUMSUB", first])).Should().EndWith("0");
        }

        foreach (var upload in uploads)
        {
            await b.Publisher.PublishAsync(new UploadStartedEvent { UploadId = upload, Filename = upload, Size = 1 });
            await b.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = upload, Url = $"https://example.com/{upload}" });
        }

        foreach (var (upload, socket) in sockets)
        {
            var started = await socket.ReceiveJsonAsync();
            var complete = await socket.ReceiveJsonAsync();
            (started.GetProperty("seq").GetInt64(), started.GetProperty("filename").GetString()).Should().Be((1L, upload));
            (complete.GetProperty("seq").GetInt64(), complete.GetProperty("type").GetString()).Should().Be((2L, "upload_complete"));
            await socket.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_killed_master_fails_over_and_its_channels_deliver_again_ending_in_the_true_state()
    {
        await using var cluster = await RedisCluster.StartAsync();
        await using var watcher = await StartHostAsync(cluster.Configuration, _prefix);
        await using var publisher = await StartHostAsync(cluster.Configuration, _prefix);
        var uploads = Enumerable.Range(0, 12).Select(i => $"failover-{i}").ToList();
        var victim = await cluster.MasterOfAsync($"{{upload:{uploads[0]}}}");
        var onVictim = new List<string>();
        foreach (var upload in uploads)
        {
            if (await cluster.MasterOfAsync($"{{upload:{upload}}}") == victim)
            {
                onVictim.Add(upload);
            }
        }

        var sockets = new Dictionary<string, TestSocket>();
        foreach (var upload in uploads)
        {
            sockets[upload] = await watcher.JoinUploadAsync(upload);
            await publisher.Publisher.PublishAsync(new UploadStartedEvent { UploadId = upload, Filename = upload, Size = 10 });
            (await sockets[upload].ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_started");
        }

        var killedAt = Stopwatch.GetTimestamp();
        await cluster.KillAsync(victim);

        // Publishing goes on through the failover: never thrown at the caller.
        foreach (var upload in uploads)
        {
            await publisher.Publisher.PublishAsync(Progress(upload, 5));
        }

        foreach (var upload in uploads)
        {
            await publisher.Publisher.PublishAsync(Progress(upload, 10));
            await publisher.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = upload, Url = $"https://example.com/{upload}" });
        }

        TimeSpan? recovered = null;
        foreach (var upload in onVictim.Concat(uploads.Except(onVictim)))
        {
            var frames = new List<JsonElement>();
            do
            {
                frames.Add(await sockets[upload].ReceiveJsonAsync(TimeSpan.FromSeconds(60)));
            }
            while (frames[^1].GetProperty("type").GetString() != "upload_complete");

            recovered ??= Stopwatch.GetElapsedTime(killedAt);
            frames.Last(f => f.GetProperty("type").GetString() == "upload_progress").GetProperty("bytesUploaded").GetInt64().Should().Be(10);
            frames[^1].GetProperty("url").GetString().Should().Be($"https://example.com/{upload}");
            await sockets[upload].DisposeAsync();
        }

        Measurements.Record($"Redis Cluster failover: master on port {victim} killed; {onVictim.Count} of {uploads.Count} uploads lived on it; delivery on its channels resumed after {recovered!.Value.TotalSeconds:F1} s.");
        recovered.Value.Should().BeLessThan(TimeSpan.FromSeconds(60));
        (await cluster.MastersAsync()).Should().HaveCount(3, "a replica took the killed master's slots");
    }

    internal static Task<EventsServer> StartHostAsync(string configuration, string prefix, Action<UploadistaEventsOptions>? configure = null)
        => EventsServer.StartAsync(configure, services: s => s.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = configuration;
            o.ChannelPrefix = prefix;
        }));

    private static UploadProgressEvent Progress(string uploadId, long bytes)
        => new() { UploadId = uploadId, Progress = bytes / 10.0, BytesUploaded = bytes, TotalBytes = 10 };
}

public sealed class RedisClusterBroadcasterContractTests(RedisClusterFixture fixture) : BroadcasterContractTests, IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override Task<IEventBroadcaster> CreateAsync(UploadistaEventsOptions options, IEventBroadcaster? peerOf = null)
        => RedisBroadcasterContractTests.StartRedisAsync(fixture.Cluster.Configuration, _prefix, options);
}

public sealed class RedisClusterDeliveryGuaranteeTests(RedisClusterFixture fixture) : DeliveryGuaranteeTests, IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    protected override bool HostsShareEvents => true;

    protected override Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure)
        => RedisClusterTests.StartHostAsync(fixture.Cluster.Configuration, _prefix, configure);
}
