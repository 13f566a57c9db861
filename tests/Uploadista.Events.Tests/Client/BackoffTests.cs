using Uploadista.Events.Client;

namespace Uploadista.Events.Tests.Client;

/// <summary>
/// The client's reconnection delays, as a rule: what a watch does with them is tested on real servers
/// (ClientReconnectionTests); when a delay starts over is tested here, where no clock is involved.
/// </summary>
public sealed class BackoffTests
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(100);

    [Fact]
    public void Delays_double_up_to_the_longest_each_jittered_between_half_and_all_of_it()
    {
        var backoff = new Backoff(First, TimeSpan.FromSeconds(1));
        var delays = Enumerable.Range(0, 6).Select(_ => backoff.Next()).ToList();
        var bounds = new[] { 100, 200, 400, 800, 1000, 1000 };
        for (var i = 0; i < delays.Count; i++)
        {
            delays[i].TotalMilliseconds.Should().BeInRange(bounds[i] / 2.0, bounds[i]);
        }
    }

    [Fact]
    public void A_connection_that_delivered_or_stayed_up_long_enough_starts_the_delays_over_and_a_short_one_does_not()
    {
        var backoff = new Backoff(First, TimeSpan.FromSeconds(10));
        backoff.StableAfter.Should().Be(TimeSpan.FromSeconds(5));
        Fail(backoff, 6);

        backoff.Ended(TimeSpan.FromSeconds(4.9)); // flapping
        backoff.Next().Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(3.2), "the seventh failure in a row waits 3.2 to 6.4 s");

        backoff.Ended(TimeSpan.FromSeconds(5)); // stable, though it delivered nothing
        backoff.Next().Should().BeLessThanOrEqualTo(First);

        Fail(backoff, 6);
        backoff.Reset(); // it delivered
        backoff.Next().Should().BeLessThanOrEqualTo(First);
    }

    [Fact]
    public void A_longest_delay_under_5_seconds_is_also_how_long_a_connection_must_last_to_be_stable()
        => new Backoff(First, TimeSpan.FromSeconds(2)).StableAfter.Should().Be(TimeSpan.FromSeconds(2));

    private static void Fail(Backoff backoff, int times)
    {
        for (var i = 0; i < times; i++)
        {
            backoff.Next();
        }
    }
}
