using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Uploadista.Events;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Uploadista WebSocket endpoints, and their Server-Sent Events counterparts.</summary>
public static class UploadistaEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>{prefix}/ws/upload/{uploadId}</c> (the events of one upload, and of the jobs that belong
    /// to it), <c>{prefix}/ws/flow/{jobId}</c> (the events of one job) and <c>{prefix}/ws</c> (one socket
    /// for many uploads and jobs, subscribed by message), where <c>{prefix}</c> is
    /// <see cref="UploadistaEventsOptions.PathPrefix"/> (<c>/uploadista</c> by default), and the same
    /// streams as Server-Sent Events (<c>text/event-stream</c>) at <c>{prefix}/sse/upload/{uploadId}</c>
    /// and <c>{prefix}/sse/flow/{jobId}</c>, for clients whose network breaks WebSockets.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder, usually the <c>WebApplication</c>.</param>
    /// <returns>
    /// A builder for conventions on every endpoint, such as <c>RequireAuthorization()</c> and
    /// <c>RequireCors()</c>.
    /// </returns>
    /// <exception cref="InvalidOperationException"><c>AddUploadistaEvents()</c> was not called.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public static IEndpointConventionBuilder MapUploadistaWebSockets(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return Map(endpoints, Options(endpoints).PathPrefix);
    }

    /// <summary>
    /// Maps the same endpoints as <see cref="MapUploadistaWebSockets(IEndpointRouteBuilder)"/> under
    /// <paramref name="prefix"/> instead of <see cref="UploadistaEventsOptions.PathPrefix"/>, as
    /// <c>MapHub("/path")</c> does.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder, usually the <c>WebApplication</c>.</param>
    /// <param name="prefix">Starts with <c>/</c> and does not end with one (<c>/live</c>), or is empty for the root.</param>
    /// <returns>A builder for conventions on every endpoint.</returns>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> is not a usable prefix.</exception>
    /// <exception cref="InvalidOperationException"><c>AddUploadistaEvents()</c> was not called.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public static IEndpointConventionBuilder MapUploadistaWebSockets(this IEndpointRouteBuilder endpoints, string prefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (UploadistaEventsOptionsValidator.PathPrefixProblem(prefix) is { } problem)
        {
            throw new ArgumentException($"The prefix {problem}.", nameof(prefix));
        }

        _ = Options(endpoints);
        return Map(endpoints, prefix);
    }

    private static UploadistaEventsOptions Options(IEndpointRouteBuilder endpoints)
    {
        if (endpoints.ServiceProvider.GetService<WebSocketConnectionHandler>() is null)
        {
            throw new InvalidOperationException(UploadistaWebSocketHandler.MissingServicesMessage);
        }

        return endpoints.ServiceProvider.GetRequiredService<IOptions<UploadistaEventsOptions>>().Value;
    }

    private static RouteGroupBuilder Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        var group = endpoints.MapGroup(prefix);
        group.Map("/ws/upload/{uploadId?}", UploadistaWebSocketHandler.HandleAsync).WithDisplayName("Uploadista upload events");
        group.Map("/ws/flow/{jobId?}", UploadistaWebSocketHandler.HandleAsync).WithDisplayName("Uploadista flow events");
        group.Map("/ws", UploadistaWebSocketHandler.HandleMultiplexedAsync).WithDisplayName("Uploadista multiplexed events");

        // The same streams as Server-Sent Events, for networks that break WebSockets: mapped with them,
        // so that a client's fallback always finds them, under the same conventions.
        group.MapGet("/sse/upload/{uploadId?}", UploadistaWebSocketHandler.HandleEventStreamAsync).WithDisplayName("Uploadista upload events (Server-Sent Events)");
        group.MapGet("/sse/flow/{jobId?}", UploadistaWebSocketHandler.HandleEventStreamAsync).WithDisplayName("Uploadista flow events (Server-Sent Events)");

        // Connections live as long as the upload; a request timeout policy must not cut them.
        group.DisableRequestTimeout();
        return group;
    }
}
