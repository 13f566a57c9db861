using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Uploadista.Events;

/// <summary>
/// The WebSocket endpoint as a request delegate, for mounting on a route of your own instead of (or
/// besides) the routes of <c>MapUploadistaWebSockets()</c>.
/// </summary>
/// <example>
/// <code>
/// app.Map("/events/upload/{uploadId}", UploadistaWebSocketHandler.HandleAsync);
/// app.Map("/events/flow/{jobId}", UploadistaWebSocketHandler.HandleAsync);
/// </code>
/// </example>
public static class UploadistaWebSocketHandler
{
    internal const string MissingServicesMessage =
        "Uploadista.Events services are not registered. Call builder.Services.AddUploadistaEvents() in Program.cs " +
        "before mapping the WebSocket endpoints.";

    /// <summary>
    /// Serves one WebSocket request. The route must have an <c>{uploadId}</c> parameter (the socket gets
    /// that upload's events) or a <c>{jobId}</c> parameter (the socket gets that job's events).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes when the connection has ended.</returns>
    /// <exception cref="InvalidOperationException">
    /// <c>AddUploadistaEvents()</c> was not called, or the route has neither parameter.
    /// </exception>
    public static Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var handler = context.RequestServices.GetService<WebSocketConnectionHandler>()
            ?? throw new InvalidOperationException(MissingServicesMessage);
        return handler.HandleAsync(context);
    }

    /// <summary>Serves the multiplexed socket of <c>{prefix}/ws</c>, mapped by <c>MapUploadistaWebSockets()</c>.</summary>
    internal static Task HandleMultiplexedAsync(HttpContext context)
        => (context.RequestServices.GetService<WebSocketConnectionHandler>() ?? throw new InvalidOperationException(MissingServicesMessage))
            .HandleMultiplexedAsync(context);
}
