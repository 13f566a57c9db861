namespace Uploadista.Events;

/// <summary>
/// Options of Uploadista.Events, bound from the configuration section <c>Uploadista:Events</c> and
/// validated when the host starts.
/// </summary>
public sealed class UploadistaEventsOptions
{
    /// <summary>The configuration section the options bind from: <c>Uploadista:Events</c>.</summary>
    public const string SectionName = "Uploadista:Events";

    /// <summary>
    /// Gets or sets the path prefix of the WebSocket routes <c>{prefix}/ws/upload/{uploadId}</c> and
    /// <c>{prefix}/ws/flow/{jobId}</c>. It starts with <c>/</c> and does not end with one; an empty string
    /// maps the routes at the root. The default is <c>/uploadista</c>.
    /// </summary>
    public string PathPrefix { get; set; } = "/uploadista";

    /// <summary>
    /// Gets or sets the shortest time between two progress events of one upload, or of one node of one
    /// job. Progress published sooner waits, the newest replacing older, and goes out when the interval
    /// is up; a final (100%) progress goes out at once, and started, complete and error events are
    /// never held. <see cref="TimeSpan.Zero"/> turns throttling off. The default is 100 milliseconds
    /// (10 a second).
    /// </summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets how many events may wait to be sent to one connection. When a connection falls this
    /// far behind, superseded progress events are dropped from its queue; if that is not enough, it is
    /// closed as a slow consumer (4008) and the client resumes with <c>since</c>. The default is 1024.
    /// </summary>
    public int SendQueueCapacity { get; set; } = 1024;

    /// <summary>
    /// Gets the origins (<c>https://app.example.com</c>) whose pages may open sockets; a socket from any
    /// other origin is closed with 4403 before it is subscribed. Empty (the default) allows every origin;
    /// set it in production against cross-site WebSocket hijacking. Requests without an <c>Origin</c>
    /// header (not from a browser) are allowed.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = [];

    /// <summary>
    /// Gets or sets the most sockets this instance holds; beyond it a new one is closed with 1013 (try
    /// again later). The default is 100000.
    /// </summary>
    public int MaxConnections { get; set; } = 100_000;

    /// <summary>
    /// Gets or sets the most sockets this instance holds on one upload or job; beyond it a new one is
    /// closed with 1013 (try again later). The default is 1000.
    /// </summary>
    public int MaxConnectionsPerChannel { get; set; } = 1000;

    /// <summary>
    /// Gets or sets how many uploads and jobs one multiplexed socket (<c>{prefix}/ws</c>) may subscribe
    /// to at once; a subscribe beyond it is refused with a <c>subscription_refused</c> frame (1008), and
    /// the socket stays open. Twice it is the socket's allowance of subscribe and unsubscribe messages a
    /// second (more closes it with 1008), counted apart from <see cref="MaxInboundMessagesPerSecond"/>, so
    /// a page can subscribe to all its uploads at once; it may not exceed <see cref="MaxInboundFramesPerSecond"/>, which still
    /// counts every frame. The default is 64.
    /// </summary>
    public int MaxSubscriptionsPerConnection { get; set; } = 64;

    /// <summary>
    /// Gets or sets how many messages a client may send per second; more closes the connection (1008).
    /// The default is 10.
    /// </summary>
    public int MaxInboundMessagesPerSecond { get; set; } = 10;

    /// <summary>
    /// Gets or sets how many WebSocket frames a client may send per second, control frames (pings,
    /// pongs) and fragments included; more closes the connection (1008). Where the server's transport
    /// cannot be captured (under TestServer, for one), the WebSocket answers pings without the library
    /// seeing them, and only data frames are counted. The default is 100.
    /// </summary>
    public int MaxInboundFramesPerSecond { get; set; } = 100;

    /// <summary>
    /// Gets or sets how many payload bytes a client may send per second, in all its frames; more closes
    /// the connection (1008). It must be at least <see cref="MaxInboundMessageBytes"/>. The default is 65536.
    /// </summary>
    public int MaxInboundBytesPerSecond { get; set; } = 64 * 1024;

    /// <summary>
    /// Gets or sets the largest message, in bytes, a client may send; a larger one closes the connection
    /// (1009). The default is 4096.
    /// </summary>
    public int MaxInboundMessageBytes { get; set; } = 4096;

    /// <summary>
    /// Gets or sets how often the server sends WebSocket ping frames to each connection, and a heartbeat
    /// comment on each Server-Sent Events stream (so that proxies do not time an idle one out). The
    /// default is 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how long the server waits for the answer to a ping before it drops the connection.
    /// The default is 30 seconds.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long the server waits for a client to answer its close frame before it drops
    /// the connection. The default is 5 seconds.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long a channel's retained events are kept after its last event. The default is
    /// one hour.
    /// </summary>
    public TimeSpan RetentionPeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the most events retained per channel; beyond it the oldest are dropped. The default
    /// is 1000.
    /// </summary>
    public int MaxRetainedEventsPerChannel { get; set; } = 1000;

    /// <summary>
    /// Gets or sets the most channels (uploads and jobs) the in-memory broadcaster keeps; beyond it, the
    /// one whose last event is oldest and that no socket watches is evicted (and logged). It bounds the
    /// memory of a process that sees many short-lived uploads. Redis keeps channels in Redis and ignores
    /// it. The default is 100000.
    /// </summary>
    public int MaxRetainedChannels { get; set; } = 100_000;
}
