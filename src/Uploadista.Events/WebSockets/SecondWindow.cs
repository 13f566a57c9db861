namespace Uploadista.Events;

/// <summary>
/// A count within the current second, for the inbound limits: it starts over once a second has passed
/// since the window opened. One reader uses it, so it takes no lock.
/// </summary>
internal sealed class SecondWindow(TimeProvider time)
{
    private long _start = time.GetTimestamp();
    private long _count;

    /// <summary>Adds <paramref name="amount"/> and returns the count of the current second.</summary>
    public long Add(long amount)
    {
        if (time.GetElapsedTime(_start) >= TimeSpan.FromSeconds(1))
        {
            _start = time.GetTimestamp();
            _count = 0;
        }

        return _count += amount;
    }
}
