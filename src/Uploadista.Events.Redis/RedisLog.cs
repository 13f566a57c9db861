using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>Log messages of the Redis broadcaster; event ids 200-299.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(200, LogLevel.Warning, "Redis is unreachable: events are kept in this instance and published in order when it returns (first deferred on channel {Channel}).", EventName = "PublishDeferred")]
    public static partial void PublishDeferred(ILogger logger, string channel, Exception? exception);

    [LoggerMessage(201, LogLevel.Error, "Too many events are waiting for Redis to return: {Count} were dropped (Uploadista:Events:Redis:MaxPendingPublications).", EventName = "PendingDropped")]
    public static partial void PendingDropped(ILogger logger, int count);

    [LoggerMessage(202, LogLevel.Information, "Redis is back: {Count} deferred events were published.", EventName = "PendingPublished")]
    public static partial void PendingPublished(ILogger logger, int count);

    [LoggerMessage(203, LogLevel.Warning, "Dropped a message on Redis channel {Channel} that is not a valid event.", EventName = "InvalidMessage")]
    public static partial void InvalidMessage(ILogger logger, string channel);

    [LoggerMessage(204, LogLevel.Warning, "Redis {ConnectionType} connection to {EndPoint} failed ({FailureType}); reconnecting.", EventName = "ConnectionFailed")]
    public static partial void ConnectionFailed(ILogger logger, ConnectionType connectionType, string? endPoint, ConnectionFailureType failureType, Exception? exception);

    [LoggerMessage(205, LogLevel.Information, "Redis {ConnectionType} connection to {EndPoint} restored.", EventName = "ConnectionRestored")]
    public static partial void ConnectionRestored(ILogger logger, ConnectionType connectionType, string? endPoint);

    [LoggerMessage(206, LogLevel.Information, "Redis acknowledged all {Count} subscriptions again; their channels catch up on what was published meanwhile.", EventName = "SubscriptionsRestored")]
    public static partial void SubscriptionsRestored(ILogger logger, int count);

    [LoggerMessage(208, LogLevel.Information, "Redis pub/sub mode: {Mode}.", EventName = "PubSubMode")]
    public static partial void PubSubMode(ILogger logger, string mode);

    [LoggerMessage(207, LogLevel.Error, "A subscriber of channel {Channel} threw while receiving an event.", EventName = "SubscriberFailed")]
    public static partial void SubscriberFailed(ILogger logger, string channel, Exception exception);
}
