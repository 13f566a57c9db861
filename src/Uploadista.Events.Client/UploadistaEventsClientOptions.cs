using System.Net.WebSockets;

namespace Uploadista.Events.Client;

/// <summary>Where and how an <see cref="UploadistaEventsClient"/> connects.</summary>
public sealed class UploadistaEventsClientOptions
{
    /// <summary>
    /// Gets or sets the server's path prefix, as mapped by <c>MapUploadistaWebSockets</c>: empty for a
    /// server mapped at the root. Defaults to <c>/uploadista</c>.
    /// </summary>
    public string PathPrefix { get; set; } = "/uploadista";

    /// <summary>
    /// Gets or sets the function that opens a WebSocket to a URI (<c>ws://</c> or <c>wss://</c>). By
    /// default a <see cref="ClientWebSocket"/> that pings every 15 seconds and drops a connection that
    /// does not answer within 30. Tests plug in <c>TestServer.CreateWebSocketClient().ConnectAsync</c>;
    /// applications can set headers, proxies or certificates on their own <see cref="ClientWebSocket"/>.
    /// A function that knows the server refused the handshake should throw
    /// <see cref="WatchRefusedException"/>; any other exception is taken for a passing failure, and the
    /// watch connects again after a delay.
    /// </summary>
    public Func<Uri, CancellationToken, Task<WebSocket>>? Connect { get; set; }

    /// <summary>
    /// Gets or sets the delay before the first reconnection attempt after a failure. Each later attempt
    /// doubles it, up to <see cref="MaxReconnectDelay"/>, and every delay is jittered (half of it to all
    /// of it), so that many clients dropped at once do not come back at once. The doubling starts over
    /// after a connection that delivered an event or stayed open 5 seconds (or MaxReconnectDelay, if shorter). Defaults to 500 ms.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets or sets the longest delay between reconnection attempts. Defaults to 30 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);
}
