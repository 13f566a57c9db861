using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.WebSockets;

/// <summary>
/// Every way out of a connection gives back what it took: its place under the limits, its channel
/// membership, its memory. Clients vanish (TCP reset) at every stage, with Redis healthy and frozen.
/// </summary>
public sealed class ConnectionLifecycleTests : IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private RedisServer _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServer.StartOwnAsync();

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Sockets_reset_while_redis_is_frozen_give_back_their_places()
    {
        await using var host = await StartHostAsync(o => o.MaxConnectionsPerChannel = 3);
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();
        await _redis.FreezeAsync();
        try
        {
            var sockets = new List<RawWebSocket>();
            for (var i = 0; i < 3; i++)
            {
                sockets.Add(await RawWebSocket.ConnectAsync(host.UploadSocketUri("frozen")));
            }

            await Eventually.HoldsAsync(() => tracker.Count == 3, "the three sockets are admitted and joining");
            sockets.ForEach(s => s.Reset());
            await Eventually.HoldsAsync(() => tracker.Count == 0, "a socket that vanished while joining gives back its place");
        }
        finally
        {
            await _redis.ThawAsync();
        }

        await using var fresh = await host.JoinUploadAsync("frozen");
        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "frozen", Error = "after" }, TestContext.Current.CancellationToken);
        (await fresh.ReceiveJsonAsync()).GetProperty("error").GetString().Should().Be("after", "new sockets on the upload are served");
        await Eventually.HoldsAsync(() => host.Services.GetRequiredService<SubscriptionRegistry>().ChannelCount == 1, "only the fresh socket's channel is left");
    }

    [Fact]
    public async Task A_retained_read_that_fails_after_the_client_left_ends_quietly()
    {
        // Replies later than 1 s count as failed.
        await using var host = await StartHostAsync(settings: ",asyncTimeout=1000");
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();

        // The channel is subscribed already, so the next join only reads the retained events.
        await using var first = await host.JoinUploadAsync("failing-read");
        await _redis.FreezeAsync();
        try
        {
            var leaving = await RawWebSocket.ConnectAsync(host.UploadSocketUri("failing-read"));
            await Eventually.HoldsAsync(() => tracker.Count == 2, "the second socket is joining");
            leaving.Reset();
            await Eventually.HoldsAsync(() => tracker.Count == 1, "the socket that left gives back its place", TimeSpan.FromSeconds(30));

            // The read outlives the client and then fails; that must not surface as an application error.
            var registry = host.Services.GetRequiredService<SubscriptionRegistry>();
            await Eventually.HoldsAsync(() => registry.MemberCount == 1, "the failed join has left", TimeSpan.FromSeconds(30));
        }
        finally
        {
            await _redis.ThawAsync();
        }

        await host.AssertStillServesAsync();
        host.Logs.GetSnapshot().Should().NotContain(r => r.Id.Name == "ApplicationError", "Kestrel saw no unhandled exception");
    }

    [Fact]
    public async Task Thousands_of_abrupt_disconnects_at_every_stage_leave_nothing_behind()
    {
        await using var host = await StartHostAsync();
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();
        var registry = host.Services.GetRequiredService<SubscriptionRegistry>();

        // An upload with much to catch up on, and one with events flowing while clients come and go.
        for (var i = 0; i < 200; i++)
        {
            await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "retained", Error = new string('r', 200) + i }, TestContext.Current.CancellationToken);
        }

        using var stopFlowing = new CancellationTokenSource();
        var flowing = Task.Run(async () =>
        {
            for (var i = 0; !stopFlowing.IsCancellationRequested; i++)
            {
                await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "flowing", Error = new string('f', 100) + i }, CancellationToken.None);
            }
        });

        // Pools and caches grow to a plateau over the first rounds; a leak grows with every round. So
        // rounds go on until one leaves less than 1 KB per connection behind (six at most).
        const int PerStage = 250;
        var growth = new List<long>();
        for (var round = 0; round < 6 && (growth.Count == 0 || growth[^1] >= 4 * PerStage * 1024); round++)
        {
            var before = HeapAfterFullGc();
            await RunStagesAsync(host, PerStage);
            await Eventually.HoldsAsync(() => tracker.Count == 0, "every place is given back", TimeSpan.FromSeconds(30));
            growth.Add(HeapAfterFullGc() - before);
        }

        stopFlowing.Cancel();
        await flowing;

        growth[^1].Should().BeLessThan(4 * PerStage * 1024, $"the heap stops growing (bytes per round of {4 * PerStage} connections: {string.Join(", ", growth)})");
        await Eventually.HoldsAsync(() => registry.ChannelCount == 0, "every channel membership is gone", TimeSpan.FromSeconds(30));
        tracker.RefusingCount.Should().Be(0);
        Measurements.Record($"abrupt disconnects: heap growth per round of {4 * PerStage}: {string.Join(", ", growth.Select(g => $"{g / 1024} KB"))}");
        await host.AssertStillServesAsync();
        host.Logs.GetSnapshot().Should().NotContain(r => r.Id.Name == "ApplicationError", "Kestrel saw no unhandled exception");
    }

    /// <summary>Resets <paramref name="perStage"/> clients at each stage: mid-handshake, joining, catching up, mid-write.</summary>
    private static async Task RunStagesAsync(EventsServer host, int perStage)
    {
        var uri = host.UploadSocketUri("retained");
        await Parallel.ForEachAsync(Enumerable.Range(0, perStage * 4), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            switch (i % 4)
            {
                case 0:
                    // Before accept: half a handshake, then gone.
                    using (var tcp = new TcpClient())
                    {
                        await tcp.ConnectAsync(uri.Host, uri.Port, ct);
                        await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\n"), ct);
                        tcp.Client.LingerState = new LingerOption(true, 0);
                    }

                    break;
                case 1:
                    // During the join: right after the 101, on a fresh channel.
                    (await RawWebSocket.ConnectAsync(host.UploadSocketUri($"joining-{i}"))).Reset();
                    break;
                case 2:
                    // During the catch-up: after the first of 200 retained events.
                    var catchingUp = await RawWebSocket.ConnectAsync(uri);
                    await catchingUp.ReceiveTextOrCloseAsync();
                    catchingUp.Reset();
                    break;
                default:
                    // Mid-write: a client that stops reading while events flow.
                    var stalled = await RawWebSocket.ConnectAsync(host.UploadSocketUri("flowing"), receiveBufferSize: 1024);
                    await stalled.ReceiveTextOrCloseAsync();
                    stalled.Reset();
                    break;
            }
        });
    }

    private static long HeapAfterFullGc()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private Task<EventsServer> StartHostAsync(Action<UploadistaEventsOptions>? configure = null, string settings = "")
        => EventsServer.StartOnRedisAsync(_redis.Configuration + ",connectTimeout=2000" + settings, _prefix, configure);
}
