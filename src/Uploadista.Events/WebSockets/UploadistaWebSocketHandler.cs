using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Uploadista.Events;

/// <summary>
/// The WebSocket endpoint, and its Server-Sent Events counterpart, as request delegates, for mounting on
/// routes of your own instead of (or besides) the routes of <c>MapUploadistaWebSockets()</c>.
/// </summary>
/// <example>
/// <code>
/// app.Map("/events/upload/{uploadId}", UploadistaWebSocketHandler.HandleAsync);
/// app.Map("/events/flow/{jobId}", UploadistaWebSocketHandler.HandleAsync);
/// app.MapGet("/events/upload/{uploadId}/stream", UploadistaWebSocketHandler.HandleEventStreamAsync);
/// app.MapGet("/events/flow/{jobId}/stream", UploadistaWebSocketHandler.HandleEventStreamAsync);
/// </code>
/// </example>
public static class UploadistaWebSocketHandler
{
    internal const string MissingServicesMessage =
        "Uploadista.Events services are not registered. Call builder.Services.AddUploadistaEvents() in Program.cs " +
        "before mapping the WebSocket and Server-Sent Events endpoints.";

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

    /// <summary>
    /// Serves one Server-Sent Events request (<c>text/event-stream</c>), as <c>{prefix}/sse/upload/{uploadId}</c>
    /// and <c>{prefix}/sse/flow/{jobId}</c> do: the same events, admission and close events as those routes.
    /// The route must have an <c>{uploadId}</c> or a <c>{jobId}</c> parameter, as for
    /// <see cref="HandleAsync(HttpContext)"/>; map it for GET.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes when the stream has ended.</returns>
    /// <exception cref="InvalidOperationException">
    /// <c>AddUploadistaEvents()</c> was not called, or the route has neither parameter.
    /// </exception>
    public static Task HandleEventStreamAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var handler = context.RequestServices.GetService<EventStreamHandler>()
            ?? throw new InvalidOperationException(MissingServicesMessage);
        return handler.HandleAsync(context);
    }

    /// <summary>Serves the multiplexed socket of <c>{prefix}/ws</c>, mapped by <c>MapUploadistaWebSockets()</c>.</summary>
    internal static Task HandleMultiplexedAsync(HttpContext context)
        => (context.RequestServices.GetService<WebSocketConnectionHandler>() ?? throw new InvalidOperationException(MissingServicesMessage))
            .HandleMultiplexedAsync(context);
}
