using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Uploadista.Events.Tests.Infrastructure;
using static Uploadista.Events.Tests.Infrastructure.Instruments;

namespace Uploadista.Events.Tests.Redis;

/// <summary>
/// The Redis broadcaster's instruments and health through real faults: each test has a real Redis of
/// its own, which it freezes, kills or cuts off.
/// </summary>
public sealed class RedisObservabilityTests : IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private RedisServer _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServer.StartOwnAsync();

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task The_outbox_gauge_rises_while_redis_is_frozen_and_returns_to_zero()
    {
        // Replies later than 500 ms count as lost: the batch fails and its events wait in the outbox.
        await using var host = await StartHostAsync(",asyncTimeout=500");
        using var outbox = Collect<int>(host.Services, "uploadista.outbox.events");
        using var publishing = Collect<double>(host.Services, "uploadista.publish.duration");
        SampleEveryEvent(host.Services);
        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "frozen", Error = "before" }, TestContext.Current.CancellationToken);
        outbox.Observe().Should().Be(0);
        (await HealthAsync(host)).Status.Should().Be(HealthStatus.Healthy);

        await _redis.FreezeAsync();
        try
        {
            for (var i = 1; i <= 5; i++)
            {
                await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "frozen", Error = $"{i}" }, TestContext.Current.CancellationToken);
            }

            outbox.Observe().Should().Be(5, "the five events wait for Redis");
            publishing.GetMeasurementSnapshot().Should().Contain(m => m.ContainsTags(Tag("uploadista.broadcaster", "redis"), Tag("uploadista.publish.outcome", "deferred")));
            var frozen = await HealthAsync(host);
            frozen.Status.Should().Be(HealthStatus.Degraded, "events wait in the outbox for Redis");
            frozen.Data["outbox_events"].Should().Be(5);
            frozen.Data["outbox_held_back"].Should().Be(5);
        }
        finally
        {
            await _redis.ThawAsync();
        }

        await Eventually.HoldsAsync(() => outbox.Observe() == 0, "the waiting events were published", TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => (await HealthAsync(host)).Status == HealthStatus.Healthy, "the check is healthy again", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task The_health_check_goes_unhealthy_when_redis_is_killed_and_healthy_when_it_is_back()
    {
        await using var host = await StartHostAsync(unhealthyAfter: TimeSpan.FromSeconds(1));
        using var connected = Collect<int>(host.Services, "uploadista.broker.connected");
        await Eventually.HoldsAsync(async () => (await HealthAsync(host)).Status == HealthStatus.Healthy, "Redis is connected");
        connected.Observe().Should().Be(1);

        await _redis.KillAsync();

        await Eventually.HoldsAsync(async () => (await HealthAsync(host)).Status == HealthStatus.Unhealthy, "Redis has been unreachable longer than UnhealthyAfter");
        var down = await HealthAsync(host);
        down.Data["redis_connected"].Should().Be(false);
        ((double)down.Data["redis_unreachable_seconds"]).Should().BeGreaterThanOrEqualTo(1);
        connected.Observe().Should().Be(0);

        await _redis.RestartAsync();

        await Eventually.HoldsAsync(async () => (await HealthAsync(host)).Status == HealthStatus.Healthy, "Redis is back", TimeSpan.FromSeconds(30));
        connected.Observe().Should().Be(1);
    }

    [Fact]
    public async Task Subscriptions_restored_after_the_subscribing_connection_failed_are_counted_and_their_channel_catches_up()
    {
        await using var host = await StartHostAsync();
        using var restored = Collect<long>(host.Services, "uploadista.broker.subscriptions.restored");
        using var reads = Collect<long>(host.Services, "uploadista.catch_up.reads");
        using var catchingUp = Collect<int>(host.Services, "uploadista.catch_up.active");
        await using var socket = await host.JoinUploadAsync("restored");
        reads.Sum(Tag("uploadista.catch_up.reason", "join")).Should().Be(1);

        await _redis.CliAsync("CLIENT", "KILL", "TYPE", "pubsub");

        await Eventually.HoldsAsync(() => restored.Sum() == 1, "the socket's subscription was restored");
        await Eventually.HoldsAsync(() => reads.Sum(Tag("uploadista.catch_up.reason", "restore")) >= 1, "the channel read its retained events again");
        await Eventually.HoldsAsync(() => catchingUp.Observe() == 0, "the channel caught up");
        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "restored", Error = "after" }, TestContext.Current.CancellationToken);
        (await socket.ReceiveJsonAsync()).GetProperty("error").GetString().Should().Be("after");
    }

    private static async Task<HealthReportEntry> HealthAsync(EventsServer host)
        => (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(TestContext.Current.CancellationToken)).Entries["uploadista-events"];

    private Task<EventsServer> StartHostAsync(string settings = "", TimeSpan? unhealthyAfter = null)
        => EventsServer.StartAsync(services: s =>
        {
            s.AddUploadistaEvents().AddRedis(o =>
            {
                o.Configuration = _redis.Configuration + ",connectTimeout=2000" + settings;
                o.ChannelPrefix = _prefix;
                o.UnhealthyAfter = unhealthyAfter ?? o.UnhealthyAfter;
            });
            s.AddHealthChecks().AddUploadistaEvents();
        });
}
