using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.ServerSentEvents;

/// <summary>
/// The close events a stream gets from Redis faults, against real Kestrel and a real Redis of each
/// test's own: 4010 when its channel starts over beneath it (with an empty <c>id:</c>), 1013 when it
/// cannot be subscribed (Redis is down), as a socket would be closed.
/// </summary>
public sealed class EventStreamRedisTests : IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.UniquePrefix();
    private RedisServer _redis = null!;

    public async ValueTask InitializeAsync() => _redis = await RedisServer.StartOwnAsync();

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_stream_whose_channel_starts_over_beneath_it_ends_with_4010_and_an_empty_id()
    {
        await using var watcher = await StartHostAsync();
        await using var publisher = await StartHostAsync();
        await using var stream = await EventStreamClient.ConnectAsync(watcher.UploadStreamUri("reset"));
        for (var i = 1; i <= 5; i++)
        {
            await publisher.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "reset", Error = $"{i}" }, TestContext.Current.CancellationToken);
            (await stream.ReceiveEventAsync()).Id.Should().Be($"{i}");
        }

        // Redis loses the data without dropping a connection, and an instance that never saw the
        // channel publishes first: the channel starts a new run at 1, beneath the stream at 5.
        await _redis.CliAsync("FLUSHALL");
        await using var newcomer = await StartHostAsync();
        await newcomer.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "reset", Error = "restarted" }, TestContext.Current.CancellationToken);

        var close = await stream.ReceiveEventAsync();
        (close.Event, close.Json.GetProperty("code").GetInt32()).Should().Be(("close", 4010));
        close.Id.Should().BeEmpty("an empty id: line clears EventSource's last event id, so it reconnects without Last-Event-ID");
        close.Json.GetProperty("reason").GetString().Should().Contain("without since");
        (await stream.ReceiveAsync()).Should().BeNull("the stream ends after its close event");

        // As EventSource reconnects after that: no Last-Event-ID. The new run comes whole.
        await using var again = await EventStreamClient.ConnectAsync(watcher.UploadStreamUri("reset"));
        var restarted = await again.ReceiveEventAsync();
        (restarted.Id, restarted.Json.GetProperty("error").GetString()).Should().Be(("1", "restarted"));
    }

    [Fact]
    public async Task A_stream_that_cannot_be_subscribed_is_open_then_ends_with_1013_and_keeps_its_last_event_id()
    {
        await using var host = await StartHostAsync();
        var tracker = host.Services.GetRequiredService<ConnectionTracker>();
        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "down", Error = "1" }, TestContext.Current.CancellationToken);

        await _redis.KillAsync();

        // Admission needs no broker, so the stream is answered 200 at once; only its join fails.
        await using var stream = await EventStreamClient.ConnectAsync(host.UploadStreamUri("down"), lastEventId: "1");
        stream.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await stream.ReceiveAsync())!.Comment.Should().NotBeNull("the stream opens before it joins its channel");
        var close = await stream.ReceiveEventAsync();
        (close.Event, close.Json.GetProperty("code").GetInt32()).Should().Be(("close", 1013));
        close.Id.Should().BeNull("the client's last event id still holds: it resumes from it");
        (await stream.ReceiveAsync()).Should().BeNull("the stream ends after its close event");
        await Eventually.HoldsAsync(() => tracker.Count == 0, "the stream's place is given back");
        host.Logs.GetSnapshot().Should().Contain(r => r.Id.Name == "JoinFailed");

        // Reconnecting with backoff, as the close says, resumes once Redis is back.
        await _redis.RestartAsync();
        await host.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "down", Error = "2" }, TestContext.Current.CancellationToken);
        StreamMessage? resumed = null;
        await Eventually.HoldsAsync(
            async () =>
            {
                await using var retry = await EventStreamClient.ConnectAsync(host.UploadStreamUri("down"), lastEventId: "1");
                resumed = await retry.ReceiveEventAsync(TimeSpan.FromSeconds(30));
                return resumed.Event != "close";
            },
            "a stream is served once Redis is back",
            TimeSpan.FromSeconds(60));
        resumed!.Json.GetProperty("error").GetString().Should().Be("2");
    }

    private Task<EventsServer> StartHostAsync() => EventsServer.StartOnRedisAsync(_redis.Configuration + ",connectTimeout=2000", _prefix);
}
