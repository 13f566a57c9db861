using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>The close statuses the server sends (documented in docs/protocol.md; keep them stable).</summary>
internal static class CloseStatuses
{
    /// <summary>1000: the client closed, or the connection ended normally.</summary>
    public const WebSocketCloseStatus Normal = WebSocketCloseStatus.NormalClosure;

    /// <summary>1001: the server is shutting down; reconnect (to another instance) with <c>since</c>.</summary>
    public const WebSocketCloseStatus ShuttingDown = WebSocketCloseStatus.EndpointUnavailable;

    /// <summary>1003: the client sent a binary frame.</summary>
    public const WebSocketCloseStatus BinaryFrame = WebSocketCloseStatus.InvalidMessageType;

    /// <summary>1007: the client sent a text frame that is not valid JSON.</summary>
    public const WebSocketCloseStatus InvalidJson = WebSocketCloseStatus.InvalidPayloadData;

    /// <summary>1008: the client sent messages faster than the configured rate.</summary>
    public const WebSocketCloseStatus TooManyMessages = WebSocketCloseStatus.PolicyViolation;

    /// <summary>1009: the client sent a message larger than the configured limit.</summary>
    public const WebSocketCloseStatus TooLarge = WebSocketCloseStatus.MessageTooBig;

    /// <summary>1011: the server failed; reconnect with <c>since</c>.</summary>
    public const WebSocketCloseStatus ServerError = WebSocketCloseStatus.InternalServerError;

    /// <summary>1013: the server cannot take the connection now (too many connections, or the broker is unreachable); retry later.</summary>
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    /// <summary>4401: no valid credentials (missing, expired or tampered token); do not retry without new ones.</summary>
    public const WebSocketCloseStatus Unauthenticated = (WebSocketCloseStatus)4401;

    /// <summary>4403: refused (the origin is not allowed, or the credentials are for something else); do not retry.</summary>
    public const WebSocketCloseStatus Forbidden = (WebSocketCloseStatus)4403;

    /// <summary>4008: the client read too slowly and its queue overflowed; reconnect with <c>since</c>.</summary>
    public const WebSocketCloseStatus SlowConsumer = (WebSocketCloseStatus)4008;

    /// <summary>
    /// 4010: the channel's state was lost and it started over beneath the connection (seq would go
    /// back); reconnect without <c>since</c>.
    /// </summary>
    public const WebSocketCloseStatus StateReset = (WebSocketCloseStatus)4010;
}
