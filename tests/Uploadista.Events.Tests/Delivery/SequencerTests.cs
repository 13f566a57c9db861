using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Delivery;

/// <summary>
/// The channel sequencer and a connection's send queue, driven step by step through a broadcaster
/// whose retained reads answer when the test says: the orders of events that a real broker produces
/// only by chance.
/// </summary>
public sealed class SequencerTests
{
    [Fact]
    public async Task A_restore_never_skips_a_retained_event_that_falls_between_held_ones()
    {
        var (broadcaster, sequencer, queue) = await JoinedAsync(maxHeld: 100);
        for (var i = 1; i <= 10; i++)
        {
            sequencer.OnEvent(Event(i));
        }

        sequencer.OnMissedEvents();
        var read = await broadcaster.NextReadAsync();
        sequencer.OnEvent(Event(11));
        sequencer.OnEvent(Event(13)); // 12's message was lost
        read.SetResult(Retained(13, [.. Enumerable.Range(1, 13)]));
        await Eventually.HoldsAsync(() => !sequencer.IsRestoring, "the restore is done");

        Drain(queue).Should().Equal(Enumerable.Range(1, 13).Select(i => (long)i));
    }

    [Fact]
    public async Task A_join_is_released_with_the_newest_read_not_the_last_to_complete()
    {
        var (broadcaster, sequencer, queue, joining) = Join(maxHeld: 100);
        var joinRead = await broadcaster.NextReadAsync();
        sequencer.OnMissedEvents();
        (await broadcaster.NextReadAsync()).SetResult(Retained(5, 1, 2, 3, 4, 5));
        await Eventually.HoldsAsync(() => !sequencer.IsRestoring, "the restore's read is in");

        joinRead.SetResult(Retained(4, 1, 2, 3, 4)); // older, and last to complete
        await joining;
        sequencer.OnEvent(Event(6));

        Drain(queue).Should().Equal([1L, 2, 3, 4, 5, 6]);
    }

    [Fact]
    public async Task Superseded_progress_held_during_a_catch_up_does_not_count_against_the_hold()
    {
        var (broadcaster, sequencer, queue, joining) = Join(maxHeld: 3);
        var read = await broadcaster.NextReadAsync();
        for (var i = 1; i <= 10; i++)
        {
            sequencer.OnEvent(Event(i, "upload_progress"));
        }

        read.SetResult(Retained(0));
        await joining;

        queue.CloseStatus.Should().BeNull();
        Drain(queue).Should().Equal([10L], "the newest progress is what the connection is owed");
    }

    [Fact]
    public async Task A_held_connection_that_would_hold_more_than_it_may_is_told_to_resume()
    {
        var (broadcaster, sequencer, queue) = await JoinedAsync(maxHeld: 3);

        // While the read runs, more than the connection may hold arrives: it is told to resume.
        sequencer.OnMissedEvents();
        await broadcaster.NextReadAsync();
        for (var i = 1; i <= 4; i++)
        {
            sequencer.OnEvent(Event(i));
        }

        queue.CloseStatus.Should().Be((System.Net.WebSockets.WebSocketCloseStatus)4008);
    }

    [Fact]
    public void Conflation_frees_room_even_while_catch_up_events_are_queued()
    {
        var queue = new SendQueue(capacity: 4);
        queue.AddCatchUp([.. Enumerable.Range(1, 10).Select(i => Event(i))]);
        for (var i = 11; i <= 14; i++)
        {
            queue.Add(Event(i, "upload_progress"));
        }

        queue.Add(Event(15, "upload_progress")); // supersedes the four queued progress events

        queue.CloseStatus.Should().BeNull();
        Drain(queue).Should().Equal([.. Enumerable.Range(1, 10).Select(i => (long)i), 15L]);
    }

    [Fact]
    public void Live_events_queued_before_a_catch_up_count_as_live_and_leave_as_such()
    {
        var queue = new SendQueue(capacity: 4);
        queue.AddCatchUp([]);
        queue.Add(Event(1));
        queue.Add(Event(2));
        queue.Add(Event(3));
        queue.AddCatchUp([.. Enumerable.Range(4, 10).Select(i => Event(i))]); // a restore owes 10
        queue.Take(new ChannelEvent?[3], int.MaxValue).Count.Should().Be(3);

        queue.Add(Event(14));
        queue.Add(Event(15)); // two live events waiting, capacity 4

        queue.CloseStatus.Should().BeNull();
    }

    /// <summary>A sequencer and one connection joining it; its join read waits for the test.</summary>
    private static (ScriptedBroadcaster Broadcaster, ChannelSequencer Sequencer, SendQueue Queue, Task Joining) Join(int maxHeld)
    {
        var broadcaster = new ScriptedBroadcaster();
        var sequencer = new ChannelSequencer("c", broadcaster, maxHeld, NullLogger.Instance);
        var queue = new SendQueue(100);
        return (broadcaster, sequencer, queue, sequencer.JoinAsync(new ConnectionSubscription(queue, 0, null), CancellationToken.None).AsTask());
    }

    /// <summary>The same, joined to a channel that had no event.</summary>
    private static async Task<(ScriptedBroadcaster Broadcaster, ChannelSequencer Sequencer, SendQueue Queue)> JoinedAsync(int maxHeld)
    {
        var (broadcaster, sequencer, queue, joining) = Join(maxHeld);
        (await broadcaster.NextReadAsync()).SetResult(Retained(0));
        await joining;
        return (broadcaster, sequencer, queue);
    }

    private static ChannelEvent Event(long seq, string? key = null)
        => new(seq, "E", Encoding.UTF8.GetBytes($"{{\"seq\":{seq}}}"), key);

    private static RetainedEvents Retained(long last, params int[] seqs) => new("E", last, [.. seqs.Select(s => Event(s))]);

    private static List<long> Drain(SendQueue queue)
    {
        var seqs = new List<long>();
        var batch = new ChannelEvent?[1024];
        while (queue.Take(batch, int.MaxValue) is { Count: > 0 } next)
        {
            seqs.AddRange(batch.Take(next.Count).Select(e => e!.Seq));
        }

        return seqs;
    }

    /// <summary>Answers each retained read when the test completes it; delivers nothing by itself.</summary>
    private sealed class ScriptedBroadcaster : IEventBroadcaster
    {
        private readonly ConcurrentQueue<TaskCompletionSource<RetainedEvents>> _reads = new();

        public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<IAsyncDisposable>(new Nothing());

        public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
        {
            var read = new TaskCompletionSource<RetainedEvents>(TaskCreationOptions.RunContinuationsAsynchronously);
            _reads.Enqueue(read);
            return new ValueTask<RetainedEvents>(read.Task);
        }

        public async Task<TaskCompletionSource<RetainedEvents>> NextReadAsync()
        {
            TaskCompletionSource<RetainedEvents>? read = null;
            await Eventually.HoldsAsync(() => _reads.TryDequeue(out read), "a retained read was asked for");
            return read!;
        }

        private sealed class Nothing : IAsyncDisposable
        {
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
