using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Uploadista.Events;

/// <summary>Where a Server-Sent Events stream resumes from.</summary>
internal static class EventStreamResume
{
    /// <summary>
    /// Reads <c>Last-Event-ID</c>, which <c>EventSource</c> sends when it reconnects by itself: the seq
    /// of the last event it received (each event's <c>id:</c>). It wins over <c>?since=</c>, which is
    /// where the stream first started (EventSource reconnects to the same URL). An empty one (the
    /// server cleared it after a reset) leaves <paramref name="since"/> as it was.
    /// </summary>
    /// <returns>False when the header is not one non-negative integer.</returns>
    public static bool TryReadLastEventId(HttpContext context, ref long since)
    {
        var values = context.Request.Headers["Last-Event-ID"];
        if (values.Count == 0 || (values.Count == 1 && string.IsNullOrEmpty(values[0])))
        {
            return true;
        }

        if (values.Count == 1 && long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var lastEventId))
        {
            since = lastEventId;
            return true;
        }

        return false;
    }
}
