using System.Net.WebSockets;
using System.Text.Json;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>Several real Kestrel hosts sharing one real Redis, with real sockets.</summary>
public sealed class RedisWebSocketTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task A_socket_on_one_host_gets_in_order_what_another_host_publishes_and_the_reverse()
    {
        await using var a = await StartHostAsync(redis.Server);
        await using var b = await StartHostAsync(redis.Server);
        await using var onA = await a.JoinUploadAsync("cross-1");
        await using var onB = await b.JoinFlowAsync("job-cross");

        for (var i = 1; i <= 30; i++)
        {
            await b.Publisher.PublishAsync(Progress("cross-1", i, 30));
            await a.Publisher.PublishAsync(new FlowProgressEvent { JobId = "job-cross", NodeId = "n", NodeName = "N", Progress = i / 30.0 });
        }

        for (var i = 1; i <= 30; i++)
        {
            var fromB = await onA.ReceiveJsonAsync();
            (fromB.GetProperty("seq").GetInt64(), fromB.GetProperty("bytesUploaded").GetInt64()).Should().Be((i, i));
            var fromA = await onB.ReceiveJsonAsync();
            (fromA.GetProperty("seq").GetInt64(), fromA.GetProperty("progress").GetDouble()).Should().Be((i, i / 30.0));
        }
    }

    [Fact]
    public async Task Four_hosts_with_250_sockets_each_deliver_every_socket_exactly_its_events()
    {
        const int Uploads = 40;
        const int EventsPerUpload = 25;
        var hosts = new List<EventsServer>();
        for (var h = 0; h < 4; h++)
        {
            hosts.Add(await StartHostAsync(redis.Server));
        }

        try
        {
            var sockets = new List<(string UploadId, TestSocket Socket)>();
            for (var i = 0; i < 1000; i++)
            {
                var uploadId = $"mixed-{i % Uploads}";
                sockets.Add((uploadId, await hosts[i % 4].JoinUploadAsync(uploadId)));
            }

            // Each upload's events come from every host in turn.
            await Parallel.ForEachAsync(Enumerable.Range(0, Uploads), async (u, cancellation) =>
            {
                for (var e = 1; e <= EventsPerUpload; e++)
                {
                    var publisher = hosts[(u + e) % 4].Publisher;
                    await publisher.PublishAsync(new UploadErrorEvent { UploadId = $"mixed-{u}", Error = $"{u}/{e}" }, cancellation);
                }
            });

            await Parallel.ForEachAsync(sockets, async (entry, _) =>
            {
                var u = entry.UploadId["mixed-".Length..];
                for (var e = 1; e <= EventsPerUpload; e++)
                {
                    using var frame = JsonDocument.Parse(await entry.Socket.ReceiveTextAsync());
                    frame.RootElement.GetProperty("seq").GetInt64().Should().Be(e);
                    frame.RootElement.GetProperty("error").GetString().Should().Be($"{u}/{e}");
                }

                // Nothing else is queued for it: the next frame is the answer to a ping.
                await entry.Socket.SendAsync("""{"type":"ping"}""");
                (await entry.Socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("pong");
            });

            foreach (var (_, socket) in sockets)
            {
                await socket.DisposeAsync();
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_dropped_subscriber_connection_loses_nothing()
    {
        await using var watcher = await StartHostAsync(redis.Server);
        await using var publisher = await StartHostAsync(redis.Server);
        await using var socket = await watcher.JoinUploadAsync("blip");
        await publisher.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "blip", Filename = "f", Size = 100 });
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_started");

        // Drop every subscribing connection, then publish while the watcher is reconnecting.
        await redis.Server.CliAsync("CLIENT", "KILL", "TYPE", "pubsub");
        for (var i = 1; i <= 100; i++)
        {
            await publisher.Publisher.PublishAsync(Progress("blip", i, 100));
        }

        await publisher.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "blip", Url = "https://example.com/blip" });

        var frames = await ReceiveUntilAsync(socket, "upload_complete");
        frames.Select(f => f.GetProperty("seq").GetInt64()).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        frames[^1].GetProperty("seq").GetInt64().Should().Be(102);
        frames[^2].GetProperty("type").GetString().Should().Be("upload_progress");
        frames[^2].GetProperty("bytesUploaded").GetInt64().Should().Be(100, "the last progress is never lost, only superseded ones may be");
        socket.Socket.State.Should().Be(WebSocketState.Open);
    }

    [Fact]
    public async Task Redis_killed_and_restarted_mid_stream_sockets_survive_and_end_in_the_true_state()
    {
        await using var server = await RedisServer.StartOwnAsync();
        await using var watcher = await StartHostAsync(server);
        await using var publisher = await StartHostAsync(server);
        var sockets = new[] { await watcher.JoinUploadAsync("crash"), await watcher.JoinUploadAsync("crash"), await publisher.JoinUploadAsync("crash") };
        await publisher.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "crash", Filename = "f", Size = 10 });
        await publisher.Publisher.PublishAsync(Progress("crash", 3, 10));
        foreach (var socket in sockets)
        {
            (await ReceiveUntilAsync(socket, "upload_progress")).Should().HaveCount(2);
        }

        await server.KillAsync();

        // Published during the outage: kept by the publishing instance, never thrown at the caller.
        await publisher.Publisher.PublishAsync(Progress("crash", 7, 10));
        await publisher.Publisher.PublishAsync(Progress("crash", 10, 10));
        await publisher.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "crash", Url = "https://example.com/crash" });

        await server.RestartAsync();
        await publisher.Publisher.PublishAsync(new FlowStartedEvent { JobId = "job-crash", UploadId = "crash", FlowName = "after" });

        foreach (var socket in sockets)
        {
            var frames = await ReceiveUntilAsync(socket, "flow_started", TimeSpan.FromSeconds(60));
            var types = frames.Select(f => f.GetProperty("type").GetString()).ToList();
            types.Should().EndWith(["upload_complete", "flow_started"]);
            var lastProgress = frames.Last(f => f.GetProperty("type").GetString() == "upload_progress");
            lastProgress.GetProperty("bytesUploaded").GetInt64().Should().Be(10);
            frames[^2].GetProperty("url").GetString().Should().Be("https://example.com/crash");
            socket.Socket.State.Should().Be(WebSocketState.Open, "sockets outlive a Redis outage");
        }

        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }
    }

    private Task<EventsServer> StartHostAsync(RedisServer server) => EventsServer.StartOnRedisAsync(server.Configuration + ",connectTimeout=2000", _prefix);

    private static async Task<List<JsonElement>> ReceiveUntilAsync(TestSocket socket, string type, TimeSpan? timeout = null)
    {
        var frames = new List<JsonElement>();
        do
        {
            frames.Add(await socket.ReceiveJsonAsync(timeout));
        }
        while (frames[^1].GetProperty("type").GetString() != type);
        return frames;
    }

    private static UploadProgressEvent Progress(string uploadId, long bytes, long total)
        => new() { UploadId = uploadId, Progress = (double)bytes / total, BytesUploaded = bytes, TotalBytes = total };
}
