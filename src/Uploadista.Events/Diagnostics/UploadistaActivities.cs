using System.Diagnostics;

namespace Uploadista.Events;

/// <summary>
/// The library's spans, on the activity source <c>Uploadista.Events</c>: one per publish to a channel
/// (so a request that publishes shows it in its trace) and one per channel catching up after a broker
/// outage. None per delivery: there are too many, and the publish-to-write metric covers them. A span
/// is only made, and its tags only computed, while a listener samples the source.
/// </summary>
internal static class UploadistaActivities
{
    public static readonly ActivitySource Source = new(UploadistaMetrics.MeterName, typeof(UploadistaActivities).Assembly.GetName().Version?.ToString());

    /// <summary>Starts the span of one publish to one channel, or returns null when nobody listens.</summary>
    public static Activity? StartPublish(string channelKind, string eventType, string broadcaster)
    {
        if (!Source.HasListeners() || Source.StartActivity("uploadista.publish", ActivityKind.Producer) is not { } activity)
        {
            return null;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(Tags.ChannelKind, channelKind);
            activity.SetTag(Tags.EventType, eventType);
            activity.SetTag(Tags.Broadcaster, broadcaster);
        }

        return activity;
    }

    /// <summary>Ends a publish span with what became of the event: its seq, deferred, or the error.</summary>
    public static void PublishEnded(Activity activity, long seq, Exception? exception)
    {
        if (exception is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.AddException(exception);
        }

        if (!activity.IsAllDataRequested)
        {
            return;
        }

        activity.SetTag(Tags.PublishOutcome, exception is not null ? Tags.Publish.Failed : seq > 0 ? Tags.Publish.Published : Tags.Publish.Deferred);
        if (seq > 0)
        {
            activity.SetTag(Tags.EventSeq, seq);
        }
    }

    /// <summary>Starts the span of a channel catching up after its subscription was restored, or returns null when nobody listens.</summary>
    public static Activity? StartCatchUp(string channel, int connections)
    {
        if (!Source.HasListeners() || Source.StartActivity("uploadista.catch_up") is not { } activity)
        {
            return null;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(Tags.ChannelKind, Tags.KindOfChannel(channel));
            activity.SetTag("uploadista.catch_up.connections", connections);
        }

        return activity;
    }
}
