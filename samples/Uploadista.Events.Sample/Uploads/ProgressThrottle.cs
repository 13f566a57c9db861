namespace Uploadista.Events.Sample.Uploads;

/// <summary>Lets progress through at most once per interval; the final report always passes.</summary>
public sealed class ProgressThrottle(TimeProvider time, TimeSpan interval)
{
    private long _last = long.MinValue;

    public bool ShouldReport(bool final)
    {
        var now = time.GetTimestamp();
        if (!final && _last != long.MinValue && time.GetElapsedTime(_last, now) < interval)
        {
            return false;
        }

        _last = now;
        return true;
    }
}
