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
    public static partial void PendingPublished(ILogger logger, long count);

    [LoggerMessage(203, LogLevel.Warning, "Dropped a message (or retained entry) on Redis channel {Channel} that is not a valid event.", EventName = "InvalidMessage")]
    public static partial void InvalidMessage(ILogger logger, string channel);

    [LoggerMessage(204, LogLevel.Warning, "Redis {ConnectionType} connection to {EndPoint} failed ({FailureType}); reconnecting.", EventName = "ConnectionFailed")]
    public static partial void ConnectionFailed(ILogger logger, ConnectionType connectionType, string? endPoint, ConnectionFailureType failureType, Exception? exception);

    [LoggerMessage(205, LogLevel.Information, "Redis {ConnectionType} connection to {EndPoint} restored.", EventName = "ConnectionRestored")]
    public static partial void ConnectionRestored(ILogger logger, ConnectionType connectionType, string? endPoint);

    [LoggerMessage(206, LogLevel.Information, "Redis acknowledged all {Count} subscriptions again; their channels catch up on what was published meanwhile.", EventName = "SubscriptionsRestored")]
    public static partial void SubscriptionsRestored(ILogger logger, int count);

    [LoggerMessage(208, LogLevel.Information, "Redis pub/sub mode: {Mode}.", EventName = "PubSubMode")]
    public static partial void PubSubMode(ILogger logger, string mode);

    [LoggerMessage(209, LogLevel.Error, "Redis refused {Count} events of channel {Channel}; they were dropped.", EventName = "PublishRefused")]
    public static partial void PublishRefused(ILogger logger, string channel, int count, Exception exception);

    [LoggerMessage(210, LogLevel.Warning, "Dropped a message on Redis channel {Channel} that Redis does not back: it claims epoch {Epoch} seq {First}-{Last}, the channel is at epoch {KnownEpoch} seq {KnownSeq}.", EventName = "UnbackedMessage")]
    public static partial void UnbackedMessage(ILogger logger, string channel, string epoch, long first, long last, string? knownEpoch, long knownSeq);

    [LoggerMessage(211, LogLevel.Debug, "Checking a message on Redis channel {Channel} against its state failed; the channel catches up instead.", EventName = "CheckFailed")]
    public static partial void CheckFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(212, LogLevel.Warning, "Dropped messages of format 1 on Redis channel {Channel} ({Count} so far): an instance of an earlier release shares this Redis (docs/operations.md).", EventName = "Format1Dropped")]
    public static partial void Format1Dropped(ILogger logger, string channel, long count);

    [LoggerMessage(213, LogLevel.Error, "The host stopped with {Count} events not yet published to Redis; they are lost.", EventName = "UnpublishedAtShutdown")]
    public static partial void UnpublishedAtShutdown(ILogger logger, int count);

    [LoggerMessage(214, LogLevel.Warning, "Writing or reading which upload job {JobId} belongs to failed in Redis ({Count} failures so far; said at most once a minute): until it succeeds, the job's events that do not name their upload go to the job's channel only.", EventName = "JobUploadFailed")]
    public static partial void JobUploadFailed(ILogger logger, string jobId, long count, Exception exception);

    [LoggerMessage(215, LogLevel.Warning, "Ignored the upload Redis holds for job {JobId}: it is not an upload id.", EventName = "InvalidJobUpload")]
    public static partial void InvalidJobUpload(ILogger logger, string jobId);

    [LoggerMessage(207, LogLevel.Error, "A subscriber of channel {Channel} threw while receiving an event.", EventName = "SubscriberFailed")]
    public static partial void SubscriberFailed(ILogger logger, string channel, Exception exception);
}
