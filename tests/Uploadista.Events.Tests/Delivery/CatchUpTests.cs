using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Delivery;

/// <summary>
/// What a connection is owed when it joins late or its channel catches up after missed events:
/// everything, in order, without a gap; or, if it falls too far behind, a 4008 after which resuming
/// with <c>since</c> gets the rest.
/// </summary>
public sealed class CatchUpTests
{
    [Fact]
    public async Task A_late_joiner_is_owed_every_retained_event_even_beyond_its_queue_capacity()
    {
        await using var server = await EventsServer.StartAsync(o =>
        {
            o.SendQueueCapacity = 10;
            o.MaxRetainedEventsPerChannel = 1000;
        });
        for (var i = 1; i <= 1000; i++)
        {
            await server.Publisher.PublishAsync(Error("late", i, size: 4000), TestContext.Current.CancellationToken);
        }

        // The client does not read yet: the catch-up stays queued behind a full socket.
        await using var late = await RawWebSocket.ConnectAsync(server.UploadSocketUri("late"), receiveBufferSize: 4096);
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        await Eventually.HoldsAsync(() => tracker.Snapshot().Single().QueuedCount > 10, "the catch-up waits behind a full socket");
        for (var i = 1001; i <= 1005; i++)
        {
            await server.Publisher.PublishAsync(Error("late", i), TestContext.Current.CancellationToken);
        }

        var seqs = new List<long>();
        while (seqs.Count < 1005)
        {
            var text = await late.ReceiveTextOrCloseAsync();
            text.Should().NotBeNull($"the connection is not closed as a slow consumer (after {seqs.Count} events)");
            seqs.Add(System.Text.Json.JsonDocument.Parse(text!).RootElement.GetProperty("seq").GetInt64());
        }

        seqs.Should().Equal(Enumerable.Range(1, 1005).Select(i => (long)i));
    }

    [Fact]
    public async Task Events_that_arrive_during_a_long_catch_up_never_leave_a_gap()
    {
        GatedBroadcaster gated = null!;
        await using var server = await EventsServer.StartAsync(
            o => o.MaxRetainedEventsPerChannel = 20_000,
            s => s.AddSingleton<IEventBroadcaster>(sp => gated = new GatedBroadcaster(ActivatorUtilities.CreateInstance<MemoryEventBroadcaster>(sp))));
        await using var socket = await server.JoinUploadAsync("restore");
        for (var i = 1; i <= 5; i++)
        {
            await server.Publisher.PublishAsync(Error("restore", i), TestContext.Current.CancellationToken);
        }

        var seqs = new List<long>();
        while (seqs.Count < 5)
        {
            seqs.Add((await socket.ReceiveJsonAsync()).GetProperty("seq").GetInt64());
        }

        // The channel catches up, and its read takes long while more than 10,000 events arrive.
        gated.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gated.MissEvents();
        const int Last = 10_055;
        for (var i = 6; i <= Last; i++)
        {
            await server.Publisher.PublishAsync(Error("restore", i), TestContext.Current.CancellationToken);
        }

        gated.Gate.SetResult();
        while (seqs[^1] < Last && await socket.ReceiveTextOrCloseAsync() is { } text)
        {
            seqs.Add(System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("seq").GetInt64());
        }

        seqs.Should().Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), "no event is skipped");
        if (seqs[^1] < Last)
        {
            socket.Socket.CloseStatus.Should().Be((System.Net.WebSockets.WebSocketCloseStatus)4008, "a connection that cannot be kept in order is told to resume");
            // No join ping: 10,000 events to catch up on may go out before its pong.
            await using var resumed = await TestSocket.ConnectAsync(server.UploadSocketUri("restore", $"?since={seqs[^1]}"));
            while (seqs[^1] < Last)
            {
                seqs.Add((await resumed.ReceiveJsonAsync()).GetProperty("seq").GetInt64());
            }

            seqs.Should().Equal(Enumerable.Range(1, Last).Select(i => (long)i), "resuming with since gets the rest");
        }
    }

    private static UploadErrorEvent Error(string uploadId, int i, int size = 0)
        => new() { UploadId = uploadId, Error = i + new string('e', size) };
}
