using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// Every log message of the library. Event ids: 1-99 publishing and broadcasting, 100-199 connections.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Publishing an event to channel {Channel} failed; it was not delivered.", EventName = "PublishFailed")]
    public static partial void PublishFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(2, LogLevel.Error, "A subscriber of channel {Channel} threw while receiving an event.", EventName = "SubscriberFailed")]
    public static partial void SubscriberFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "Releasing the subscription of channel {Channel} failed.", EventName = "UnsubscribeFailed")]
    public static partial void UnsubscribeFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "Catching up channel {Channel} after its subscription was restored failed; its sockets may miss what was published meanwhile until they reconnect.", EventName = "CatchUpFailed")]
    public static partial void CatchUpFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(5, LogLevel.Debug, "Catching up channel {Channel}: reading its retained events failed (attempt {Attempt}: {Reason}); retrying.", EventName = "CatchUpRetrying")]
    public static partial void CatchUpRetrying(ILogger logger, string channel, int attempt, string reason);

    [LoggerMessage(6, LogLevel.Warning, "The in-memory broadcaster holds its maximum of {MaxChannels} channels: evicted {Channel}, the one idle longest ({Evicted} evicted so far; said at most once a minute).", EventName = "ChannelEvicted")]
    public static partial void ChannelEvicted(ILogger logger, int maxChannels, string channel, long evicted);

    [LoggerMessage(7, LogLevel.Warning, "Remembering or looking up the upload of job {JobId} failed; the event goes to the upload only if it names it.", EventName = "JobUploadFailed")]
    public static partial void JobUploadFailed(ILogger logger, string jobId, Exception exception);

    [LoggerMessage(100, LogLevel.Debug, "WebSocket connection opened on channel {Channel} (since {Since}).", EventName = "ConnectionOpened")]
    public static partial void ConnectionOpened(ILogger logger, string channel, long since);

    [LoggerMessage(101, LogLevel.Debug, "WebSocket connection on channel {Channel} ended.", EventName = "ConnectionEnded")]
    public static partial void ConnectionEnded(ILogger logger, string channel);

    [LoggerMessage(102, LogLevel.Warning, "Subscribing a connection (a WebSocket or a Server-Sent Events stream) to channel {Channel} failed; it is closed with 1013 (try again later).", EventName = "JoinFailed")]
    public static partial void JoinFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(103, LogLevel.Debug, "WebSocket connection on channel {Channel} was lost: {Reason}", EventName = "ConnectionLost")]
    public static partial void ConnectionLost(ILogger logger, string channel, string reason);

    [LoggerMessage(104, LogLevel.Information, "Closing WebSocket connection on channel {Channel} with {CloseStatus}: {Reason}", EventName = "ClosedByServer")]
    public static partial void ClosedByServer(ILogger logger, string channel, WebSocketCloseStatus closeStatus, string reason);

    [LoggerMessage(105, LogLevel.Debug, "WebSocket connection on channel {Channel} did not finish closing within {Timeout}; it was aborted.", EventName = "CloseTimedOut")]
    public static partial void CloseTimedOut(ILogger logger, string channel, TimeSpan timeout);

    [LoggerMessage(107, LogLevel.Information, "Refused a WebSocket connection on channel {Channel} with {CloseStatus}: {Reason}", EventName = "Refused")]
    public static partial void Refused(ILogger logger, string channel, WebSocketCloseStatus closeStatus, string reason);

    [LoggerMessage(108, LogLevel.Error, "The subscription authorizer {Authorizer} threw; the connection is refused with 1011.", EventName = "AuthorizerFailed")]
    public static partial void AuthorizerFailed(ILogger logger, string authorizer, Exception exception);

    [LoggerMessage(109, LogLevel.Information, "Refused a subscription to {Id} on a multiplexed WebSocket connection with {CloseStatus}: {Reason}", EventName = "SubscriptionRefused")]
    public static partial void SubscriptionRefused(ILogger logger, string id, WebSocketCloseStatus closeStatus, string reason);

    [LoggerMessage(110, LogLevel.Debug, "Multiplexed WebSocket connection opened.", EventName = "MultiplexedOpened")]
    public static partial void MultiplexedOpened(ILogger logger);

    [LoggerMessage(106, LogLevel.Information, "Closing {Count} WebSocket connections: the server is shutting down.", EventName = "ClosingAll")]
    public static partial void ClosingAll(ILogger logger, int count);

    [LoggerMessage(120, LogLevel.Debug, "Server-Sent Events stream opened on channel {Channel} (since {Since}).", EventName = "EventStreamOpened")]
    public static partial void EventStreamOpened(ILogger logger, string channel, long since);

    [LoggerMessage(121, LogLevel.Debug, "Server-Sent Events stream on channel {Channel} ended.", EventName = "EventStreamEnded")]
    public static partial void EventStreamEnded(ILogger logger, string channel);

    [LoggerMessage(122, LogLevel.Information, "Ending Server-Sent Events stream on channel {Channel} with a close event ({CloseStatus}).", EventName = "EventStreamClosedByServer")]
    public static partial void EventStreamClosedByServer(ILogger logger, string channel, WebSocketCloseStatus closeStatus);

    [LoggerMessage(123, LogLevel.Information, "Refused a Server-Sent Events stream on channel {Channel} ({CloseStatus} as an HTTP status): {Reason}", EventName = "EventStreamRefused")]
    public static partial void EventStreamRefused(ILogger logger, string channel, WebSocketCloseStatus closeStatus, string reason);
}
