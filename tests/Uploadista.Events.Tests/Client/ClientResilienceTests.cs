using System.Net.WebSockets;
using Uploadista.Events.Client;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Client;

/// <summary>
/// The .NET client through what drops or disturbs its connection, with a real Redis of its own: a
/// server restarted mid-stream, Redis killed, Redis losing its data. Events are error events, which
/// are never superseded, so that every one must arrive, once, in order.
/// </summary>
public sealed class ClientResilienceTests : IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private RedisServer _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServer.StartOwnAsync();

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Through_a_server_restart_mid_stream_no_event_is_lost_and_none_comes_twice()
    {
        await using var publisher = await StartHostAsync();
        var current = await StartHostAsync();
        try
        {
            // As behind a load balancer: each connection goes to whichever instance is up.
            var client = new UploadistaEventsClient(current.BaseUri, new()
            {
                ReconnectDelay = ClientTests.Fast.ReconnectDelay,
                MaxReconnectDelay = ClientTests.Fast.MaxReconnectDelay,
                Connect = async (uri, cancellationToken) =>
                {
                    var socket = new ClientWebSocket();
                    await socket.ConnectAsync(new UriBuilder(uri) { Port = Volatile.Read(ref current).BaseUri.Port }.Uri, cancellationToken);
                    return socket;
                },
            });
            await using var watch = new WatchCollector(client.WatchUploadAsync("restart"));
            await PublishAsync(publisher, "restart", 1, 50);
            await watch.WaitForAsync(e => e.Count == 50, "the first 50 events");

            await current.DisposeAsync(); // a graceful stop: its sockets are closed with 1001
            await watch.WaitForStateAsync(WatchState.Reconnecting);
            await PublishAsync(publisher, "restart", 51, 100); // while no instance serves the watch
            Volatile.Write(ref current, await StartHostAsync());
            await PublishAsync(publisher, "restart", 101, 150);

            var events = await watch.WaitForAsync(e => e.Count >= 150, "all 150 events");
            events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, 150).Select(i => (long)i));
            events.Cast<UploadErrorEvent>().Select(e => e.Error).Should().Equal(Enumerable.Range(1, 150).Select(i => $"{i}"));
            watch.States.Should().ContainInOrder(WatchState.Connected, WatchState.Reconnecting, WatchState.Connected);
            watch.Watch.State.Should().Be(WatchState.Connected);
        }
        finally
        {
            await current.DisposeAsync();
        }
    }

    [Fact]
    public async Task Through_a_redis_outage_no_event_is_lost_and_none_comes_twice()
    {
        await using var watcher = await StartHostAsync();
        await using var publisher = await StartHostAsync();
        var client = new UploadistaEventsClient(watcher.BaseUri, ClientTests.Fast);
        await using var watch = new WatchCollector(client.WatchUploadAsync("outage"));
        await PublishAsync(publisher, "outage", 1, 20);
        await watch.WaitForAsync(e => e.Count == 20, "the first 20 events");

        await _redis.KillAsync();
        await PublishAsync(publisher, "outage", 21, 40); // kept by the publishing instance meanwhile
        await _redis.RestartAsync();
        await PublishAsync(publisher, "outage", 41, 60);

        var events = await watch.WaitForAsync(e => e.Count >= 60, "all 60 events");
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, 60).Select(i => (long)i));
        events.Cast<UploadErrorEvent>().Select(e => e.Error).Should().Equal(Enumerable.Range(1, 60).Select(i => $"{i}"));
    }

    [Fact]
    public async Task A_channel_that_starts_over_beneath_the_watch_is_followed_into_its_new_run()
    {
        await using var watcher = await StartHostAsync();
        await using var publisher = await StartHostAsync();
        var client = new UploadistaEventsClient(watcher.BaseUri, ClientTests.Fast);
        await using var watch = new WatchCollector(client.WatchUploadAsync("over"));
        await PublishAsync(publisher, "over", 1, 5);
        await watch.WaitForAsync(e => e.Count == 5, "the first run");

        // Redis loses its data and an instance that never saw the channel publishes first: a new run
        // at 1, which closes the watch's socket with 4010.
        await _redis.CliAsync("FLUSHALL");
        await using var newcomer = await StartHostAsync();
        await newcomer.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "over", Error = "new run" }, TestContext.Current.CancellationToken);

        var events = await watch.WaitForAsync(e => e.Count == 6, "the new run's first event");
        events[^1].Should().BeOfType<UploadErrorEvent>().Which.Error.Should().Be("new run");
        events[^1].Seq.Should().Be(1);
    }

    private static async Task PublishAsync(EventsServer host, string uploadId, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = uploadId, Error = $"{i}" }, TestContext.Current.CancellationToken);
        }
    }

    private Task<EventsServer> StartHostAsync() => EventsServer.StartOnRedisAsync(_redis.Configuration + ",connectTimeout=2000", _prefix);
}
