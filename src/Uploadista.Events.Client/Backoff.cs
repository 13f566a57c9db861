namespace Uploadista.Events.Client;

/// <summary>
/// Delays between reconnection attempts: doubling from the first delay up to the longest, each
/// jittered between half of it and all of it, so that clients dropped together spread out.
/// </summary>
internal sealed class Backoff(TimeSpan first, TimeSpan longest)
{
    private int _failures;

    /// <summary>
    /// How long a connection stays open to count as working though it delivered nothing: 5 seconds, or
    /// the longest delay if shorter (a connection that outlived the longest delay was not flapping
    /// faster than the backoff would hold it back).
    /// </summary>
    public TimeSpan StableAfter { get; } = longest < TimeSpan.FromSeconds(5) ? longest : TimeSpan.FromSeconds(5);

    /// <summary>The delay before the next attempt; each call counts one more failure.</summary>
    public TimeSpan Next()
    {
        var doubled = first.Ticks * Math.Pow(2, Math.Min(_failures++, 30));
        var delay = Math.Min(doubled, longest.Ticks);
        return TimeSpan.FromTicks((long)(delay / 2 + (Random.Shared.NextDouble() * delay / 2)));
    }

    /// <summary>A connection worked (it delivered): the next failure starts from the first delay again.</summary>
    public void Reset() => _failures = 0;

    /// <summary>A connection ended after <paramref name="lasted"/>: if it was stable, it worked, though it delivered nothing.</summary>
    public void Ended(TimeSpan lasted)
    {
        if (lasted >= StableAfter)
        {
            Reset(); // not flapping: a long idle watch reconnects at once again
        }
    }
}
