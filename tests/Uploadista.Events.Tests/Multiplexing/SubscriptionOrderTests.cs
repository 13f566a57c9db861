using System.Net.WebSockets;
using System.Text;

namespace Uploadista.Events.Tests.Multiplexing;

/// <summary>What a multiplexed socket's queue receives, in order, when a channel starts over or a client is owed too much.</summary>
public sealed class SubscriptionOrderTests
{
    [Fact]
    public void A_reset_met_during_a_catch_up_is_sent_after_the_events_owed_before_it()
    {
        var queue = new SendQueue(capacity: 16);
        var ended = false;
        var subscription = new ConnectionSubscription(queue, since: 0, sinceEpoch: null, new ChannelTag(SubscriptionKind.Upload, "a", () => ended = true));
        subscription.CatchUp(new RetainedEvents("E", 2, [Event(1, "E"), Event(2, "E")]), []);
        Drain(queue).Should().Equal("subscribed", "1E", "2E");

        // A restore owes 3 and 4 of the run it knows, then meets the channel's new run.
        subscription.CatchUp(new RetainedEvents("E", 3, [Event(3, "E")]), [Event(4, "E"), Event(1, "F")]);

        Drain(queue).Should().Equal(["3E", "4E", "subscription_ended"], "the end follows what was owed before it");
        ended.Should().BeTrue();
    }

    [Fact]
    public void Catch_up_beyond_its_bound_closes_the_connection_as_a_slow_consumer()
    {
        var queue = new SendQueue(capacity: 4, maxCatchUp: 10);

        queue.AddCatchUp([.. Enumerable.Range(1, 10).Select(i => Event(i, "E"))]);
        queue.CloseStatus.Should().BeNull("ten owed events are within the bound");
        queue.AddCatchUp([Event(11, "E")]);

        queue.CloseStatus.Should().Be((WebSocketCloseStatus)4008);
    }

    private static ChannelEvent Event(long seq, string epoch)
        => new(seq, epoch, Encoding.UTF8.GetBytes($$"""{"type":"upload_error","seq":{{seq}},"run":"{{epoch}}"}"""), null);

    /// <summary>What the writer takes, named: an event by its seq and run, an answer by its type.</summary>
    private static List<string> Drain(SendQueue queue)
    {
        var names = new List<string>();
        var batch = new ChannelEvent?[64];
        while (queue.Take(batch, int.MaxValue) is { Count: > 0 } next)
        {
            foreach (var frame in batch.Take(next.Count))
            {
                using var json = System.Text.Json.JsonDocument.Parse(frame!.Frame);
                var root = json.RootElement;
                names.Add(root.TryGetProperty("run", out var run) ? $"{root.GetProperty("seq").GetInt64()}{run.GetString()}" : root.GetProperty("type").GetString()!);
            }
        }

        return names;
    }
}
