using System.Diagnostics;
using System.Globalization;
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
        await using var a = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
        await using var b = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
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
        => EventsServer.StartOnRedisAsync(fixture.Cluster.Configuration, _prefix, configure);
}

/// <summary>
/// A master of the real local cluster killed while every channel streams. It measures latency on the
/// other shards, so it runs alone (<see cref="RunsAlone"/>): on two cores, other tests running
/// beside it would be what it measures.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class RedisClusterFailoverTests
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task A_master_killed_mid_stream_loses_nothing_and_the_other_shards_keep_flowing()
    {
        const int Events = 80;
        await using var cluster = await RedisCluster.StartAsync();
        await using var watcher = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
        await using var publisher = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
        var uploads = Enumerable.Range(0, 12).Select(i => $"stream-{i}").ToList();
        var victim = await cluster.MasterOfAsync($"{_prefix}{{upload:{uploads[0]}}}");
        var onVictim = new HashSet<string>();
        foreach (var upload in uploads)
        {
            if (await cluster.MasterOfAsync($"{_prefix}{{upload:{upload}}}") == victim)
            {
                onVictim.Add(upload);
            }
        }

        onVictim.Count.Should().BeLessThan(uploads.Count, "some uploads live on the other masters");
        var sockets = new Dictionary<string, TestSocket>();
        foreach (var upload in uploads)
        {
            sockets[upload] = await watcher.JoinUploadAsync(upload);
        }

        foreach (var port in cluster.Ports)
        {
            await RedisCluster.CliAsync(port, ["CONFIG", "RESETSTAT"]);
        }

        // Every upload publishes an event every 25 ms, each carrying its index and when it was published.
        var killedAt = 0L;
        var published = 0;
        var publishing = Task.WhenAll(uploads.Select(upload => Task.Run(async () =>
        {
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(25));
            for (var i = 1; i <= Events; i++)
            {
                await pace.WaitForNextTickAsync(TestContext.Current.CancellationToken);
                await publisher.Publisher.PublishAsync(
                    new UploadErrorEvent { UploadId = upload, Error = $"{i}|{Stopwatch.GetTimestamp()}" }, TestContext.Current.CancellationToken);
                Interlocked.Increment(ref published);
            }
        })));
        var killing = Task.Run(async () =>
        {
            await Eventually.HoldsAsync(() => Volatile.Read(ref published) >= uploads.Count * 20, "a quarter of the events are out", TimeSpan.FromSeconds(30));
            Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
            await cluster.KillAsync(victim);
        });

        var received = await Task.WhenAll(uploads.Select(upload => ReceiveAllAsync(sockets[upload], Events)));
        await Task.WhenAll(publishing, killing);

        var healthyAfterKill = new List<double>();
        TimeSpan recovered = default;
        for (var u = 0; u < uploads.Count; u++)
        {
            received[u].Select(r => r.Index).Should().Equal(Enumerable.Range(1, Events), $"{uploads[u]} gets every event once, in order");
            foreach (var frame in received[u].Where(r => r.PublishedAt >= killedAt))
            {
                if (onVictim.Contains(uploads[u]))
                {
                    recovered = TimeSpan.FromTicks(Math.Max(recovered.Ticks, Stopwatch.GetElapsedTime(killedAt, frame.ReceivedAt).Ticks));
                }
                else
                {
                    healthyAfterKill.Add(frame.Latency.TotalMilliseconds);
                }
            }
        }

        var p99 = healthyAfterKill.Order().ElementAt((int)(healthyAfterKill.Count * 0.99));
        Measurements.Record($"Redis Cluster failover: master on port {victim} killed mid-stream; {onVictim.Count} of {uploads.Count} uploads lived on it; "
            + $"their last event arrived {recovered.TotalSeconds:F1} s after the kill; the other shards' p99 meanwhile: {p99:F1} ms.");
        p99.Should().BeLessThan(100, "the other shards' channels do not wait behind the dead one");
        (await cluster.MastersAsync()).Should().HaveCount(3, "a replica took the killed master's slots");
        foreach (var (port, _) in await cluster.MastersAsync())
        {
            (await RedisCluster.CliAsync(port, ["INFO", "commandstats"])).Should().NotContain("cmdstat_exists", "publishing asks no server where a key lives");
        }

        foreach (var socket in sockets.Values)
        {
            await socket.DisposeAsync();
        }
    }

    private static async Task<List<(int Index, long PublishedAt, long ReceivedAt, TimeSpan Latency)>> ReceiveAllAsync(TestSocket socket, int events)
    {
        var frames = new List<(int, long, long, TimeSpan)>();
        while (frames.Count < events)
        {
            var error = (await socket.ReceiveJsonAsync(TimeSpan.FromSeconds(60))).GetProperty("error").GetString()!.Split('|');
            var publishedAt = long.Parse(error[1], CultureInfo.InvariantCulture);
            var receivedAt = Stopwatch.GetTimestamp();
            frames.Add((int.Parse(error[0], CultureInfo.InvariantCulture), publishedAt, receivedAt, Stopwatch.GetElapsedTime(publishedAt, receivedAt)));
        }

        return frames;
    }
}
