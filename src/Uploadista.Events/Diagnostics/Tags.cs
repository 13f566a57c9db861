using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// The names and values of the tags on the library's metrics and spans. Every value is one of a few
/// constant strings, so series stay few and tagging allocates nothing; ids never become tags.
/// </summary>
internal static class Tags
{
    public const string ChannelKind = "uploadista.channel.kind";
    public const string RefusalReason = "uploadista.refusal.reason";
    public const string CloseReason = "uploadista.close.reason";
    public const string EventType = "uploadista.event.type";
    public const string EventSeq = "uploadista.event.seq";
    public const string Broadcaster = "uploadista.broadcaster";
    public const string PublishOutcome = "uploadista.publish.outcome";
    public const string DropSite = "uploadista.drop.site";
    public const string CatchUpReason = "uploadista.catch_up.reason";
    public const string Outcome = "uploadista.outcome";
    public const string TransportName = "uploadista.transport";

    public const string Upload = "upload";
    public const string Flow = "flow";

    /// <summary>The kind of a multiplexed socket (<c>{prefix}/ws</c>), whatever its subscriptions.</summary>
    public const string Multiplexed = "multiplexed";

    public static string Kind(SubscriptionKind kind) => kind == SubscriptionKind.Upload ? Upload : Flow;

    /// <summary>The kind of a channel named by <see cref="Channels"/>.</summary>
    public static string KindOfChannel(string channel)
        => channel.StartsWith(Channels.UploadPrefix, StringComparison.Ordinal) ? Upload : Flow;

    /// <summary>The event's <c>type</c>, as on the wire.</summary>
    public static string TypeOf(UploadistaEvent uploadistaEvent) => EventTypes[TypeIndexOf(uploadistaEvent)];

    /// <summary>Every value of <see cref="EventType"/>, indexed by <see cref="TypeIndexOf"/>.</summary>
    public static readonly string[] EventTypes =
        ["upload_started", "upload_progress", "upload_complete", "upload_error", "flow_started", "flow_progress", "flow_complete", "flow_error", "other"];

    /// <summary>The index of an event's type in <see cref="EventTypes"/>.</summary>
    public static int TypeIndexOf(UploadistaEvent uploadistaEvent) => uploadistaEvent switch
    {
        UploadStartedEvent => 0,
        UploadProgressEvent => 1,
        UploadCompleteEvent => 2,
        UploadErrorEvent => 3,
        FlowStartedEvent => 4,
        FlowProgressEvent => 5,
        FlowCompleteEvent => 6,
        FlowErrorEvent => 7,
        _ => 8,
    };

    /// <summary>Why the server closed a connection, from the status it closed it with (docs/protocol.md).</summary>
    public static string CloseReasonOf(WebSocketCloseStatus status) => status switch
    {
        CloseStatuses.SlowConsumer => "slow_consumer",
        CloseStatuses.BinaryFrame or CloseStatuses.InvalidJson or CloseStatuses.TooManyMessages or CloseStatuses.TooLarge => "inbound_limit",
        CloseStatuses.ShuttingDown => "shutting_down",
        CloseStatuses.StateReset => "state_reset",
        CloseStatuses.TryAgainLater => "try_again_later",
        CloseStatuses.ServerError => "server_error",
        _ => "other",
    };

    /// <summary>
    /// The broadcaster's name: <c>memory</c>, or the type's name without <c>EventBroadcaster</c> (or
    /// <c>Broadcaster</c>), in lower case (<c>redis</c>); decided once, so it is one value per process.
    /// </summary>
    public static string BroadcasterOf(IEventBroadcaster broadcaster)
    {
        if (broadcaster is MemoryEventBroadcaster)
        {
            return "memory";
        }

        var name = broadcaster.GetType().Name;
        foreach (var suffix in (ReadOnlySpan<string>)["EventBroadcaster", "Broadcaster"])
        {
            if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.Ordinal))
            {
                name = name[..^suffix.Length];
                break;
            }
        }

        return name.ToLowerInvariant();
    }

    /// <summary>Values of <see cref="RefusalReason"/>.</summary>
    public static class Refusal
    {
        public const string Origin = "origin";
        public const string Unauthenticated = "unauthenticated";
        public const string Forbidden = "forbidden";
        public const string Limit = "limit";
        public const string ShuttingDown = "shutting_down";
        public const string Error = "error";
        public const string InvalidRequest = "invalid_request";
    }

    /// <summary>Values of <see cref="TransportName"/>: what carries a connection's events.</summary>
    public static class Transport
    {
        public const string WebSocket = "websocket";
        public const string ServerSentEvents = "sse";
    }

    /// <summary>Values of <see cref="DropSite"/>: where superseded progress was dropped.</summary>
    public static class Site
    {
        /// <summary>The publisher's progress throttle: newer progress replaced progress waiting for its interval.</summary>
        public const string Throttle = "throttle";

        /// <summary>A connection's send queue, full because the client fell behind.</summary>
        public const string SendQueue = "send_queue";

        /// <summary>What a channel held for its sockets while they caught up.</summary>
        public const string CatchUp = "catch_up";
    }

    /// <summary>Values of <see cref="PublishOutcome"/>.</summary>
    public static class Publish
    {
        /// <summary>The broadcaster assigned the event its seq.</summary>
        public const string Published = "published";

        /// <summary>The event waits for the broker (the broadcaster returned 0).</summary>
        public const string Deferred = "deferred";

        /// <summary>The broadcaster threw; the event was not delivered.</summary>
        public const string Failed = "failed";
    }
}
